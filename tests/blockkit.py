"""Block Kit checks for tests: every view and message passes slack_sdk.models validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.slack.live_estimate import VIEW_PAYLOAD_FIELDS


def valid_blocks(blocks: Iterable[Mapping[str, Any]]) -> None:
    for block in blocks:
        parsed = Block.parse(dict(block))
        assert parsed is not None, block
        parsed.validate_json()


def valid_view(view: Mapping[str, Any]) -> None:
    """A view as the bot sends it (Slack's own bookkeeping fields dropped first)."""
    sent = {
        k: v
        for k, v in view.items()
        if k in (*VIEW_PAYLOAD_FIELDS, "blocks") and v not in (None, "")
    }
    View(**sent).validate_json()
    valid_blocks(view.get("blocks") or [])


def texts(blocks: Iterable[Mapping[str, Any]]) -> str:
    """Every text of `blocks`, joined by new lines (for assertions on wording)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(list(blocks))
    return "\n".join(found)
