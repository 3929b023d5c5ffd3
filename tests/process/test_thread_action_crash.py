"""A card action killed mid-way (SIGKILL while BSG holds the SMS) never sends twice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CHANNEL, SIGNING_SECRET
from tests.processes import BotProcess
from tests.slack_requests import block_action, view_submission
from tests.waiting import wait_until

UNDELIVERED = "+380972920284"  # lifecycle 4: undelivered after 15 s (0.75 s at time_scale 0.05)
MSISDN = UNDELIVERED.removeprefix("+")


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {
        "VIBER_BOT_POLL_MAX_INTERVAL": 1,
        "VIBER_BOT_RECONCILE_GRACE": 1,
        "VIBER_BOT_BSG_TIMEOUT": 20,  # BSG holds the resent SMS: the bot waits for it
    }


async def post(bot: BotProcess, request) -> None:
    response = await bot.http.post(
        f"{bot.url}/slack/events", content=request.body, headers=request.headers
    )
    assert response.status_code == 200


async def test_killed_while_bsg_holds_the_resent_sms_it_is_adopted_not_sent_again(
    bot, sim, standin
):
    await bot.start()
    await bot.command(f"send {UNDELIVERED} Held", response_url=standin.response_url())
    await wait_until(lambda: standin.channel_messages(CHANNEL), what="parent posted")
    parent = standin.channel_messages(CHANNEL)[0]
    await wait_until(
        lambda: any(
            "Undelivered" in r.get("text", "") for r in standin.thread(CHANNEL, parent["ts"])
        ),
        timeout=15,
        what="the Viber message ended undelivered",
    )
    send_id = next(
        e["value"]
        for b in parent["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == "resend_sms"
    )

    async def press_resend(response_url: str) -> None:
        await post(
            bot,
            block_action(
                SIGNING_SECRET,
                action_id="resend_sms",
                value=send_id,
                message_ts=parent["ts"],
                channel_id=CHANNEL,
                response_url=response_url,
            ),
        )

    await press_resend(standin.response_url())
    await wait_until(lambda: standin.opened_views, what="confirmation opened")
    sim.create_delay = 30.0  # BSG takes the SMS, then holds its answer while the bot dies
    confirmation = standin.view(standin.opened_views[-1]["id"])
    await post(bot, view_submission(SIGNING_SECRET, values={}, view=confirmation))
    await wait_until(lambda: sim.sms_sent_to(MSISDN) == 1, what="the SMS reached BSG")
    await bot.kill()
    sim.create_delay = 0.0

    await bot.start()
    # The restarted bot finds the SMS by its stored reference and follows it; it never resends.
    await wait_until(
        lambda: any(
            "SMS delivered" in r.get("text", "") for r in standin.thread(CHANNEL, parent["ts"])
        ),
        timeout=20,
        what="the resent SMS reported delivered",
    )
    assert sim.sms_sent_to(MSISDN) == 1
    # Pressing again after the restart does nothing either.
    url = standin.response_url()
    await press_resend(url)
    await wait_until(lambda: standin.responses_to(url), what="the second press answered")
    assert "already resent" in standin.responses_to(url)[-1]["text"]
    assert sim.sms_sent_to(MSISDN) == 1
