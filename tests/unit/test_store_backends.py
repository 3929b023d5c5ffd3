"""The Store's verbs, each run on SQLite and on a real PostgreSQL server (one parametrised
fixture): what one backend stores, the other stores and returns the same way."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.domain.models import (
    Channel,
    DeliveryStatus,
    DueMessage,
    MessageStatus,
    SendOutcome,
    SmsStatus,
)
from storage.store import DuplicateSubmission, NewRecipient, NewSend, NotFound, Poll
from tests.seeding import accepted_send

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _new(key: str | None = None, user: str = "U1", **fields) -> NewSend:
    return NewSend(
        channel_id="C1",
        user_id=user,
        text="Your order shipped",
        sender="Acme",
        options={"content": {"sms": None}, "promotional": False},
        dedupe_key=key,
        **fields,
    )


def _recipients(n: int, prefix: str = "r") -> list[NewRecipient]:
    return [NewRecipient(msisdn=f"38097292{n:04d}{i}", reference=f"{prefix}{i}") for i in range(n)]


async def _accepted(store, n: int = 3, *, prefix: str = "r", due_in: float = 0.0):
    return await accepted_send(
        store,
        _new(),
        _recipients(n, prefix),
        now=T0,
        due_at=T0 + timedelta(seconds=due_in),
        spread=timedelta(seconds=1),
        bsg_id=prefix + "-bsg-{i}",
        price=Decimal("0.0123"),
    )


async def test_a_send_and_its_recipients_round_trip(any_store):
    send, messages = await any_store.add_send(
        _new("k1", send_at=T0 + timedelta(hours=1), validity=600), _recipients(3), now=T0
    )
    assert send.outcome == SendOutcome.PENDING
    assert send.options == {"content": {"sms": None}, "promotional": False}
    assert send.send_at == T0 + timedelta(hours=1) and send.validity == 600
    assert [m.reference for m in messages] == ["r0", "r1", "r2"]
    assert all(m.status == DeliveryStatus.PENDING and m.bsg_id is None for m in messages)
    assert (await any_store.get_send(send.id)).created_at == T0
    assert (await any_store.find_send_by_dedupe("k1")).id == send.id
    assert await any_store.find_send_by_dedupe("other") is None
    await any_store.set_request_json(send.id, '{"messages": []}')
    await any_store.set_send_outcome(
        send.id, SendOutcome.REFUSED, error_code=45, error_description="bad sender"
    )
    await any_store.set_parent_ts(send.id, "1700000000.000100")
    again = await any_store.get_send(send.id)
    assert (again.outcome, again.error_code, again.parent_ts) == (
        SendOutcome.REFUSED,
        45,
        "1700000000.000100",
    )


async def test_the_same_submission_is_stored_once(any_store):
    first, _ = await any_store.add_send(_new("same"), _recipients(1), now=T0)
    with pytest.raises(DuplicateSubmission) as duplicate:
        await any_store.add_send(_new("same"), _recipients(1, "x"), now=T0)
    assert duplicate.value.send.id == first.id
    assert await any_store.count_messages() == 1


async def test_an_unknown_id_is_not_found(any_store):
    with pytest.raises(NotFound):
        await any_store.get_send(999)
    with pytest.raises(NotFound):
        await any_store.get_message(999)
    assert await any_store.find_message("nothing") is None


async def test_acceptance_and_refusal_shape_the_poll_schedule(any_store):
    send, messages = await _accepted(any_store, 3)
    await any_store.record_refusal(
        messages[2].id, status=DeliveryStatus.REFUSED, code=3, description="bad", now=T0
    )
    due = await any_store.due_for_poll(T0 + timedelta(seconds=5))
    assert [m.id for m in due] == [
        messages[0].id,
        messages[1].id,
    ]  # oldest due first; refused never
    assert await any_store.count_due(T0 + timedelta(seconds=0.5)) == 1
    assert (await any_store.find_message("r-bsg-1")).reference == "r1"
    assert (await any_store.find_message("r1")).bsg_id == "r-bsg-1"
    accepted = await any_store.get_message(messages[0].id)
    assert accepted.price == Decimal("0.0123") and accepted.status == DeliveryStatus.SENT
    assert await any_store.status_counts(send.id) == {
        DeliveryStatus.SENT: 2,
        DeliveryStatus.REFUSED: 1,
    }


async def test_unconfirmed_messages_are_those_bsg_never_confirmed(any_store):
    _, messages = await any_store.add_send(_new(), _recipients(2), now=T0)
    await any_store.record_acceptance(
        messages[0].id,
        bsg_id="b0",
        price=None,
        currency=None,
        now=T0,
        next_poll_at=T0,
        expires_at=T0 + timedelta(days=1),
    )
    assert [m.id for m in await any_store.unconfirmed(T0)] == [messages[1].id]
    assert await any_store.unconfirmed(T0 - timedelta(seconds=1)) == []


async def test_a_poll_records_changes_with_their_events_and_nothing_else(any_store):
    _, messages = await _accepted(any_store, 1)
    message = messages[0]
    quiet = await any_store.record_poll(
        message,
        MessageStatus(bsg_id="r-bsg-0", status=DeliveryStatus.SENT),
        now=T0 + timedelta(seconds=10),
        next_poll_at=T0 + timedelta(seconds=30),
        final=False,
    )
    assert quiet == []
    seen = MessageStatus(
        bsg_id="r-bsg-0",
        status=DeliveryStatus.UNDELIVERED,
        price=Decimal("0.02"),
        currency="EUR",
        sms=SmsStatus(bsg_id="s1", status=DeliveryStatus.DELIVERED, price=Decimal("0.05")),
    )
    current = await any_store.get_message(message.id)
    changes = await any_store.record_poll(
        current, seen, now=T0 + timedelta(seconds=40), next_poll_at=None, final=True
    )
    assert [(c.event.channel, c.event.status) for c in changes] == [
        (Channel.VIBER, DeliveryStatus.UNDELIVERED),
        (Channel.SMS, DeliveryStatus.DELIVERED),
    ]
    assert changes[0].previous == DeliveryStatus.SENT
    stored = await any_store.get_message(message.id)
    assert stored.final and stored.poll_count == 2 and stored.next_poll_at is None
    assert stored.sms_status == DeliveryStatus.DELIVERED and stored.sms_price == Decimal("0.05")
    history = await any_store.history(message.id)
    assert [(e.channel, e.status) for e in history] == [
        (Channel.VIBER, DeliveryStatus.SENT),
        (Channel.VIBER, DeliveryStatus.UNDELIVERED),
        (Channel.SMS, DeliveryStatus.DELIVERED),
    ]
    assert await any_store.due_for_poll(T0 + timedelta(days=2)) == []


async def test_reschedule_and_touch(any_store):
    send, messages = await _accepted(any_store, 1)
    await any_store.reschedule(messages[0].id, T0 + timedelta(minutes=5))
    assert await any_store.due_for_poll(T0 + timedelta(minutes=4)) == []
    assert len(await any_store.due_for_poll(T0 + timedelta(minutes=5))) == 1
    await any_store.touch_send([send.id], T0 + timedelta(minutes=1))
    assert (await any_store.get_send(send.id)).last_checked_at == T0 + timedelta(minutes=1)


async def test_listings_filter_count_and_keep_id_order(any_store):
    await _accepted(any_store, 3, prefix="a")
    later = T0 + timedelta(hours=1)
    send, _ = await any_store.add_send(_new(), _recipients(2, "b"), now=later)
    everything = [m.reference async for m in any_store.messages()]
    assert everything == ["a0", "a1", "a2", "b0", "b1"]
    assert [m.reference async for m in any_store.messages(latest=2)] == ["b0", "b1"]
    assert [m.reference async for m in any_store.messages(since=later)] == ["b0", "b1"]
    pending = [m.reference async for m in any_store.messages(status=DeliveryStatus.PENDING)]
    assert pending == ["b0", "b1"]
    assert await any_store.count_messages() == 5
    assert await any_store.count_messages(status=DeliveryStatus.SENT) == 3
    assert await any_store.count_messages(since=later) == 2
    assert [s.id async for s in any_store.sends_since(later)] == [send.id]
    assert [s.id for s in await any_store.recent_sends(1)] == [send.id]


async def test_the_outbox_serves_each_lane_in_order(any_store):
    send, _ = await _accepted(any_store, 1)
    first = await any_store.enqueue(
        channel_id="C1", kind="parent", payload={"send_id": send.id}, now=T0, send_id=send.id
    )
    second = await any_store.enqueue(
        channel_id="C1", kind="reply", payload={"send_id": send.id, "text": "hi"}, now=T0
    )
    other = await any_store.enqueue(channel_id="C2", kind="reply", payload={"t": 1}, now=T0)
    private = await any_store.enqueue(
        channel_id="C1", kind="ephemeral", payload={"text": "only you"}, now=T0
    )
    heads = [item.id for item in await any_store.pending_outbox()]
    assert heads == [first, other, private]  # the reply after the parent waits its turn
    assert await any_store.outbox_depth() == 4
    assert await any_store.has_pending(send.id, "parent")
    await any_store.outbox_attempt(first)
    assert not await any_store.has_pending(send.id, "parent")  # in flight now
    assert (await any_store.get_outbox(first)).in_flight
    await any_store.outbox_uncertain(first, at=T0 + timedelta(seconds=5), error="timeout")
    uncertain = await any_store.get_outbox(first)
    assert uncertain.in_flight and uncertain.attempts == 1
    assert uncertain.next_attempt_at == T0 + timedelta(seconds=5)
    await any_store.outbox_done(first, "1700000000.000200")
    assert [item.id for item in await any_store.pending_outbox()] == [second, other, private]
    await any_store.outbox_retry_later(second, at=T0, error="ratelimited")
    await any_store.outbox_dead(other, "channel_not_found")
    assert (await any_store.get_outbox(other)).state == "dead"
    assert await any_store.has_outbox(send.id, "parent")
    assert await any_store.last_parent_render(send.id) == T0
    assert [i.id for i in await any_store.outbox_items(send.id)] == [first]
    assert len(await any_store.outbox_items()) == 4
    assert (await any_store.get_outbox(second)).payload == {"send_id": send.id, "text": "hi"}


async def test_a_channels_parent_updates_are_a_lane_beside_its_posts(any_store):
    send, _ = await _accepted(any_store, 1)
    posts = [
        await any_store.enqueue(
            channel_id="C1", kind=kind, payload={"send_id": send.id}, now=T0, send_id=send.id
        )
        for kind in ("parent", "update", "reply", "update")
    ]
    parent, update, _reply, _later = posts
    # Updates are rendered when made: they need no order against the posts, only among
    # themselves.
    assert [item.id for item in await any_store.pending_outbox()] == [parent, update]


async def test_a_failed_transaction_leaves_nothing_and_savepoints_nest(any_store):
    send, _ = await any_store.add_send(_new(), _recipients(1), now=T0)
    with pytest.raises(RuntimeError):
        async with any_store.atomic():
            await any_store.enqueue(channel_id="C1", kind="reply", payload={}, now=T0)
            raise RuntimeError("boom")
    assert await any_store.outbox_depth() == 0
    async with any_store.atomic():
        await any_store.enqueue(channel_id="C1", kind="reply", payload={}, now=T0)
        with pytest.raises(RuntimeError):
            async with any_store.atomic():
                await any_store.set_parent_ts(send.id, "1.2")
                raise RuntimeError("inner")
    assert await any_store.outbox_depth() == 1
    assert (await any_store.get_send(send.id)).parent_ts is None


async def test_audit_quota_and_sweeps(any_store):
    send, messages = await any_store.add_send(_new(user="U9"), _recipients(3), now=T0)
    await any_store.record_refusal(
        messages[0].id, status=DeliveryStatus.REFUSED, code=1, description=None, now=T0
    )
    assert await any_store.recipients_sent_by("U9", T0) == 2
    assert await any_store.recipients_sent_by("U9", T0 + timedelta(seconds=1)) == 0
    await any_store.audit(
        action="send", outcome="accepted", now=T0, user_id="U9", detail={"n": 3}, send_id=send.id
    )
    log = await any_store.audit_log()
    assert log[0]["action"] == "send" and log[0]["detail"] == {"n": 3}
    for n in range(3):
        await any_store.record_sweep(
            started_at=T0 + timedelta(seconds=n),
            finished_at=T0 + timedelta(seconds=n, milliseconds=5),
            checked=n,
            changed=0,
            errors=0,
            last_error=None,
        )
    recent = await any_store.recent_sweeps(2)
    assert [s.checked for s in recent] == [2, 1]
    assert recent[0].finished_at == T0 + timedelta(seconds=2, milliseconds=5)


async def test_two_replicas_storing_the_same_submission_at_once_store_it_once(pg_url):
    import asyncio

    from storage.store import Store

    stores = [Store.open(pg_url) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(
                store.add_send(_new("race"), _recipients(1, f"p{n}"), now=T0)
                for n, store in enumerate(stores)
            ),
            return_exceptions=True,
        )
        stored = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, DuplicateSubmission)]
        assert len(stored) == 1 and len(refused) == 1, results
        assert refused[0].send.id == stored[0][0].id
        assert await stores[0].count_messages() == 1
    finally:
        for store in stores:
            await store.close()


async def test_many_polls_are_recorded_in_one_go_like_one_at_a_time(any_store):
    """record_polls (the sweep's batched path): mixed column sets, quiet and changed looks,
    an unanswered final one; changes come back in the order asked, with stored events."""
    _, messages = await _accepted(any_store, 4)
    now = T0 + timedelta(seconds=20)
    polls = [
        Poll(
            messages[0],
            MessageStatus(bsg_id="r-bsg-0", status=DeliveryStatus.SENT),
            next_poll_at=now + timedelta(seconds=15),
            final=False,
        ),
        Poll(
            messages[1],
            MessageStatus(
                bsg_id="r-bsg-1",
                status=DeliveryStatus.NOT_VIBER_USER,
                price=Decimal("0.01"),
                sms=SmsStatus(bsg_id="s1", status=DeliveryStatus.SENT),
            ),
            next_poll_at=now + timedelta(seconds=15),
            final=False,
        ),
        Poll(
            messages[2],
            MessageStatus(bsg_id="r-bsg-2", status=DeliveryStatus.READ, time_dr=now),
            next_poll_at=None,
            final=True,
        ),
        Poll(
            messages[3],
            None,
            next_poll_at=None,
            final=True,
            forced_status=DeliveryStatus.EXPIRED,
        ),
    ]
    changes = await any_store.record_polls(polls, now=now)
    assert [(c.message.id, c.event.channel, c.event.status, c.previous) for c in changes] == [
        (messages[1].id, Channel.VIBER, DeliveryStatus.NOT_VIBER_USER, DeliveryStatus.SENT),
        (messages[1].id, Channel.SMS, DeliveryStatus.SENT, None),
        (messages[2].id, Channel.VIBER, DeliveryStatus.READ, DeliveryStatus.SENT),
        (messages[3].id, Channel.VIBER, DeliveryStatus.EXPIRED, DeliveryStatus.SENT),
    ]
    for change in changes:  # the events as stored, and the messages as they are now
        assert change.event in await any_store.history(change.message.id)
        assert change.message == await any_store.get_message(change.message.id)
    assert changes[0].message.sms_id == "s1" and changes[0].message.price == Decimal("0.01")
    assert changes[2].message.final and changes[2].message.time_dr == now
    quiet = await any_store.get_message(messages[0].id)
    assert quiet.poll_count == 1 and quiet.next_poll_at == now + timedelta(seconds=15)
    assert [e.status for e in await any_store.history(messages[0].id)] == [DeliveryStatus.SENT]
    assert await any_store.record_polls([], now=now) == []


async def test_the_due_set_by_ids_then_loaded_by_page(any_store):
    _, messages = await _accepted(any_store, 3)
    await any_store.reschedule_many([(messages[0].id, T0 + timedelta(hours=1))])
    pairs = await any_store.due_ids(T0 + timedelta(seconds=5), limit=10)
    assert pairs == [(m.id, m.send_id) for m in messages[1:]]  # oldest due first
    assert pairs == [
        (m.id, m.send_id) for m in await any_store.due_for_poll(T0 + timedelta(seconds=5))
    ]
    loaded = await any_store.messages_by_id([messages[2].id, 999_999, messages[0].id])
    assert loaded == [
        await any_store.get_message(messages[2].id),
        await any_store.get_message(messages[0].id),
    ]


async def test_one_step_commits_its_verbs_together_or_none_of_them(any_store):
    """Store.in_one_step hands the work a store bound to one transaction (on SQLite one trip
    to the writer's thread): what it writes lands together, a failure leaves nothing."""
    send, _ = await _accepted(any_store, 2)

    async def both(store):
        await store.touch_send([send.id], T0 + timedelta(minutes=1))
        await store.enqueue(
            channel_id="C1", kind="reply", payload={"text": "a"}, now=T0, send_id=send.id
        )
        # The step sees its own writes.
        assert await store.has_pending(send.id, "reply")
        return await store.outbox_depth()

    assert await any_store.in_one_step(both) == 1
    assert (await any_store.get_send(send.id)).last_checked_at == T0 + timedelta(minutes=1)

    async def failing(store):
        await store.enqueue(
            channel_id="C1", kind="reply", payload={"text": "b"}, now=T0, send_id=send.id
        )
        await store.touch_send([send.id], T0 + timedelta(minutes=2))
        raise RuntimeError("the announcement failed")

    with pytest.raises(RuntimeError, match="announcement failed"):
        await any_store.in_one_step(failing)
    assert await any_store.outbox_depth() == 1
    assert (await any_store.get_send(send.id)).last_checked_at == T0 + timedelta(minutes=1)
    # The store itself is not left bound: its next verbs run as before.
    await any_store.touch_send([send.id], T0 + timedelta(minutes=3))
    assert (await any_store.get_send(send.id)).last_checked_at == T0 + timedelta(minutes=3)


async def test_one_step_inside_an_open_transaction_is_a_savepoint_of_it(any_store):
    send, _ = await _accepted(any_store, 1)

    async def failing(store):
        await store.touch_send([send.id], T0 + timedelta(minutes=2))
        raise RuntimeError("no")

    async with any_store.atomic():
        await any_store.enqueue(
            channel_id="C1", kind="reply", payload={"text": "kept"}, now=T0, send_id=send.id
        )
        with pytest.raises(RuntimeError):
            await any_store.in_one_step(failing)
    assert await any_store.outbox_depth() == 1  # the outer transaction's write stays
    assert (await any_store.get_send(send.id)).last_checked_at != T0 + timedelta(minutes=2)


def _same_fields(got, want) -> None:
    """Each of `got`'s fields equals `want`'s field of its name, of the same type; times are
    tz-aware UTC."""
    for field in dataclasses.fields(got):
        value, expected = getattr(got, field.name), getattr(want, field.name)
        assert value == expected, field.name
        assert type(value) is type(expected), field.name
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0), field.name


async def _polled_and_refused(store):
    """Two messages of one send: one polled (every column filled but a refusal's) and due in
    a minute, one refused. Returns them whole (`get_message`) and the poll's changes."""
    recipients = [
        NewRecipient(msisdn="380972920001", reference="full", text="Hi Ann", sms_text="Hi"),
        NewRecipient(msisdn="380972920002", reference="refused"),
    ]
    _, (full, refused) = await accepted_send(
        store,
        _new(),
        recipients,
        now=T0,
        due_at=T0 + timedelta(seconds=1),
        bsg_id="bulk-{i}",
        price=Decimal("0.0123000"),
    )
    at = T0 + timedelta(seconds=2, microseconds=123457)
    changes = await store.record_poll(
        full,
        MessageStatus(
            bsg_id="bulk-0",
            status=DeliveryStatus.UNDELIVERED,
            raw_status="UNDELIV",
            price=Decimal("0.0200"),
            currency="EUR",
            time_in=at,
            time_sent=at + timedelta(microseconds=1),
            time_dr=at + timedelta(microseconds=2),
            sms=SmsStatus(bsg_id="s1", status=DeliveryStatus.SENT, price=Decimal("0.05")),
        ),
        now=at,
        next_poll_at=T0 + timedelta(minutes=1, microseconds=999999),
        final=False,
    )
    await store.record_refusal(
        refused.id, status=DeliveryStatus.REFUSED, code=3, description="bad", now=T0
    )
    return await store.get_message(full.id), await store.get_message(refused.id), changes


async def test_bulk_reads_equal_whole_rows_field_by_field(any_store):
    """messages_by_id and the polls' read-back select the model's columns and build it
    positionally (StoredMessage.from_values): each field equals `get_message`'s (SELECT *, by
    name), every column filled, times tz-aware UTC and exact."""
    whole, refused, changes = await _polled_and_refused(any_store)
    empty = [f.name for f in dataclasses.fields(whole) if getattr(whole, f.name) is None]
    assert empty == ["error_code", "error_description"]  # a refusal's: the other message's
    loaded = await any_store.messages_by_id([whole.id, refused.id])
    for got, want in [(changes[0].message, whole), *zip(loaded, [whole, refused], strict=True)]:
        assert type(got) is type(want)  # whole rows, every field
        _same_fields(got, want)
    assert loaded[1].error_code == 3
    at = T0 + timedelta(seconds=2, microseconds=123457)
    times = [at + timedelta(microseconds=n) for n in range(3)]
    assert [whole.time_in, whole.time_sent, whole.time_dr, whole.last_polled_at] == [*times, at]
    assert (whole.price, whole.sms_price, whole.text) == (
        Decimal("0.0200"),
        Decimal("0.05"),
        "Hi Ann",
    )


async def test_due_messages_equal_their_whole_rows_field_by_field(any_store):
    """due_for_poll selects DueMessage's columns only: each of its fields equals the whole
    row's field of its name (`get_message`), for a row with every one of them filled and for
    one with every nullable one NULL (a message BSG never confirmed, due all the same)."""
    whole, _, _ = await _polled_and_refused(any_store)
    _, (bare,) = await any_store.add_send(_new(), _recipients(1, "bare"), now=T0)
    await any_store.reschedule(bare.id, T0 + timedelta(minutes=2))
    bare = await any_store.get_message(bare.id)
    due = await any_store.due_for_poll(T0 + timedelta(hours=1))
    assert [(type(m), m.id) for m in due] == [(DueMessage, whole.id), (DueMessage, bare.id)]
    for got, want in zip(due, [whole, bare], strict=True):
        _same_fields(got, want)
    filled = [f.name for f in dataclasses.fields(due[0]) if getattr(due[0], f.name) is None]
    nulls = [f.name for f in dataclasses.fields(due[1]) if getattr(due[1], f.name) is None]
    assert filled == []
    assert nulls == [f.name for f in dataclasses.fields(DueMessage) if f.default is None]


async def test_a_sweep_page_loads_the_still_due_as_due_messages_in_the_order_asked(any_store):
    """due_by_id (a sweep's page of `due_ids`): DueMessages equal to their whole rows, in the
    order asked; a message final or no longer due by then, or an unknown id, is left out."""
    whole, refused, _ = await _polled_and_refused(any_store)  # refused: final
    _, (bare, later) = await any_store.add_send(_new(), _recipients(2, "page"), now=T0)
    await any_store.reschedule(bare.id, T0 + timedelta(minutes=2))
    await any_store.reschedule(later.id, T0 + timedelta(hours=2))  # not due at the look
    bare = await any_store.get_message(bare.id)
    page = await any_store.due_by_id(
        [bare.id, 999_999, refused.id, later.id, whole.id], T0 + timedelta(hours=1)
    )
    assert [(type(m), m.id) for m in page] == [(DueMessage, bare.id), (DueMessage, whole.id)]
    for got, want in zip(page, [bare, whole], strict=True):
        _same_fields(got, want)
    assert await any_store.due_by_id([later.id], T0 + timedelta(hours=2)) != []


async def test_a_poll_of_a_due_message_keeps_what_bsg_leaves_out_and_counts_in_sql(any_store):
    """A DueMessage has no currency, SMS id or poll count: a poll's UPDATE keeps the row's
    currency and SMS id when BSG's answer gives none (or ''), writes them when it gives one,
    and counts the look in SQL (a stale copy polled twice counts twice)."""
    _, (message,) = await _accepted(any_store, 1)  # currency EUR
    at = T0 + timedelta(seconds=10)
    await any_store.record_poll(
        message,
        MessageStatus(status=DeliveryStatus.SENT, sms=SmsStatus(bsg_id="s1")),
        now=at,
        next_poll_at=at,
        final=False,
    )
    [due] = await any_store.due_for_poll(at)
    for currency, sms_id in [(None, None), ("", "")]:
        await any_store.record_poll(
            due,
            MessageStatus(
                status=DeliveryStatus.SENT,
                price=Decimal("0.03"),
                currency=currency,
                sms=SmsStatus(bsg_id=sms_id, status=DeliveryStatus.SENT),
            ),
            now=at,
            next_poll_at=at,
            final=False,
        )
    kept = await any_store.get_message(message.id)
    assert (kept.currency, kept.sms_id, kept.price, kept.poll_count) == (
        "EUR",
        "s1",
        Decimal("0.03"),
        3,
    )
    await any_store.record_poll(
        due,
        MessageStatus(
            status=DeliveryStatus.SENT,
            price=Decimal("0.04"),
            currency="USD",
            sms=SmsStatus(bsg_id="s2", status=DeliveryStatus.SENT),
        ),
        now=at,
        next_poll_at=at,
        final=False,
    )
    given = await any_store.get_message(message.id)
    assert (given.currency, given.sms_id, given.poll_count) == ("USD", "s2", 4)
