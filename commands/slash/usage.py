"""`/viber help`, or anything the command does not know: usage, privately."""

from __future__ import annotations

from bot.services import Services
from bot.slack.render.private import unknown_verb, usage_text
from commands.slash.request import SlashRequest


async def answer(request: SlashRequest, deps: Services) -> None:
    text = usage_text(deps.settings.command, default_region=deps.settings.default_region)
    if request.parsed.unknown:
        text = unknown_verb(request.parsed.unknown, text)
    await request.ack(response_type="ephemeral", text=text)
