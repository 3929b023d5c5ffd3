"""The send modal's listeners: its submission, the live estimate and the review step."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from commands.modal import estimate, review, submit


def register(app: AsyncApp, deps: Services) -> None:
    submit.register(app, deps)
    estimate.register(app, deps)
    review.register(app, deps)
