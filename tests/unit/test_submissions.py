"""Store.add_submission: a submission stored whole in one step, on SQLite and on PostgreSQL, and
SQLite's one-step transactions queued beside statement-by-statement ones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from storage.sqlite import SqliteBackend
from storage.store import DuplicateSubmission, NewRecipient, NewSend, Store, Submission

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NUMBERS = ["380972920001", "380972920002", "380972920003"]


def _plan(key: str | None = None, seen: list[set[str]] | None = None):
    """A plan storing every number not opted out; it records what it was told."""

    def plan(opted_out: set[str]) -> Submission | None:
        if seen is not None:
            seen.append(set(opted_out))
        allowed = [n for n in NUMBERS if n not in opted_out]
        if not allowed:
            return None
        return Submission(
            send=NewSend(
                channel_id="C1",
                user_id="U1",
                text="Your order shipped",
                sender="Acme",
                options={"opted_out": sorted(opted_out)},
                dedupe_key=key,
            ),
            recipients=[NewRecipient(n, f"ref-{key}-{n}") for n in allowed],
            request_json='{"messages": []}',
            audit_detail={"recipients": len(allowed)},
        )

    return plan


async def test_a_submission_is_stored_whole(any_store):
    send = await any_store.add_submission(NUMBERS, _plan("k1"), now=T0)
    assert send is not None
    assert send.created_at == T0 and send.request_json == '{"messages": []}'
    messages = await any_store.send_messages(send.id)
    assert [m.msisdn for m in messages] == NUMBERS
    assert [m.reference for m in messages] == [f"ref-k1-{n}" for n in NUMBERS]
    audit = [row for row in await any_store.audit_log() if row["send_id"] == send.id]
    assert [(row["action"], row["outcome"]) for row in audit] == [("send", "submitted")]
    assert audit[0]["detail"] == {"recipients": 3}


async def test_the_plan_hears_the_opted_out_numbers_read_in_the_same_step(any_store):
    await any_store.opt_out([NUMBERS[1]], user_id="U1", reason=None, now=T0)
    seen: list[set[str]] = []
    send = await any_store.add_submission(NUMBERS, _plan(seen=seen), now=T0)
    assert seen == [{NUMBERS[1]}]
    assert send is not None and send.options == {"opted_out": [NUMBERS[1]]}
    assert [m.msisdn for m in await any_store.send_messages(send.id)] == [NUMBERS[0], NUMBERS[2]]


async def test_nothing_is_stored_when_the_plan_stores_nothing(any_store):
    await any_store.opt_out(NUMBERS, user_id="U1", reason=None, now=T0)
    assert await any_store.add_submission(NUMBERS, _plan(), now=T0) is None
    assert await any_store.recent_sends(10) == []


async def test_the_same_submission_twice_is_refused(any_store):
    first = await any_store.add_submission(NUMBERS, _plan("k1"), now=T0)
    with pytest.raises(DuplicateSubmission) as refused:
        await any_store.add_submission(NUMBERS, _plan("k1"), now=T0)
    assert first is not None and refused.value.send.id == first.id
    assert len(await any_store.recent_sends(10)) == 1


async def test_inside_an_open_transaction_it_joins_it(any_store):
    with pytest.raises(RuntimeError):
        async with any_store.atomic():
            assert await any_store.add_submission(NUMBERS, _plan("k1"), now=T0) is not None
            raise RuntimeError("the caller's transaction fails after")
    assert await any_store.recent_sends(10) == []
    async with any_store.atomic():
        send = await any_store.add_submission(NUMBERS, _plan("k1"), now=T0)
    assert send is not None and (await any_store.get_send(send.id)).id == send.id


async def test_one_steps_and_statement_by_statement_transactions_do_not_interleave(tmp_path):
    """Steps are queued without the write lock; transactions begun meanwhile still run whole."""
    store = Store(SqliteBackend.open(tmp_path / "mixed.db"))
    try:

        async def step(i: int) -> None:
            assert await store.add_submission(NUMBERS, _plan(f"step-{i}"), now=T0) is not None

        async def transaction(i: int) -> None:
            async with store.atomic():
                await store.opted_out_among(NUMBERS)
                await asyncio.sleep(0)
                await store.audit(action="test", outcome=str(i), now=T0)
                await asyncio.sleep(0)
                await store.audit(action="test", outcome=str(i), now=T0)

        await asyncio.gather(*(step(i) if i % 2 else transaction(i) for i in range(60)))
        assert len(await store.recent_sends(100)) == 30
        log = await store.audit_log(1000)
        assert sum(1 for row in log if row["action"] == "test") == 60
        assert sum(1 for row in log if row["outcome"] == "submitted") == 30
    finally:
        await store.close()


async def test_a_step_that_awaits_anything_else_is_rolled_back(tmp_path):
    backend = SqliteBackend.open(tmp_path / "strict.db")
    try:

        async def wanders(db) -> None:
            await db.execute(
                "INSERT INTO audit (at, action, outcome, detail) VALUES ('t', 'x', 'y', '{}')"
            )
            await asyncio.sleep(0)  # not the connection's: it cannot run on the thread

        with pytest.raises(RuntimeError, match="awaited something other"):
            await backend.in_one_step(wanders)
        async with backend.read() as db:
            assert (await db.fetchone("SELECT count(*) AS n FROM audit"))["n"] == 0
        # The writer is left usable.
        async with backend.transaction() as db:
            await db.execute("SELECT 1")
    finally:
        await backend.close()
