"""migrate-sqlite's copy: a SQLite database's rows land in PostgreSQL with their ids, and the
PostgreSQL Store reads back the same sends, messages, history and outbox; new rows follow on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.domain.errors import StorageError
from bot.domain.models import DeliveryStatus, MessageStatus
from storage.sqlite_copy import copy_sqlite
from storage.store import NewRecipient, NewSend, Store
from tests.seeding import accepted_send

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _fill(store: Store) -> int:
    send, messages = await accepted_send(
        store,
        NewSend(channel_id="C1", user_id="U1", text="Hello", sender="Acme", dedupe_key="k"),
        [NewRecipient(msisdn=f"38097292028{i}", reference=f"ref{i}") for i in range(3)],
        now=T0,
        due_at=T0 + timedelta(seconds=15),
        bsg_id="b{i}",
        price=Decimal("0.0105"),
    )
    await store.record_poll(
        await store.get_message(messages[0].id),
        MessageStatus(bsg_id="b0", status=DeliveryStatus.DELIVERED),
        now=T0 + timedelta(seconds=20),
        next_poll_at=T0 + timedelta(seconds=40),
        final=False,
    )
    parent = await store.enqueue(
        channel_id="C1", kind="parent", payload={"send_id": send.id}, now=T0, send_id=send.id
    )
    await store.outbox_done(parent, "1700000000.000100")
    await store.set_parent_ts(send.id, "1700000000.000100")
    await store.audit(action="send", outcome="accepted", now=T0, user_id="U1", send_id=send.id)
    await store.record_sweep(
        started_at=T0, finished_at=T0, checked=3, changed=1, errors=0, last_error=None
    )
    return send.id


async def _snapshot(store: Store, send_id: int) -> dict:
    return {
        "send": await store.get_send(send_id),
        "messages": await store.send_messages(send_id),
        "history": [await store.history(m.id) for m in await store.send_messages(send_id)],
        "outbox": await store.outbox_items(),
        "audit": await store.audit_log(),
        "sweeps": await store.recent_sweeps(),
        "due": await store.due_for_poll(T0 + timedelta(minutes=1)),
    }


async def test_everything_is_copied_with_its_ids_and_new_rows_follow(tmp_path, pg_url):
    source = Store.open(tmp_path / "bot.db")
    send_id = await _fill(source)
    before = await _snapshot(source, send_id)
    await source.close()

    copied = {c.table: c.rows for c in copy_sqlite(tmp_path / "bot.db", pg_url)}
    assert copied["sends"] == 1 and copied["messages"] == 3 and copied["status_events"] == 4
    assert copied["outbox"] == 1 and copied["audit"] == 1 and copied["sweeps"] == 1

    target = Store.open(pg_url)
    try:
        assert await _snapshot(target, send_id) == before
        again, _ = await target.add_send(
            NewSend(channel_id="C1", user_id="U1", text="Next", sender="Acme"),
            [NewRecipient(msisdn="380972920289", reference="ref9")],
            now=T0,
        )
        assert again.id == send_id + 1  # the sequences continue after the copied ids
    finally:
        await target.close()


async def test_a_database_that_holds_rows_already_is_not_copied_into(tmp_path, pg_url):
    source = Store.open(tmp_path / "bot.db")
    await _fill(source)
    await source.close()
    copy_sqlite(tmp_path / "bot.db", pg_url)
    with pytest.raises(StorageError, match="already holds rows in sends"):
        copy_sqlite(tmp_path / "bot.db", pg_url)


def test_a_missing_file_is_named(tmp_path, pg_url):
    with pytest.raises(StorageError, match="no SQLite database at"):
        copy_sqlite(tmp_path / "absent.db", pg_url)
