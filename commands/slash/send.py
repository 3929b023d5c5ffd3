"""`/viber send <numbers> <text…>`: validate, check access, store, ack, then call BSG."""

from __future__ import annotations

from bot.domain.errors import AccessDenied, AllOptedOut
from bot.services import Services
from bot.slack.compose import ComposeErrors, Draft, compose
from bot.slack.render import private
from bot.slack.render.audiences import all_opted_out, skipped_note
from bot.tracking.audiences import prefetched_lists
from bot.tracking.sending import Origin
from commands.slash import confirm
from commands.slash.request import SlashRequest
from storage.store import DuplicateSubmission


async def answer(request: SlashRequest, deps: Services) -> None:
    ack, command = request.ack, request.command
    numbers, text = request.parsed.numbers, request.parsed.text
    c = deps.settings.command
    if not numbers:
        await ack(response_type="ephemeral", text=private.send_needs_numbers(c))
        return
    if not text:
        await ack(response_type="ephemeral", text=private.send_needs_text(c, numbers))
        return
    try:
        composed = compose(
            Draft(recipients=numbers, text=text),
            deps.settings,
            now=deps.clock(),
            lists=await prefetched_lists(deps.store, numbers),
        )
    except ComposeErrors as problems:
        await ack(response_type="ephemeral", text=private.nothing_sent(problems.summary()))
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
        await deps.sending.authorize(origin, len(composed.msisdns))
    except AccessDenied as denial:
        await ack(response_type="ephemeral", text=private.nothing_sent_denied(denial))
        return
    if await confirm.offer(
        ack,
        request.respond,
        numbers=numbers,
        text=text,
        composed=composed,
        origin=origin,
        deps=deps,
    ):
        return
    try:
        send = await deps.sending.submit(composed, origin)
    except DuplicateSubmission:
        await ack(response_type="ephemeral", text=private.ALREADY_RECEIVED)
        return
    except AllOptedOut as everyone:
        await ack(response_type="ephemeral", text=all_opted_out(everyone.msisdns))
        return
    skipped = len(send.options.get("opted_out", ()))
    count = len(composed.msisdns) - skipped
    await ack(
        response_type="ephemeral",
        text=private.sending_to(count) + skipped_note(skipped, composed.collapsed),
    )
    await deps.sending.deliver(send.id, submitted=send)
