"""App Home listeners: the tab, published when it opens."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from commands.app_home import opened


def register(app: AsyncApp, deps: Services) -> None:
    opened.register(app, deps)
