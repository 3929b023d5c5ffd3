"""The send modal's listeners: its submission and the live estimate."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from commands.modal import estimate, submit


def register(app: AsyncApp, deps: Services) -> None:
    submit.register(app, deps)
    estimate.register(app, deps)
