"""`/viber help`, or anything the command does not know: usage, privately."""

from __future__ import annotations

from bot.services import Services
from bot.slack.render.blocks import escape, usage_text
from commands.slash.request import SlashRequest


async def answer(request: SlashRequest, deps: Services) -> None:
    text = usage_text(deps.settings.command, default_region=deps.settings.default_region)
    if request.parsed.unknown:
        text = f"I don't know `{escape(request.parsed.unknown[:40])}`.\n" + text
    await request.ack(response_type="ephemeral", text=text)
