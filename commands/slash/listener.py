"""The slash command's one listener: parse the text, then hand it to the verb's module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from commands.ack_first import ack_first
from commands.slash import lists, new, optouts, send, status, usage
from commands.slash.parsing import parse_slash
from commands.slash.request import SlashRequest

Handler = Callable[[SlashRequest, Services], Awaitable[None]]

# Verbs as `parse_slash` names them; anything it does not know is `help`.
HANDLERS: dict[str, Handler] = {
    "new": new.answer,
    "send": send.answer,
    "status": status.answer,
    "help": usage.answer,
    "lists": lists.answer,
    "list": lists.answer,
    "optout": optouts.answer,
    "optin": optouts.answer,
    "optouts": optouts.answer,
}


def register(app: AsyncApp, deps: Services) -> None:
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        parsed = parse_slash(command.get("text"))
        request = SlashRequest(
            ack=ack, respond=respond, client=client, command=command, parsed=parsed
        )
        await HANDLERS[parsed.verb](request, deps)

    app.command(deps.settings.command)(ack_first(on_command))
