"""The Store's verbs beyond sends, messages and the outbox's lanes (test_store_backends.py),
each run on SQLite and on a real PostgreSQL server: lists, opt-outs, callbacks and their
secret, outbox failures, drafts, thread actions and SMS resends. Same answers on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.domain.models import DeliveryStatus
from storage.callbacks import CallbackBody
from storage.records import Acceptance
from storage.store import NewRecipient, NewSend

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A, B, C = "380972920281", "380972920282", "380972920283"


async def _send(store, n: int = 2):
    new = NewSend(
        channel_id="C1",
        user_id="U1",
        text="Your order shipped",
        sender="Acme",
        options={"content": {"sms": None}, "promotional": False},
    )
    recipients = [NewRecipient(msisdn=f"38097292{i:04d}", reference=f"ref-{i}") for i in range(n)]
    return await store.add_send(new, recipients, now=T0)


async def test_lists_are_created_filled_emptied_and_deleted(any_store):
    made = await any_store.list_add("kyiv", [A, B], user_id="U1", now=T0)
    assert (made.created, made.changed, made.unchanged, made.size) == (True, 2, 0, 2)
    again = await any_store.list_add("kyiv", [B, C], user_id="U2", now=T0 + timedelta(1))
    assert (again.created, again.changed, again.unchanged, again.size) == (False, 1, 1, 3)
    members = await any_store.list_members("kyiv")
    assert [m.msisdn for m in members] == [A, B, C]
    assert members[0].added_by == "U1" and members[0].added_at == T0
    assert await any_store.list_numbers(["kyiv", "nowhere"]) == {"kyiv": [A, B, C]}
    await any_store.list_add("lviv", [C], user_id="U1", now=T0)
    assert await any_store.list_sizes() == [("kyiv", 3), ("lviv", 1)]
    removed = await any_store.list_remove("kyiv", [A, "380000000000"], user_id="U1", now=T0)
    assert (removed.changed, removed.size) == (1, 2)
    assert await any_store.list_remove("nowhere", [A], user_id="U1", now=T0) is None
    assert await any_store.list_delete("kyiv", user_id="U1", now=T0) == 2
    assert await any_store.list_delete("kyiv", user_id="U1", now=T0) is None
    assert await any_store.list_members("kyiv") is None
    assert await any_store.list_sizes() == [("lviv", 1)]


async def test_opt_outs_are_kept_once_listed_latest_first_and_taken_back(any_store):
    assert await any_store.opt_out([A, B], user_id="U1", reason="asked", now=T0) == 2
    later = T0 + timedelta(minutes=1)
    assert await any_store.opt_out([B, C], user_id="U2", reason=None, now=later) == 1
    assert await any_store.opted_out_among([A, C, "380000000000"]) == {A, C}
    assert await any_store.optout_count() == 3
    [latest] = await any_store.latest_optouts(1)
    assert (latest.msisdn, latest.created_at, latest.user_id) == (C, later, "U2")
    everyone = [o async for o in any_store.every_optout()]
    assert sorted(o.msisdn for o in everyone) == [A, B, C]
    kept = next(o for o in everyone if o.msisdn == B)
    assert (kept.reason, kept.user_id, kept.created_at) == ("asked", "U1", T0)  # first stays
    assert await any_store.opt_in([A, "380000000000"], user_id="U1", now=later) == 1
    assert await any_store.opted_out_among([A, B]) == {B}


async def test_the_callback_secret_is_made_once_and_callback_bodies_kept(any_store):
    assert await any_store.stored_callback_secret() is None
    secret = await any_store.callback_secret(T0)
    assert secret and await any_store.callback_secret(T0 + timedelta(1)) == secret
    assert await any_store.stored_callback_secret() == secret
    _, messages = await _send(any_store)
    found = await any_store.message_by_reference("ref-1")
    assert found is not None and found.id == messages[1].id
    assert await any_store.message_by_reference("nope") is None
    bodies = [
        CallbackBody(messages[0].id, T0 + timedelta(seconds=n), "bsg", "application/json",
                     f'{{"n": {n}}}', n == 2, "delivered" if n else None)
        for n in range(3)
    ]  # fmt: skip
    await any_store.add_callback_bodies(bodies)
    assert await any_store.callback_bodies(messages[0].id) == bodies
    assert await any_store.callback_bodies(messages[0].id, limit=2) == bodies[1:]


async def test_accepted_together_and_outbox_failures_counted_until_dead(any_store):
    send, messages = await _send(any_store, 3)
    await any_store.record_acceptances(
        [
            Acceptance(m.id, f"bsg-{m.id}", Decimal("0.01"), "EUR", T0 + timedelta(seconds=15),
                       T0 + timedelta(days=1))
            for m in messages
        ],
        now=T0,
    )  # fmt: skip
    stored = await any_store.send_messages(send.id)
    assert [m.bsg_id for m in stored] == [f"bsg-{m.id}" for m in messages]
    assert all(m.status == DeliveryStatus.SENT and m.price == Decimal("0.01") for m in stored)
    item = await any_store.enqueue(channel_id="C1", kind="reply", payload={"t": 1}, now=T0)
    assert await any_store.outbox_failed(item, at=T0, error="boom") == 1
    assert await any_store.outbox_failed(item, at=T0, error="boom", count=False) == 1
    assert await any_store.outbox_failed(item, at=T0, error="boom") == 2
    await any_store.outbox_dead(item, "gave up")
    assert await any_store.outbox_dead_count() == 1


async def test_drafts_thread_actions_and_sms_resends(any_store):
    draft = await any_store.add_draft(
        token="tok", kind="review", user_id="U1", channel_id="C1", team_id=None, view_id="V1",
        payload={"text": "Hi"}, now=T0,
    )  # fmt: skip
    assert draft.payload == {"text": "Hi"} and draft.state == "pending"
    assert await any_store.claim_draft("tok", state="sent", now=T0, created_after=T0)
    assert not await any_store.claim_draft("tok", state="sent", now=T0, created_after=T0)
    assert (await any_store.get_draft("tok")).state == "sent"

    send, messages = await _send(any_store)
    claim = await any_store.claim_thread_action(send.id, "retry_failed", user_id="U1", now=T0)
    assert claim is not None and claim.state == "claimed"
    assert (
        await any_store.claim_thread_action(send.id, "retry_failed", user_id="U2", now=T0) is None
    )
    await any_store.finish_thread_action(claim.id, state="done", now=T0, detail={"n": 1})
    done = await any_store.thread_action(send.id, "retry_failed")
    assert (done.state, done.detail, done.finished_at) == ("done", {"n": 1}, T0)
    other = await any_store.claim_thread_action(send.id, "resend_sms", user_id="U1", now=T0)
    await any_store.release_thread_action(other.id)
    assert await any_store.claim_thread_action(send.id, "resend_sms", user_id="U1", now=T0)

    rows = [(m.id, m.msisdn, f"sms-{m.id}") for m in messages]
    resends = await any_store.add_sms_resends(send.id, rows, now=T0)
    assert [r.reference for r in resends] == [f"sms-{m.id}" for m in messages]
    assert await any_store.unconfirmed_sms_resends(T0) == resends
    await any_store.update_sms_resend(
        resends[0].id, bsg_id="s1", status="sent", next_poll_at=T0 + timedelta(seconds=5)
    )
    assert [r.id for r in await any_store.due_sms_resends(T0 + timedelta(seconds=5))] == [
        resends[0].id
    ]
    assert await any_store.due_sms_resends(T0) == []


async def test_messages_are_found_by_many_references_at_once(any_store):
    """What a batch of callbacks is sorted by: one query for many references, each message
    whole, a reference nobody holds left out."""
    _, messages = await _send(any_store)
    references = [m.reference for m in messages] + ["nope"]
    found = await any_store.messages_by_reference(references)
    assert sorted(found) == sorted(m.reference for m in messages)
    for message in messages:
        assert found[message.reference] == await any_store.get_message(message.id)
    assert await any_store.messages_by_reference([]) == {}


async def test_send_sizes_count_each_sends_recipients_in_one_query(any_store):
    send, messages = await _send(any_store)
    assert await any_store.send_sizes([send.id, send.id + 999]) == {send.id: len(messages)}
    assert await any_store.send_sizes([]) == {}
