"""Unit-test fixtures: a canned BSG answering what each test scripts; a Slack Web API client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_standin import SlackStandIn
from tests.canned_bsg import CannedBsg
from tests.conftest import BOT_TOKEN


@pytest.fixture
async def canned_bsg() -> AsyncIterator[CannedBsg]:
    """A BSG stand-in on 127.0.0.1 that answers what the test scripts (`on`, `script`)."""
    server = CannedBsg()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def web_client(standin: SlackStandIn) -> AsyncIterator[AsyncWebClient]:
    """slack_sdk's own Web API client, pointed at the stand-in with the bot token."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=standin.base_url)
    yield client
    if client.session is not None:
        await client.session.close()
