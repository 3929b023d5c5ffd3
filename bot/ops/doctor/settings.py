"""`viber-bot doctor`'s settings check: every bad setting named in one line."""

from __future__ import annotations

from pydantic import ValidationError

from bot.ops.doctor.check import Check
from bot.settings import Settings


def _setting_problems(error: ValidationError) -> str:
    """Every bad setting in one line (start-up names only the first; doctor names them all)."""
    problems = []
    for item in error.errors():
        loc = item.get("loc") or ()
        name = str(loc[0]) if loc else ""
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        if item.get("type") == "missing":
            message = "required but not set"
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems)


def check_settings() -> tuple[Settings | None, Check]:
    try:
        settings = Settings()  # type: ignore[call-arg]  # every field comes from env/.env
    except ValidationError as error:
        return None, Check(
            "settings",
            False,
            _setting_problems(error),
            "set each in the environment or in .env in the working directory (see README)",
        )
    mode = (
        "Socket Mode" if settings.socket_mode else f"HTTP mode on {settings.host}:{settings.port}"
    )
    detail = f"loaded ({mode}, command {settings.command}, sender {settings.default_sender})"
    return settings, Check("settings", True, detail)
