"""App Home: publish recent sends, poller health and the BSG balance when the tab opens."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from commands.ack_first import ack_first


def register(app: AsyncApp, deps: Services) -> None:
    @app.event("app_home_opened")
    @ack_first
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await client.views_publish(user_id=event["user"], view=await deps.home.view())
