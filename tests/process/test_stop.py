"""A stop while BSG holds the creates that commands started after their acks."""

from __future__ import annotations

import pytest

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from tests.conftest import CHANNEL
from tests.processes import BotProcess
from tests.waiting import wait_until

NUMBERS = ["+380972920280", "+380972920281", "+380972920282"]  # lifecycles: sent, ... read
STOP_CONTRACT = 5.0  # seconds from SIGTERM to exit


@pytest.fixture
def bot_settings() -> dict[str, object]:
    return {"VIBER_BOT_RECONCILE_GRACE": 600}  # the restart must not wait for the grace


async def test_sigterm_while_bsg_holds_the_creates_stops_in_time_and_each_number_gets_one(
    bot: BotProcess, sim: BsgSimulator, standin: SlackStandIn
) -> None:
    sim.create_delay = 30.0  # BSG takes each message at once, then holds its answer
    await bot.start()
    for number in NUMBERS:
        response = await bot.command(f"send {number} Held over the stop")
        assert response.status_code == 200 and "Sending to 1 recipient" in response.text
    # (The creates that meet while the first is held share a request: count numbers, not calls.)
    await wait_until(
        lambda: all(sim.sent_to(n.removeprefix("+")) == 1 for n in NUMBERS),
        10,
        "every create reached BSG",
    )
    creates = sim.create_calls

    took, code = await bot.terminate()
    assert took < STOP_CONTRACT and code == 0, (took, code)
    log = bot.log_of(1)
    # The creates are cut short quietly: no listener failure, no closed client, no traceback.
    assert "Traceback" not in log and " ERROR " not in log, log
    assert "3 delivery(ies) to BSG cut short" in log, log

    sim.create_delay = 0.0
    await bot.start()
    # The restart looks each reference up, finds it at BSG and tracks it: no second create.
    await wait_until(
        lambda: len(standin.channel_messages(CHANNEL)) == len(NUMBERS), 15, "parents posted"
    )
    assert sim.create_calls == creates
    assert all(sim.sent_to(number.removeprefix("+")) == 1 for number in NUMBERS)
