"""The send modal's listeners: its submission."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from commands.modal import submit


def register(app: AsyncApp, deps: Services) -> None:
    submit.register(app, deps)
