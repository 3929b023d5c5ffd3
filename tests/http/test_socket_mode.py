"""Socket Mode: with SLACK_APP_TOKEN set, the bot connects out and takes envelopes over it."""

from __future__ import annotations

import json

import httpx

from tests.conftest import APP_TOKEN, serving_socket_mode, socket_command
from tests.waiting import wait_until


async def test_socket_mode_send_and_health(make_settings, socket_slack, bsg, clock):
    slack = socket_slack
    settings = make_settings(
        SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="", SLACK_API_URL=slack.base_url
    )
    assert settings.socket_mode
    async with serving_socket_mode(settings, slack, clock) as address:
        ack = await socket_command(slack, "send +380972920280 Hello over a socket")
        assert "Sending to 1 recipient" in json.dumps(ack)
        await wait_until(lambda: slack.channel_messages("C123"), 4, "the parent posted")
        assert "380972920280" not in json.dumps(slack.channel_messages("C123"))
        assert bsg.create_calls == 1
        async with httpx.AsyncClient(trust_env=False) as http:
            health = await http.get(f"{address}/healthz")
            assert health.status_code == 200
            # In Socket Mode there is no HTTP endpoint for Slack's requests.
            events = await http.post(f"{address}/slack/events", content=b"{}")
            assert events.status_code in (404, 405)
