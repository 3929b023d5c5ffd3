"""Socket Mode: with SLACK_APP_TOKEN set, the bot connects out and takes envelopes over it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bot.app import ViberBot, serve
from bot.devtools.slack_standin import SlackStandIn
from tests.conftest import BOT_TOKEN

APP_TOKEN = "xapp-1-test-app-token-0123456789"


@pytest.fixture
async def slack():
    standin = SlackStandIn(token=BOT_TOKEN, app_token=APP_TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


async def test_socket_mode_send_and_health(make_settings, slack, bsg, clock):
    settings = make_settings(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")
    assert settings.socket_mode
    bot = ViberBot(settings, clock=clock)
    stop = asyncio.Event()
    address: list[str] = []
    task = asyncio.create_task(serve(bot, stop=stop, ready=address.append))
    try:
        for _ in range(200):
            if slack.socket_connected and address:
                break
            await asyncio.sleep(0.02)
        assert slack.socket_connected, "the bot never opened a Socket Mode connection"
        ack = await slack.socket_request(
            "slash_commands",
            {
                "command": "/viber",
                "text": "send +380972920280 Hello over a socket",
                "user_id": "U123",
                "channel_id": "C123",
                "team_id": "T123",
                "trigger_id": "1337.42.abc",
                "response_url": slack.response_url(),
            },
        )
        assert "Sending to 1 recipient" in json.dumps(ack)
        for _ in range(200):
            if slack.channel_messages("C123"):
                break
            await asyncio.sleep(0.02)
        assert "380972920280" not in json.dumps(slack.channel_messages("C123"))
        assert bsg.create_calls == 1
        async with httpx.AsyncClient(trust_env=False) as http:
            health = await http.get(f"{address[0]}/healthz")
            assert health.status_code == 200
            # In Socket Mode there is no HTTP endpoint for Slack's requests.
            events = await http.post(f"{address[0]}/slack/events", content=b"{}")
            assert events.status_code in (404, 405)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
