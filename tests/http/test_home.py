"""App Home through a signed `app_home_opened` event: recent sends, poller health, BSG balance."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

from slack_sdk.models.views import View

from bot.domain.models import DeliveryStatus
from storage.store import NewRecipient, NewSend
from tests import slack_requests
from tests.conftest import CHANNEL, SIGNING_SECRET, USER
from tests.seeding import accepted_send


async def open_home(app, user: str = USER) -> dict:
    """Open the Home tab as Slack does and return the view the bot published."""
    before = len(app.slack.calls_to("views.publish"))
    event = slack_requests.app_home_opened(user)
    response = await app.post(slack_requests.event_callback(SIGNING_SECRET, event))
    assert response.status_code == 200
    await app.wait_for(lambda: len(app.slack.calls_to("views.publish")) > before)
    return app.slack.published_views[user]


def home_text(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def assert_within_block_kit_limits(view: dict) -> None:
    published = {k: view[k] for k in ("type", "blocks")}
    View(**published).validate_json()  # slack_sdk's own checks of Block Kit limits
    assert len(view["blocks"]) <= 100
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10


async def test_home_shows_sends_health_and_a_cached_balance(make_bot, clock):
    app = await make_bot(VIBER_BOT_BALANCE_CACHE=300)
    await app.command("send +380972920280,+380972920284 Your parcel is on its way")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    clock.advance(16)  # ...0 delivered at 5 s, ...4 undelivered at 15 s
    send = (await app.store.recent_sends(1))[0]

    async def settled() -> bool:
        statuses = {m.status for m in await app.store.send_messages(send.id)}
        return statuses == {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED}

    await app.wait_for(settled)
    await app.sweeps_after(1)

    view = await open_home(app)
    text = home_text(view)
    assert view["type"] == "home"
    assert "delivered 1" in text and "undelivered 1" in text  # per-status counts
    assert "0.04 EUR" in text  # the send's cost: two recipients at 0.02
    assert "Your parcel is on its way" in text
    assert "380972920280" not in text and "0280" in text  # numbers masked as in the channel
    assert "last sweep" in text and re.search(r"\d+ messages? due", text)
    assert "99.96 EUR" in text  # BSG's balance after two accepted recipients
    assert app.bsg.calls["balance"] == 1
    assert_within_block_kit_limits(view)

    # Within the cache period a second open asks BSG nothing.
    app.bsg.balance = Decimal("42.5")
    again = await open_home(app)
    assert app.bsg.calls["balance"] == 1
    assert "99.96 EUR" in home_text(again)

    # After it, the balance is asked afresh.
    clock.advance(301)
    fresh = await open_home(app)
    assert app.bsg.calls["balance"] == 2
    assert "42.50 EUR" in home_text(fresh)


async def test_home_reports_poller_errors_and_an_unavailable_balance(make_bot, clock):
    app = await make_bot(VIBER_BOT_BALANCE_CACHE=0, VIBER_BOT_BSG_RETRIES=0)
    await app.command("send +380972920285 Stays sent forever")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    app.bsg.fail_next("/viber/", 10_000, status=500)
    app.bsg.fail_next("/common/balance", 10_000, status=500)
    for _ in range(2):
        clock.advance(30)
        await app.sweeps_after(1)
    view = await open_home(app)
    text = home_text(view)
    assert "Recent errors" in text and "500" in text
    assert text.count("HTTP 500") == 1  # one outage, listed once
    assert "balance:* unavailable" in text
    assert "last sweep" in text and re.search(r"\d+ messages? due", text)


async def test_home_with_many_sends_stays_within_block_kit_limits(app, clock):
    now = clock()
    long_text = "Sale! " + "<!channel> *everything* must go & more " * 40
    async with app.store.atomic():  # one transaction: quick to build
        for number in range(60):
            await accepted_send(
                app.store,
                NewSend(
                    channel_id=CHANNEL,
                    user_id=f"U{number:08d}",
                    text=long_text[:1000],
                    sender="Acme",
                ),
                [NewRecipient(f"38097{number:03d}{i:04d}", f"r{number}x{i}") for i in range(10)],
                now=now - timedelta(minutes=60 - number),
                due_at=now + timedelta(days=1),
                expires_at=now + timedelta(days=2),
                bsg_id="9{id:08d}",
            )
        for number in range(30):
            await app.store.record_sweep(
                started_at=now,
                finished_at=now,
                checked=1,
                changed=0,
                errors=1,
                last_error=f"BSG is unavailable: error {number} " + "x" * 900,
            )
    view = await open_home(app)  # the stand-in refuses views beyond Slack's limits
    assert_within_block_kit_limits(view)
    text = home_text(view)
    assert "0.20 EUR" in text  # 10 recipients at 0.02
    assert "<!channel>" not in text  # echoed text pings no one
    assert "U00000059" in text  # the newest send is listed
    assert len(app.slack.calls_to("views.publish")) == 1
