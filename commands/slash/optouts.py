"""`/viber optout <numbers> [reason…]`, `/viber optin <numbers>`, `/viber optouts`: private."""

from __future__ import annotations

from bot.domain.errors import InputError
from bot.services import Services
from bot.slack.render import private
from bot.slack.render.audiences import optin_answer, optout_answer, optout_usage, optouts_answer
from bot.slack.render.input_errors import input_problem
from bot.slack.render.text import escape
from commands.slash.parsing import first_word
from commands.slash.request import SlashRequest


async def answer(request: SlashRequest, deps: Services) -> None:
    """`optout`, `optin` or `optouts`: always a private answer."""
    ack, command = request.ack, request.command
    verb, rest = request.parsed.verb, request.parsed.text
    user_id = command.get("user_id", "")
    denial = deps.sending.read_denial(user_id, command.get("channel_id", ""))
    if denial is not None:
        await ack(response_type="ephemeral", text=escape(private.read_denied(denial)))
        return
    if verb == "optouts":
        summary = await deps.audiences.summary()
        latest = [(o.msisdn, o.created_at, o.reason) for o in summary.latest]
        await ack(response_type="ephemeral", text=optouts_answer(summary.count, latest))
        return
    if verb == "optout":
        # One token of numbers (commas between them), then the reason, as for `send`.
        numbers, reason = first_word(rest)
    else:
        numbers, reason = rest, ""
    if not numbers.strip():
        await ack(response_type="ephemeral", text=optout_usage(deps.settings.command))
        return
    try:
        if verb == "optout":
            change = await deps.audiences.opt_out(numbers, reason.strip() or None, user_id)
            text = optout_answer(
                change.changed, change.unchanged, change.invalid, reason.strip() or None
            )
        else:
            change = await deps.audiences.opt_in(numbers, user_id)
            text = optin_answer(change.changed, change.unchanged, change.invalid)
    except InputError as problem:
        text = escape(input_problem(problem))
    await ack(response_type="ephemeral", text=text)
