"""Process-test fixtures: BSG and Slack stand-ins in the test's loop; the bot runs as a process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from tests.conftest import BSG_KEY, SIGNING_SECRET
from tests.processes import BotProcess, env_for


@pytest.fixture
async def sim() -> AsyncIterator[BsgSimulator]:
    """BSG on real time, lifecycles 20x faster."""
    simulator = BsgSimulator(api_key=BSG_KEY, time_scale=0.05)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    """Settings the module's `bot` runs with besides `env_for`'s; a module overrides this."""
    return {}


@pytest.fixture
async def bot(
    tmp_path: Path, sim: BsgSimulator, standin: SlackStandIn, bot_settings: dict[str, Any]
) -> AsyncIterator[BotProcess]:
    """A `viber-bot run` process (not started yet) against `sim` and `standin`, in tmp_path."""
    env = env_for(sim, standin, tmp_path / "viber-bot.db", **bot_settings)
    process = BotProcess(env, tmp_path, SIGNING_SECRET)
    yield process
    await process.close()
