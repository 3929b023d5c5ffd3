"""The `/viber` slash command: open the modal, send at once, look up a status, or help."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import AccessDenied, BsgError, BsgNotFound, BsgRefused, explain_bsg_code
from bot.domain.models import MessageStatus
from bot.domain.phones import mask
from bot.services import Services
from bot.slack.compose import ComposeErrors, Draft, compose
from bot.slack.render.blocks import escape, send_modal, status_answer, usage_text
from bot.tracking.sending import Origin
from commands.parsing import parse_slash
from storage.store import DuplicateSubmission

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Services) -> None:
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        parsed = parse_slash(command.get("text"))
        if parsed.verb == "new":
            await ack()
            await client.views_open(
                trigger_id=command["trigger_id"],
                view=send_modal(
                    channel_id=command["channel_id"],
                    default_sender=deps.settings.default_sender,
                    command=deps.settings.command,
                    default_region=deps.settings.default_region,
                ),
            )
        elif parsed.verb == "send":
            await _send(ack, command, parsed.numbers, parsed.text, deps)
        elif parsed.verb == "status":
            await _status(ack, respond, parsed.token, command, deps)
        else:
            text = usage_text(deps.settings.command, default_region=deps.settings.default_region)
            if parsed.unknown:
                text = f"I don't know `{escape(parsed.unknown[:40])}`.\n" + text
            await ack(response_type="ephemeral", text=text)

    app.command(deps.settings.command)(on_command)


async def _send(
    ack: AsyncAck, command: dict[str, Any], numbers: str, text: str, deps: Services
) -> None:
    c = deps.settings.command
    if not numbers:
        await ack(
            response_type="ephemeral",
            text=f"Say who to send to and what: `{c} send +380972920283 Your order has shipped`",
        )
        return
    if not text:
        await ack(
            response_type="ephemeral",
            text=(
                "There is no text to send. Write it after the numbers: "
                f"`{c} send {escape(numbers[:60])} Hello`"
            ),
        )
        return
    try:
        composed = compose(Draft(recipients=numbers, text=text), deps.settings, now=deps.clock())
    except ComposeErrors as problems:
        await ack(
            response_type="ephemeral", text="Nothing was sent.\n" + escape(problems.summary())
        )
        return
    origin = Origin(
        team_id=command.get("team_id"),
        channel_id=command["channel_id"],
        user_id=command["user_id"],
        source="command",
        dedupe_key=f"command:{command.get('trigger_id')}" if command.get("trigger_id") else None,
        response_url=command.get("response_url"),
    )
    try:
        deps.sending.authorize(origin, len(composed.msisdns))
    except AccessDenied as denial:
        await ack(response_type="ephemeral", text=f"Nothing was sent. {escape(str(denial))}")
        return
    try:
        send = deps.sending.submit(composed, origin)
    except DuplicateSubmission:
        await ack(
            response_type="ephemeral", text="That command was already received; it is sent once."
        )
        return
    count = len(composed.msisdns)
    await ack(
        response_type="ephemeral",
        text=f"Sending to {count} recipient{'s' if count != 1 else ''}…",
    )
    await deps.sending.deliver(send.id)


async def _status(
    ack: AsyncAck, respond: AsyncRespond, token: str, command: dict[str, Any], deps: Services
) -> None:
    user_id = command.get("user_id", "")
    denial = deps.sending.read_denial(user_id, command.get("channel_id", ""))
    if denial is not None:
        await ack(response_type="ephemeral", text=escape(denial))
        return
    if not token:
        await ack(
            response_type="ephemeral",
            text=f"Which message? `{deps.settings.command} status <id-or-reference>`",
        )
        return
    await ack(response_type="ephemeral", text=f"Looking up `{escape(token[:64])}`…")
    stored = deps.store.find_message(token)
    history = []
    note = None
    try:
        if stored is not None and stored.bsg_id:
            status = await deps.bsg.status_by_id(stored.bsg_id)
        elif stored is not None:
            status = await deps.bsg.status_by_reference(stored.reference)
        elif token.isdigit():
            status = await deps.bsg.status_by_id(token)
        else:
            status = await deps.bsg.status_by_reference(token)
    except BsgNotFound:
        if stored is None:
            await respond(
                response_type="ephemeral", text=f"BSG has no message `{escape(token[:64])}`."
            )
            return
        status = None
        if (code := stored.error_code) is not None:
            note = f"BSG refused it (code {code}): {explain_bsg_code(code)}."
        else:
            note = "BSG has no record of it."
    except BsgRefused as refusal:
        await respond(response_type="ephemeral", text=escape(refusal.for_person()))
        return
    except BsgError:
        status = None
        note = "BSG did not answer just now; this is the last status viber-bot saw."
    if stored is not None:
        history = [(e.observed_at, e.channel, e.status) for e in deps.store.history(stored.id)]
        if status is None:
            status = MessageStatus(
                bsg_id=stored.bsg_id,
                msisdn=stored.msisdn,
                reference=stored.reference,
                status=stored.status,
                price=stored.price,
                currency=stored.currency,
            )
    assert status is not None
    owner = deps.store.get_send(stored.send_id).user_id if stored is not None else None
    if status.msisdn and owner != user_id:
        # Full numbers only for the person who sent it (CONTRACT: private answers to the sender).
        status = status.model_copy(update={"msisdn": mask(status.msisdn)})
    await respond(
        response_type="ephemeral",
        text=status_answer(query=token, status=status, history=history, note=note),
    )
