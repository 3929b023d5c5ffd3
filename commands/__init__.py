"""Slack listeners only: one package per surface (slash command, modal, App Home, the parent
card), one listener per file, each package exposing register(app, deps)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from commands import app_home, card, modal, slash


def register(app: AsyncApp, deps: Services) -> None:
    slash.register(app, deps)
    modal.register(app, deps)
    app_home.register(app, deps)
    card.register(app, deps)
