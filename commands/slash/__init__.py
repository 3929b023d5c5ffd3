"""The slash command (`/viber`): one listener that reads the verb and hands it to its module
(new, send, status, help), each answering the person who typed it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from commands.slash import confirm, listener


def register(app: AsyncApp, deps: Services) -> None:
    listener.register(app, deps)
    confirm.register(app, deps)
