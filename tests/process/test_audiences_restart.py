"""Lists and opt-outs against a real `viber-bot run` process: they survive SIGKILL and restarts,
and an opted-out number stays out of every BSG request after the restart."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from tests.conftest import BOT_TOKEN, BSG_KEY, CHANNEL, SIGNING_SECRET
from tests.processes import BotProcess, bot_env
from tests.waiting import wait_until


@pytest.fixture
async def bot(
    tmp_path: Path, sim: BsgSimulator, standin: SlackStandIn
) -> AsyncIterator[BotProcess]:
    env = bot_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        BSG_API_KEY=BSG_KEY,
        BSG_API_URL=sim.base_url,
        VIBER_BOT_DB=tmp_path / "viber-bot.db",
        VIBER_BOT_DEFAULT_SENDER="Acme",
        VIBER_BOT_POLL_INTERVAL=0.3,
        VIBER_BOT_SLACK_POST_INTERVAL=0,
        HOST="127.0.0.1",
        PORT=0,  # any free port; BotProcess reads the bound one from the log
    )
    process = BotProcess(env, tmp_path, SIGNING_SECRET)
    yield process
    await process.close()


async def private(bot: BotProcess, text: str) -> str:
    response = await bot.command(text)
    assert response.status_code == 200, response.text
    return response.json()["text"]


async def test_lists_and_optouts_survive_kill_9_and_still_apply(bot, sim, standin):
    await bot.start()
    assert "Created *@kyiv*" in await private(bot, "list add kyiv +380972920283 +380972920282")
    assert "Opted out 1 number" in await private(bot, "optout +380972920283 asked to stop")
    await bot.kill()  # no clean shutdown: whatever was acknowledged must be on disk

    await bot.start()
    shown = await private(bot, "list show kyiv")
    assert "+380972920283" in shown and "+380972920282" in shown and "2 numbers" in shown
    assert "1 number opted out" in await private(bot, "optouts")
    # A list edit does not touch the opt-out: the number is still never sent to.
    await private(bot, "list remove kyiv +380972920283")
    await private(bot, "list add kyiv +380972920283")
    answer = await private(bot, "send @kyiv,+380972920281 Hello after the crash")
    assert "Sending to 2 recipients" in answer and "1 number skipped: opted out" in answer
    await wait_until(lambda: standin.channel_messages(CHANNEL), 10, "parent posted")
    assert sorted(m.msisdn for m in sim.messages.values()) == ["380972920281", "380972920282"]
    posted = json.dumps(standin.channel_messages(CHANNEL)[-1], ensure_ascii=False)
    assert "Skipped: opted out (1)" in posted and "380972920283" not in posted

    await bot.kill()
    await bot.start()
    assert "Opted back in 1 number" in await private(bot, "optin 380972920283")
    await bot.kill()
    await bot.start()
    assert "No numbers are opted out" in await private(bot, "optouts")
