"""Process-test fixtures: BSG and Slack stand-ins in the test's loop; the bot runs as a process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from tests.conftest import BOT_TOKEN, BSG_KEY


@pytest.fixture
async def sim() -> AsyncIterator[BsgSimulator]:
    """BSG on real time, lifecycles 20x faster."""
    simulator = BsgSimulator(api_key=BSG_KEY, time_scale=0.05)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    """The Slack Web API stand-in the bot subprocess posts to."""
    slack = SlackStandIn(token=BOT_TOKEN)
    await slack.start()
    yield slack
    await slack.stop()
