"""`/viber` or `/viber new`: open the send modal with the command's trigger id."""

from __future__ import annotations

from bot.services import Services
from bot.slack.render.modal import send_modal
from commands.slash.request import SlashRequest


async def answer(request: SlashRequest, deps: Services) -> None:
    await request.ack()
    await request.client.views_open(
        trigger_id=request.command["trigger_id"],
        view=send_modal(
            channel_id=request.command["channel_id"],
            default_sender=deps.settings.default_sender,
            command=deps.settings.command,
            default_region=deps.settings.default_region,
        ),
    )
