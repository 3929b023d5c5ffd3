"""The live estimate: a change to recipients, text or SMS text updates the modal's estimate."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.services import Services
from bot.slack.render.modal import MODAL_CALLBACK_ID
from commands.ack_first import ack_first
from commands.modal.state import draft_from_view

log = logging.getLogger(__name__)

# The inputs that dispatch actions (dispatch_action); each action_id equals its block_id.
ESTIMATED_INPUTS = ("recipients", "text", "sms_text")


def register(app: AsyncApp, deps: Services) -> None:
    async def on_change(ack: AsyncAck, body: dict[str, Any]) -> None:
        # Ack first: Slack waits on nothing; counts and BSG's price follow with views.update.
        await ack()
        view = body.get("view") or {}
        if view.get("callback_id") != MODAL_CALLBACK_ID:
            return
        try:
            draft = draft_from_view((view.get("state") or {}).get("values") or {})
        except (TypeError, ValueError, OverflowError, OSError):
            return  # an unreadable field is reported on submit, field by field
        await deps.live_estimate.refresh(view, draft)

    for action_id in ESTIMATED_INPUTS:
        app.action(action_id)(ack_first(on_change))
