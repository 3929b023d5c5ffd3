"""The parent card's listeners: its action buttons and their confirmation."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from commands.card import buttons, confirm


def register(app: AsyncApp, deps: Services) -> None:
    buttons.register(app, deps)
    confirm.register(app, deps)
