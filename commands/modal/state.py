"""The send modal's state as Slack sends it, read into a Draft (for submission and estimate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.slack.compose import Draft
from bot.slack.render.modal import PROMOTIONAL_VALUE


def _value(values: dict[str, Any], block_id: str) -> Any:
    """The element state of one input block (block_id == action_id, per the contract)."""
    return (values.get(block_id) or {}).get(block_id) or {}


def draft_from_view(values: dict[str, Any]) -> Draft:
    """Read the modal's state into a Draft, whatever Slack left out for empty fields."""
    picked = _value(values, "send_at").get("selected_date_time")
    promotional = any(
        option.get("value") == PROMOTIONAL_VALUE
        for option in _value(values, "promotional").get("selected_options") or []
    )
    return Draft(
        recipients=_value(values, "recipients").get("value") or "",
        text=_value(values, "text").get("value"),
        sender=_value(values, "sender").get("value"),
        promotional=promotional,
        image_url=_value(values, "image_url").get("value"),
        button_caption=_value(values, "button_caption").get("value"),
        button_url=_value(values, "button_url").get("value"),
        sms_text=_value(values, "sms_text").get("value"),
        sms_sender=_value(values, "sms_sender").get("value"),
        send_at=datetime.fromtimestamp(int(picked), UTC) if picked else None,
        validity=_value(values, "validity").get("value"),
    )


def uploaded_file_id(values: dict[str, Any]) -> str | None:
    """The id of the file in the `recipients_file` block, if one was uploaded."""
    files = _value(values, "recipients_file").get("files") or []
    first = files[0] if files and isinstance(files[0], dict) else {}
    file_id = first.get("id")
    return file_id if isinstance(file_id, str) and file_id else None
