"""`/viber status <id-or-reference>`: the message's status asked fresh from BSG, privately."""

from __future__ import annotations

from bot.domain.errors import BsgError, BsgNotFound, BsgRefused
from bot.domain.models import MessageStatus
from bot.domain.phones import mask
from bot.services import Services
from bot.slack.render import private
from bot.slack.render.bsg_errors import refusal_for_person
from bot.slack.render.text import escape
from commands.slash.request import SlashRequest


async def answer(request: SlashRequest, deps: Services) -> None:
    ack, respond, command = request.ack, request.respond, request.command
    token = request.parsed.token
    user_id = command.get("user_id", "")
    denial = deps.sending.read_denial(user_id, command.get("channel_id", ""))
    if denial is not None:
        await ack(response_type="ephemeral", text=escape(private.read_denied(denial)))
        return
    if not token:
        await ack(
            response_type="ephemeral",
            text=private.status_needs_token(deps.settings.command),
        )
        return
    await ack(response_type="ephemeral", text=private.looking_up(token))
    stored = await deps.store.find_message(token)
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
            await respond(response_type="ephemeral", text=private.no_such_message(token))
            return
        status = None
        if (code := stored.error_code) is not None:
            note = private.refused_note(code)
        else:
            note = private.NO_RECORD_NOTE
    except BsgRefused as refusal:
        await respond(response_type="ephemeral", text=escape(refusal_for_person(refusal)))
        return
    except BsgError:
        status = None
        note = private.BSG_SILENT_NOTE
    if stored is not None:
        history = [
            (e.observed_at, e.channel, e.status) for e in await deps.store.history(stored.id)
        ]
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
    send = await deps.store.get_send(stored.send_id) if stored is not None else None
    owner = send.user_id if send is not None else None
    # What this person was sent: their own text for a send with personal texts.
    sent_text = (stored.text or send.text) if stored is not None and send is not None else None
    if status.msisdn and owner != user_id:
        # Full numbers only for the person who sent it (CONTRACT: private answers to the sender).
        status = status.model_copy(update={"msisdn": mask(status.msisdn)})
    await respond(
        response_type="ephemeral",
        text=private.status_answer(
            query=token, status=status, history=history, note=note, text=sent_text
        ),
    )
