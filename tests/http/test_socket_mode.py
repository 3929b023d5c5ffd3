"""Socket Mode: with SLACK_APP_TOKEN set, the bot connects out and takes envelopes over it."""

from __future__ import annotations

import asyncio
import json

import httpx

from bot.app import ViberBot, serve
from tests.conftest import APP_TOKEN
from tests.waiting import wait_until


async def test_socket_mode_send_and_health(make_settings, socket_slack, bsg, clock):
    slack = socket_slack
    settings = make_settings(
        SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="", SLACK_API_URL=slack.base_url
    )
    assert settings.socket_mode
    bot = ViberBot(settings, clock=clock)
    stop = asyncio.Event()
    address: list[str] = []
    task = asyncio.create_task(serve(bot, stop=stop, ready=address.append))
    try:
        await wait_until(lambda: slack.socket_connected and address, 4, "a Socket Mode connection")
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
        await wait_until(lambda: slack.channel_messages("C123"), 4, "the parent posted")
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
