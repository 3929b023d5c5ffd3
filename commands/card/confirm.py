"""The confirmation of a card action (`viber_thread_action`): act once, or say why not."""

from __future__ import annotations

import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from sqlite_utils.db import NotFoundError

from bot.services import Services
from bot.slack.render.thread_actions import (
    CONFIRM_CALLBACK_ID,
    RESEND_SMS,
    already_done,
    cannot_sms,
    not_allowed,
    nothing_sent,
    nothing_to_do,
    notice_view,
    upload_failed,
)
from bot.slack.thread_actions import ActionRefused
from commands.ack_first import ack_first

log = logging.getLogger(__name__)


def _amount(value: object) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value))
    except InvalidOperation:
        return None


def register(app: AsyncApp, deps: Services) -> None:
    actions = deps.thread_actions

    @app.view(CONFIRM_CALLBACK_ID)
    @ack_first
    async def on_confirm(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            send = await deps.store.get_send(int(meta["send_id"]))
            action = str(meta["action"])
        except (ValueError, KeyError, TypeError, NotFoundError):
            await ack()
            return
        user_id = (body.get("user") or {}).get("id", "")
        done = await actions.used(send.id, action)
        if done is not None:
            await ack(
                response_action="update", view=notice_view(already_done(action, done.user_id))
            )
            return
        await ack()
        estimate = (_amount(meta.get("amount")), meta.get("currency"))
        try:
            await actions.run(send.id, action, user_id, estimate)
        except ActionRefused as refusal:
            reason = str(refusal)
            if reason == "already":
                claimed = await deps.store.thread_action(send.id, action)
                text = already_done(action, claimed.user_id if claimed else user_id)
            elif reason == "nothing":
                text = nothing_to_do(action)
            elif reason == "not allowed":
                text = not_allowed()
            elif reason == "upload":
                text = upload_failed()
            elif action == RESEND_SMS:
                text = cannot_sms(reason)
            else:
                text = nothing_sent(reason)
            await actions.tell(send, user_id, text)
