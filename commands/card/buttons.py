"""The parent card's buttons (retry_failed, resend_sms, export_csv): check, then open the
confirmation with the count and BSG's estimate."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlite_utils.db import NotFoundError

from bot.services import Services
from bot.slack.render.thread_actions import (
    CONFIRMATION_NOT_OPENED,
    EXPORT_CSV,
    RESEND_SMS,
    THREAD_ACTIONS,
    UNKNOWN_SEND,
    already_done,
    cannot_sms,
    confirm_view,
    not_allowed,
    nothing_to_do,
)
from bot.slack.thread_actions import ActionRefused
from commands.ack_first import ack_first

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Services) -> None:
    actions = deps.thread_actions

    async def on_button(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()

        async def say(text: str) -> None:
            await respond(response_type="ephemeral", replace_original=False, text=text)

        pressed = (body.get("actions") or [{}])[0]
        action = pressed.get("action_id", "")
        user_id = (body.get("user") or {}).get("id", "")
        try:
            send = await deps.store.get_send(int(pressed.get("value") or 0))
        except (NotFoundError, ValueError):
            await say(UNKNOWN_SEND)
            return

        if not actions.may_use(user_id, send):
            await actions.audit_denied(send, action, user_id)
            await say(not_allowed())
            return
        done = await actions.used(send.id, action)
        if done is not None:
            await say(already_done(action, done.user_id))
            return
        chosen = await actions.candidates(send.id, action)
        if not chosen:
            await say(nothing_to_do(action))
            return
        if action == RESEND_SMS:
            try:
                actions.sms_route(send)
            except ActionRefused as refusal:
                await say(cannot_sms(str(refusal)))
                return
        confirmation = partial(confirm_view, action=action, send_id=send.id, count=len(chosen))
        try:
            opened = await client.views_open(
                trigger_id=body.get("trigger_id", ""),
                view=confirmation(amount=None, currency=None, checking=action != EXPORT_CSV),
            )
        except SlackApiError as error:
            # The trigger expired (Slack gives 3 s): nothing was done; the person may press again.
            log.warning("confirmation not opened: %s", error.response.get("error"))
            await say(CONFIRMATION_NOT_OPENED)
            return
        if action == EXPORT_CSV:
            return
        amount, currency = await actions.estimate(send, action, chosen)
        view = opened.get("view") or {}
        try:
            await client.views_update(
                view_id=view.get("id"),
                hash=view.get("hash"),
                view=confirmation(amount=amount, currency=currency, checking=False),
            )
        except SlackApiError as error:
            # Submitted or closed meanwhile: the estimate was not needed any more.
            log.info("confirmation not updated: %s", error.response.get("error"))

    for action_id in THREAD_ACTIONS:
        app.action(action_id)(ack_first(on_button))
