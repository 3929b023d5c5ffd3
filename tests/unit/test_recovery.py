"""Recovery of sends an earlier run left unconfirmed, against a scripted BSG on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.bsg.client import BsgClient
from bot.domain.models import Composed, DeliveryStatus, MessageContent
from bot.domain.policy import PollPolicy
from bot.metrics import Metrics
from bot.settings import load_settings
from bot.slack.notifier import Notifier
from bot.tracking.sending import Origin, SendService
from storage.store import Store
from tests.canned_bsg import Canned, CannedBsg
from tests.conftest import FakeClock

KEY = "live_recovery_key_0123456789"
MSISDN = "380972920280"
NOT_FOUND = {"error": 40, "errorDescription": "Message not found"}


def found(reference: str, bsg_id: str = "77") -> dict:
    return {"error": 0, "id": bsg_id, "reference": reference, "msisdn": MSISDN, "status": "sent"}


@pytest.fixture
async def services(canned_bsg: CannedBsg, tmp_path: Path) -> AsyncIterator[tuple]:
    """(store, the run that stored a send and died, a service for the run after it, clock)."""
    clock = FakeClock()
    settings = load_settings(
        _env_file=None,
        SLACK_BOT_TOKEN="xoxb-test-0123456789",
        SLACK_SIGNING_SECRET="secret-0123456789",
        BSG_API_KEY=KEY,
        BSG_API_URL=canned_bsg.base_url,
        VIBER_BOT_DB=str(tmp_path / "viber-bot.db"),
        VIBER_BOT_DEFAULT_SENDER="Acme",
        VIBER_BOT_RECONCILE_GRACE=600,  # recovery must not wait for it
    )
    store = Store.open(settings.db_path)
    client = BsgClient(api_key=SecretStr(KEY), base_url=canned_bsg.base_url, retries=0)
    policy = PollPolicy(base=15, factor=0.1, cap=3600, expiry_grace=3600)

    def service() -> SendService:
        return SendService(
            store=store,
            bsg=client,
            settings=settings,
            clock=clock,
            policy=policy,
            metrics=Metrics(),
            listener=Notifier(store=store, settings=settings, clock=clock),
        )

    earlier = service()
    await earlier.submit(
        Composed(msisdns=(MSISDN,), content=MessageContent(text="Hello", sender="Acme")),
        Origin(team_id="T1", channel_id="C123", user_id="U1", source="command", dedupe_key=None),
    )
    clock.advance(1)  # the restart comes a second later
    yield store, service(), clock
    await client.aclose()
    await store.close()


async def the_message(store: Store):
    [send] = await store.recent_sends(1)
    [message] = await store.send_messages(send.id)
    return send, message


async def test_a_reference_bsg_holds_is_adopted_at_once(canned_bsg, services) -> None:
    store, later, _ = services
    _, message = await the_message(store)
    canned_bsg.on("GET", f"/viber/reference/{message.reference}", found(message.reference))
    assert await later.reconcile() == 1
    send, message = await the_message(store)
    assert message.bsg_id == "77" and message.status == DeliveryStatus.SENT
    assert canned_bsg.made("POST", "/viber/create") == []
    assert [i.kind for i in await store.outbox_items(send.id)] == ["parent"]


async def test_a_reference_bsg_does_not_know_is_created_again_with_the_same_reference(
    canned_bsg, services
) -> None:
    store, later, _ = services
    _, message = await the_message(store)
    canned_bsg.on("GET", f"/viber/reference/{message.reference}", NOT_FOUND)
    canned_bsg.on(
        "POST",
        "/viber/create",
        {"result": [{"error": 0, "reference": message.reference, "id": "88", "price": 0.02}]},
    )
    assert await later.reconcile() == 1
    [create] = canned_bsg.made("POST", "/viber/create")
    assert create.json["messages"][0]["to"] == [{"msisdn": MSISDN, "reference": message.reference}]
    send, message = await the_message(store)
    assert message.bsg_id == "88" and not message.final
    assert [i.kind for i in await store.outbox_items(send.id)] == ["parent"]
    assert await later.reconcile() == 0  # settled: nothing more is asked
    assert len(canned_bsg.made("POST", "/viber/create")) == 1


async def test_code_43_on_the_create_again_means_bsg_has_it_so_it_is_looked_up_again(
    canned_bsg, services
) -> None:
    store, later, _ = services
    _, message = await the_message(store)
    path = f"/viber/reference/{message.reference}"
    # Unknown at first (the earlier run's create was still on its way), then there.
    canned_bsg.script(
        "GET", path, Canned(body=NOT_FOUND), Canned(body=found(message.reference, "99"))
    )
    canned_bsg.on(
        "POST",
        "/viber/create",
        {"result": [{"error": 43, "errorDescription": "exists", "reference": message.reference}]},
    )
    assert await later.reconcile() == 1
    _, message = await the_message(store)
    assert message.bsg_id == "99" and message.status != DeliveryStatus.REFUSED
    assert (
        len(canned_bsg.made("GET", path)) == 2
        and len(canned_bsg.made("POST", "/viber/create")) == 1
    )


async def test_bsg_unreachable_leaves_it_for_the_next_sweep_not_for_the_grace(
    canned_bsg, services
) -> None:
    store, later, clock = services
    _, message = await the_message(store)
    path = f"/viber/reference/{message.reference}"
    canned_bsg.script("GET", path, Canned(status=503), Canned(body=found(message.reference)))
    assert await later.reconcile() == 0
    assert (await the_message(store))[1].bsg_id is None
    clock.advance(0.5)  # the next sweep, long before the 600 s grace
    assert await later.reconcile() == 1
    assert (await the_message(store))[1].bsg_id == "77"


async def test_a_create_that_timed_out_in_this_run_still_waits_for_the_grace(
    canned_bsg, services
) -> None:
    store, later, clock = services
    await later.submit(
        Composed(msisdns=("380972920281",), content=MessageContent(text="Now", sender="Acme")),
        Origin(team_id="T1", channel_id="C123", user_id="U1", source="command", dedupe_key=None),
    )
    [send] = await store.recent_sends(1)
    [mine] = await store.send_messages(send.id)
    earlier_send = (await store.recent_sends(2))[1]
    [theirs] = await store.send_messages(earlier_send.id)
    canned_bsg.on("GET", f"/viber/reference/{theirs.reference}", found(theirs.reference))
    canned_bsg.on("GET", f"/viber/reference/{mine.reference}", NOT_FOUND)
    clock.advance(10)
    assert await later.reconcile() == 1  # only the earlier run's
    assert canned_bsg.made("GET", f"/viber/reference/{mine.reference}") == []
    clock.advance(timedelta(seconds=600).total_seconds())
    assert await later.reconcile() == 1
    [mine] = await store.send_messages(send.id)
    assert mine.status == DeliveryStatus.NOT_SENT
