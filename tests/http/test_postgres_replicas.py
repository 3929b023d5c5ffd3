"""The app on PostgreSQL through real signed requests: tracking as on SQLite, /healthz naming
the backend and the leases, and two replicas on one database that share the work."""

from __future__ import annotations

import json
from collections import Counter

from bot.domain.models import DeliveryStatus

NUMBERS = [f"+380972{n:03d}280" for n in range(12)]  # last digit 0: delivered, then read


async def test_tracking_on_postgres_gives_the_same_thread(make_bot, pg_url, clock):
    app = await make_bot(VIBER_BOT_DB=pg_url)
    response = await app.command("send +380972920280 Your order has shipped")
    assert response.status_code == 200
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    clock.advance(6)  # lifecycle 0: delivered after 5 s
    await app.wait_for(lambda: len(app.replies()) == 1)
    clock.advance(30)  # read after 30 s
    await app.wait_for(lambda: len(app.replies()) == 2)
    assert "Delivered" in app.replies()[0] and "Read" in app.replies()[1]
    [stored] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    assert stored.final and stored.status == DeliveryStatus.READ
    health = await app.http.get(f"{app.url}/healthz")
    body = health.json()
    assert health.status_code == 200, body
    assert body["backend"] == "postgresql" and body["database"] == "ok"
    assert body["replica"] == app.bot.replicas.replica
    assert set(body["leases"]) == {"messages", "lanes"} and "holds_leases" in body


async def test_sqlite_health_names_its_backend_and_no_leases(app):
    body = (await app.http.get(f"{app.url}/healthz")).json()
    assert body["backend"] == "sqlite"
    assert "holds_leases" not in body


async def test_two_replicas_on_one_database_share_the_work_and_double_nothing(
    make_bot, pg_url, clock
):
    first = await make_bot(VIBER_BOT_DB=pg_url, VIBER_BOT_CLAIM_BATCH=3)
    second = await make_bot(VIBER_BOT_DB=pg_url, VIBER_BOT_CLAIM_BATCH=3)
    for n, number in enumerate(NUMBERS):
        via = first if n % 2 else second  # a round-robin front
        response = await via.command(f"send {number} Parcel {n}")
        assert response.status_code == 200
    await first.wait_for(lambda: len(first.slack.channel_messages("C123")) == len(NUMBERS))
    store = first.store

    def counted(status: DeliveryStatus):
        async def all_there() -> bool:
            return await store.count_messages(status=status) == len(NUMBERS)

        return all_there

    clock.advance(6)  # lifecycle 0: delivered after 5 s ...
    await first.wait_for(counted(DeliveryStatus.DELIVERED), timeout=30)
    clock.advance(30)  # ... and read after 30 s
    await first.wait_for(counted(DeliveryStatus.READ), timeout=30)
    threads = range(len(NUMBERS))
    await first.wait_for(lambda: all(len(first.replies(index=i)) == 2 for i in threads), 20)
    await first.settle()
    await second.settle()
    # Nothing doubled: one parent per send, each status announced once per message.
    parents = first.slack.channel_messages("C123")
    assert len(parents) == len(NUMBERS)
    for index in range(len(NUMBERS)):
        replies = first.replies(index=index)
        assert Counter(replies).most_common(1)[0][1] == 1, replies
    async for message in store.messages():
        events = [(e.channel, e.status) for e in await store.history(message.id)]
        assert len(events) == len(set(events)), events
    # Both replicas worked: each claimed (and polled) some of the messages.
    assert first.bot.poller.checked_total > 0 and second.bot.poller.checked_total > 0
    assert json.dumps(parents).count("Parcel") >= len(NUMBERS)
