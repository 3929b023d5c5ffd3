"""Two replicas on one PostgreSQL database: a poll step on one and the outbox worker on the
other meet at the parent's queued update, and the card never stays stale."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from slack_sdk.web.async_client import AsyncWebClient

from bot.bsg.client import BsgClient
from bot.devtools.slack_standin import SlackStandIn
from bot.domain.models import DeliveryStatus, MessageContent, OutboxKind, OutboxState, Send
from bot.domain.policy import PollPolicy
from bot.metrics import Metrics
from bot.settings import Settings, load_settings
from bot.slack.notifier import Notifier
from bot.slack.outbox import OutboxWorker
from bot.slack.outbox.commit import GroupCommit
from bot.slack.render.text import status_text
from bot.tracking.poller import Poller
from bot.tracking.sending import SendService
from storage.replicas import Leases
from storage.store import Change, NewRecipient, NewSend, OutboxItem, Store
from tests.blockkit import texts
from tests.canned_bsg import CannedBsg
from tests.conftest import BOT_TOKEN, CHANNEL, FakeClock
from tests.waiting import wait_until

KEY = "live_replicas_key_0123456789"
DELIVERED = status_text(DeliveryStatus.DELIVERED)


class HeldAfterAnnouncing(Notifier):
    """The notifier, keeping the poll step's transaction open once it has queued (or found
    queued) what the step announces, until the test releases it."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.announced = asyncio.Event()
        self.release = asyncio.Event()

    async def announce(self, changes: Sequence[Change], *, now: datetime) -> int:
        queued = await super().announce(changes, now=now)
        self.announced.set()
        await self.release.wait()
        return queued


@dataclass
class Replicas:
    """The polling replica and the posting one, and a send whose card has an update queued."""

    url: str
    poll_store: Store
    worker_store: Store
    notifier: HeldAfterAnnouncing  # the polling replica's
    poller: Poller
    worker: OutboxWorker
    standin: SlackStandIn
    send: Send
    message_id: int
    update: OutboxItem  # the parent update queued, not under way

    async def pending_updates(self) -> list[OutboxItem]:
        return [
            item
            for item in await self.worker_store.outbox_items(self.send.id)
            if item.kind == OutboxKind.UPDATE
            and item.state == OutboxState.PENDING
            and not item.in_flight
        ]

    def card(self) -> str:
        assert self.send.parent_ts is not None
        shown = self.standin.message(CHANNEL, self.send.parent_ts)
        assert shown is not None
        return texts(shown["blocks"])

    async def waiting_on_a_lock(self) -> bool:
        """Some session of this database waits for a row another transaction holds."""
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = await cursor.fetchone()
        return bool(row and row[0])


def delivered(bsg_id: str, reference: str) -> dict[str, Any]:
    return {
        "error": 0,
        "id": bsg_id,
        "msisdn": "380972920280",
        "reference": reference,
        "time_dr": "2026-01-15 12:00:05",
        "status": "delivered",
        "price": 0.02,
        "currency": "EUR",
    }


async def accepted_send(store: Store, bsg_id: str, now: datetime) -> tuple[Send, int]:
    """A send of one recipient BSG took (status sent), due for a look."""
    content = MessageContent(text="Parcel", sender="Acme")
    send, [message] = await store.add_send(
        NewSend(
            channel_id=CHANNEL,
            user_id="U1",
            text="Parcel",
            sender="Acme",
            options={"content": content.model_dump(mode="json")},
        ),
        [NewRecipient("380972920280", f"ref-{bsg_id}")],
        now=now,
    )
    await store.record_acceptance(
        message.id,
        bsg_id=bsg_id,
        price=None,
        currency=None,
        now=now,
        next_poll_at=now,
        expires_at=now + timedelta(days=1),
    )
    return send, message.id


def settings_for(canned_bsg: CannedBsg, url: str) -> Settings:
    return load_settings(
        _env_file=None,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="secret-0123456789",
        BSG_API_KEY=KEY,
        BSG_API_URL=canned_bsg.base_url,
        VIBER_BOT_DB=url,
        VIBER_BOT_DEFAULT_SENDER="Acme",
        VIBER_BOT_SLACK_POST_INTERVAL=0.0,
    )


@pytest.fixture
async def replicas(
    pg_url: str, canned_bsg: CannedBsg, standin: SlackStandIn, web_client: AsyncWebClient
) -> AsyncIterator[Replicas]:
    clock = FakeClock()
    settings = settings_for(canned_bsg, pg_url)
    policy = PollPolicy(base=15, factor=0.1, cap=3600, expiry_grace=3600)
    bsg = BsgClient(api_key=SecretStr(KEY), base_url=canned_bsg.base_url, retries=0)
    poll_store = Store.open(pg_url, pool_size=4, applied_by="poller")
    worker_store = Store.open(pg_url, pool_size=4, applied_by="worker")
    notifier = HeldAfterAnnouncing(store=poll_store, settings=settings, clock=clock)
    poller = Poller(
        store=poll_store,
        bsg=bsg,
        listener=notifier,
        sending=SendService(
            store=poll_store,
            bsg=bsg,
            settings=settings,
            clock=clock,
            policy=policy,
            metrics=Metrics(),
            listener=notifier,
        ),
        settings=settings,
        clock=clock,
        policy=policy,
        metrics=Metrics(),
        replicas=Leases(
            poll_store.backend, lease_seconds=30, heartbeat_interval=1, replica="poller"
        ),
    )
    worker_notifier = Notifier(store=worker_store, settings=settings, clock=clock)
    worker = OutboxWorker(
        store=worker_store,
        client=web_client,
        notifier=worker_notifier,
        settings=settings,
        clock=clock,
        metrics=Metrics(),
        replicas=Leases(
            worker_store.backend, lease_seconds=30, heartbeat_interval=1, replica="worker"
        ),
    )
    # The send's parent is posted by the worker's replica; then an update of it is queued.
    send, message_id = await accepted_send(worker_store, "16", clock())
    canned_bsg.on("GET", "/viber/16", delivered("16", "ref-16"))
    async with worker_store.atomic():
        await worker_notifier.send_accepted(send, now=clock())
    [parent] = await worker_store.pending_outbox()
    await worker.poster.post(parent)
    async with worker_store.atomic():
        await worker_notifier.queue_parent_update(send, now=clock())
    [update] = await worker_store.pending_outbox()
    assert update.kind == OutboxKind.UPDATE
    yield Replicas(
        url=pg_url,
        poll_store=poll_store,
        worker_store=worker_store,
        notifier=notifier,
        poller=poller,
        worker=worker,
        standin=standin,
        send=await worker_store.get_send(send.id),
        message_id=message_id,
        update=update,
    )
    notifier.release.set()
    await worker.slack.close()
    await bsg.aclose()
    await poll_store.close()
    await worker_store.close()


