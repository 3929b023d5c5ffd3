"""What one Web API call carries here: its parameters, and the error Slack would answer it with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Params = dict[str, Any]
Handler = Callable[[Params], dict[str, Any]]


class SlackCallError(Exception):
    """A Web API call Slack would answer with `ok: false` and this error."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def require(params: Params, name: str, error: str | None = None) -> Any:
    value = params.get(name)
    if value in (None, ""):
        raise SlackCallError(error or "invalid_arguments", missing=name)
    return value


def text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)
