"""Lists and opt-outs against a real `viber-bot run` process: they survive SIGKILL and restarts,
and an opted-out number stays out of every BSG request after the restart."""

from __future__ import annotations

import json

from tests.conftest import CHANNEL
from tests.processes import BotProcess
from tests.waiting import wait_until


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