async def done_or_waiting(task: asyncio.Task[Any], replicas: Replicas) -> None:
    """Until the task has finished, or waits on the database for a row the poll step holds."""

    async def either() -> bool:
        return task.done() or await replicas.waiting_on_a_lock()

    await wait_until(either, timeout=3.0, what="the worker finished or waiting on the poll")


async def test_an_update_the_poll_counts_on_is_rendered_after_the_poll_commits(
    replicas: Replicas,
) -> None:
    # The poll records "delivered", finds the update queued and not under way (so queues none),
    # and is held open before it commits.
    looking = asyncio.create_task(replicas.poller.look_now([replicas.message_id]))
    await asyncio.wait_for(replicas.notifier.announced.wait(), 3.0)
    # Meanwhile the other replica's worker marks that update under way and renders the card.
    posting = asyncio.create_task(replicas.worker.poster.post(replicas.update))
    await done_or_waiting(posting, replicas)
    replicas.notifier.release.set()
    changes, _ = await asyncio.wait_for(asyncio.gather(looking, posting), 3.0)
    assert [c.event.status for c in changes] == [DeliveryStatus.DELIVERED]
    # The card shows the change; no update had to be queued after it.
    assert DELIVERED in replicas.card()
    assert await replicas.pending_updates() == []


async def test_an_update_already_under_way_is_skipped_and_another_is_queued(
    replicas: Replicas,
) -> None:
    replicas.notifier.release.set()  # the poll step is not held
    # The worker's replica marks the update under way, not committed yet (its group commit).
    async with replicas.worker_store.atomic():
        await replicas.worker_store.outbox_attempt(replicas.update.id)
        # The poll waits for nothing, and counts on no update that may render without it.
        changes = await asyncio.wait_for(replicas.poller.look_now([replicas.message_id]), 3.0)
    assert [c.event.status for c in changes] == [DeliveryStatus.DELIVERED]
    [fresh] = await replicas.pending_updates()
    assert fresh.id != replicas.update.id


async def test_the_worker_marks_waiting_on_the_poll_hold_nothing_the_poll_still_needs(
    replicas: Replicas, canned_bsg: CannedBsg
) -> None:
    # A second send, in the same poll, whose parent the worker's replica is recording as posted
    # in the same group commit as it marks the first send's update under way.
    other, other_message = await accepted_send(replicas.worker_store, "17", replicas.poller.clock())
    canned_bsg.on("GET", "/viber/17", delivered("17", "ref-17"))
    looking = asyncio.create_task(replicas.poller.look_now([replicas.message_id, other_message]))
    await asyncio.wait_for(replicas.notifier.announced.wait(), 3.0)
    failures: list[BaseException] = []

    def noted(change: Callable[[Store], Awaitable[None]]) -> Callable[[Store], Awaitable[None]]:
        # The group commit tries a failed batch's changes again one by one: note the failure.
        async def run(store: Store) -> None:
            try:
                await change(store)
            except Exception as error:
                failures.append(error)
                raise

        return run

    commit = GroupCommit(replicas.worker_store)
    marks = asyncio.ensure_future(
        asyncio.gather(
            commit.write(noted(lambda store: store.set_parent_ts(other.id, "1700000000.000900"))),
            commit.write(noted(lambda store: store.outbox_attempt(replicas.update.id))),
        )
    )
    await done_or_waiting(marks, replicas)
    replicas.notifier.release.set()
    await asyncio.wait_for(asyncio.gather(looking, marks), 3.0)
    assert failures == []  # no deadlock: neither transaction was chosen to fail
    assert (await replicas.worker_store.get_outbox(replicas.update.id)).in_flight


async def test_two_polls_of_one_send_both_count_on_the_update_queued(replicas: Replicas) -> None:
    replicas.notifier.release.set()  # the poll step is not held
    # Another replica's poll step, of another message of the same send, holds the queued
    # update it counts on (its transaction still open).
    async with replicas.worker_store.atomic():
        assert await replicas.worker_store.has_pending(replicas.send.id, OutboxKind.UPDATE)
        changes = await asyncio.wait_for(replicas.poller.look_now([replicas.message_id]), 3.0)
    assert [c.event.status for c in changes] == [DeliveryStatus.DELIVERED]
    # Both count on the one update (held shared): no second chat.update is queued.
    assert [u.id for u in await replicas.pending_updates()] == [replicas.update.id]
