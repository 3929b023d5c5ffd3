"""The send modal's submission (`callback_id` viber_send): validate, store, ack, send."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import AccessDenied, AllOptedOut
from bot.services import Services
from bot.slack.compose import ComposeErrors
from bot.slack.render import private
from bot.slack.render.audiences import all_opted_out
from bot.slack.render.modal import MODAL_CALLBACK_ID, modal_channel
from bot.tracking.sending import Origin
from commands.ack_first import ack_first
from commands.modal.recipients import compose_submission
from commands.modal.review import offer_review
from commands.modal.state import draft_from_view, uploaded_file_id
from storage.store import DuplicateSubmission

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Services) -> None:
    @app.view(MODAL_CALLBACK_ID)
    @ack_first
    async def on_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        values = view.get("state", {}).get("values", {})
        try:
            draft = draft_from_view(values)
        except (TypeError, ValueError, OverflowError, OSError):
            await ack(response_action="errors", errors={"send_at": private.UNREADABLE_TIME})
            return
        try:
            composed = await compose_submission(values, draft, client, deps)
        except ComposeErrors as problems:
            await ack(response_action="errors", errors=problems.errors)
            return
        channel_id = modal_channel(view.get("private_metadata") or "")
        if not channel_id:
            await ack(
                response_action="errors",
                errors={"recipients": private.MODAL_WITHOUT_CHANNEL},
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
            await deps.sending.authorize(origin, len(composed.msisdns))
        except AccessDenied as denial:
            await ack(response_action="errors", errors={"recipients": private.denied(denial)})
            return
        if await offer_review(ack, client, view, draft, composed, origin, deps):
            return
        try:
            send = await deps.sending.submit(composed, origin)
        except DuplicateSubmission as duplicate:
            log.info(
                "view %s submitted again; send %s already holds it",
                view.get("id"),
                duplicate.send.id,
            )
            await ack()
            return
        except AllOptedOut as everyone:
            # Kept open with the reason on the field, and told privately in the channel too.
            field = "recipients_file" if uploaded_file_id(values) else "recipients"
            text = all_opted_out(everyone.msisdns)
            await ack(response_action="errors", errors={field: text})
            await client.chat_postEphemeral(channel=channel_id, user=origin.user_id, text=text)
            return
        await ack()
        # The card shows the live estimate's price until BSG's own prices arrive.
        priced = deps.estimates.cached(deps.estimates.count(draft), draft)
        if priced is not None and priced.viber_price is not None:
            await deps.store.set_send_option(
                send.id,
                "estimate",
                {"amount": str(priced.cost), "currency": priced.currency},
            )
        await deps.sending.deliver(send.id)
