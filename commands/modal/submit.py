"""The send modal's submission (`callback_id` viber_send): validate, store, ack, send."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain.errors import AccessDenied
from bot.services import Services
from bot.slack.compose import ComposeErrors, Draft, compose
from bot.slack.render.blocks import MODAL_CALLBACK_ID, PROMOTIONAL_VALUE, modal_channel
from bot.tracking.sending import Origin
from storage.store import DuplicateSubmission

log = logging.getLogger(__name__)


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


def register(app: AsyncApp, deps: Services) -> None:
    @app.view(MODAL_CALLBACK_ID)
    async def on_submit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            draft = draft_from_view(view.get("state", {}).get("values", {}))
        except (TypeError, ValueError, OverflowError, OSError):
            await ack(response_action="errors", errors={"send_at": "That time cannot be read."})
            return
        try:
            composed = compose(draft, deps.settings, now=deps.clock())
        except ComposeErrors as problems:
            await ack(response_action="errors", errors=problems.errors)
            return
        channel_id = modal_channel(view.get("private_metadata") or "")
        if not channel_id:
            await ack(
                response_action="errors",
                errors={"recipients": "Open this form with the slash command in a channel."},
            )
            return
        user = body.get("user") or {}
        origin = Origin(
            team_id=(body.get("team") or {}).get("id"),
            channel_id=channel_id,
            user_id=user.get("id", ""),
            source="modal",
            dedupe_key=f"view:{view.get('id')}" if view.get("id") else None,
        )
        try:
            deps.sending.authorize(origin, len(composed.msisdns))
        except AccessDenied as denial:
            await ack(response_action="errors", errors={"recipients": str(denial)})
            return
        try:
            send = deps.sending.submit(composed, origin)
        except DuplicateSubmission as duplicate:
            log.info(
                "view %s submitted again; send %s already holds it",
                view.get("id"),
                duplicate.send.id,
            )
            await ack()
            return
        await ack()
        await deps.sending.deliver(send.id)
