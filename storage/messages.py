"""The messages table: one row per recipient of a send, and the poller's schedule.

About 400 lines and one subject, the SQL of this one table (one module per table, as the rest
of storage/): its reads, the poller's writes (statuses, schedule) and BSG's acceptances."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain.models import (
    DUE_COLUMNS,
    MESSAGE_COLUMNS,
    Channel,
    DeliveryStatus,
    DueMessage,
    MessageStatus,
    PolledMessage,
    StatusEvent,
    StoredMessage,
)
from storage import history, sql
from storage.backend import Connection, Row
from storage.records import Acceptance, Change, NewRecipient, Poll, dec, ts


def model(row: Row) -> StoredMessage:
    return StoredMessage.from_row(row)


# The columns of a StoredMessage, in its order: reads in bulk take rows as plain values
# (`fetch_values`) and make each model positionally (`StoredMessage.from_values`).
SELECT_MODELS = f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages"

# The due messages as a poll reads them (DueMessage's columns), oldest due first (the
# final/next_poll_at index gives the order).
_SELECT_DUE = f"SELECT {', '.join(DUE_COLUMNS)} FROM messages"
DUE_SQL = f"{_SELECT_DUE} WHERE final = 0 AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ?"


def models(rows: list[Any]) -> list[StoredMessage]:
    """`fetch_values` rows of SELECT_MODELS as models, in place: each row is dropped as its
    model is made (a sweep loads up to 50,000)."""
    make = StoredMessage.from_values
    for index, row in enumerate(rows):
        rows[index] = make(row)
    return rows


def listing_filter(
    status: DeliveryStatus | None, since: datetime | None
) -> tuple[str | None, list[Any]]:
    """The WHERE clause (or None) and parameters for listing and counting messages."""
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(status.value)
    if since is not None:
        where.append("created_at >= ?")
        params.append(ts(since))
    return (" AND ".join(where) or None), params


async def add_many(
    db: Connection, send_id: int, recipients: Sequence[NewRecipient], now: datetime
) -> None:
    await sql.insert_many(
        db,
        "messages",
        [
            {
                "send_id": send_id,
                "reference": r.reference,
                "msisdn": r.msisdn,
                "status": DeliveryStatus.PENDING.value,
                "created_at": ts(now),
                "poll_count": 0,
                "final": 0,
                "text": r.text,
                "sms_text": r.sms_text,
            }
            for r in recipients
        ],
    )


async def get(db: Connection, message_id: int) -> StoredMessage:
    return model(await sql.get(db, "messages", message_id))


async def of_send(db: Connection, send_id: int) -> list[StoredMessage]:
    return [model(row) for row in await sql.select(db, "messages", "send_id = ?", [send_id])]


async def find(db: Connection, token: str) -> StoredMessage | None:
    """A message by BSG id or by reference."""
    rows = await sql.select(
        db, "messages", "bsg_id = ? OR reference = ?", [token, token], order_by="id desc", limit=1
    )
    return model(rows[0]) if rows else None


async def by_reference(db: Connection, reference: str) -> StoredMessage | None:
    rows = await sql.select(db, "messages", "reference = ?", [reference], limit=1)
    return model(rows[0]) if rows else None


async def update(db: Connection, message_id: int, values: dict[str, Any]) -> None:
    await sql.update(db, "messages", message_id, values)


async def due(db: Connection, now: datetime, limit: int) -> list[DueMessage]:
    """Messages whose next look is due, as a poll reads them, oldest due first (the
    final/next_poll_at index)."""
    rows: list[Any] = await db.fetch_values(DUE_SQL, [ts(now), limit])
    make = DueMessage.from_values
    for index, row in enumerate(rows):  # in place, as `models`
        rows[index] = make(row)
    return rows


async def due_ids(db: Connection, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, send id) of the messages `due` would return, in the same order: a sweep's due set
    without loading the messages (they are loaded a page at a time, `by_ids`)."""
    rows = await db.fetchall(
        "SELECT id, send_id FROM messages WHERE final = 0 AND next_poll_at <= ? "
        "ORDER BY next_poll_at LIMIT ?",
        [ts(now), limit],
    )
    return [(row["id"], row["send_id"]) for row in rows]


async def _in_chunks(
    fetch: Callable[[str, Sequence[Any]], Awaitable[list[Any]]],
    sql: str,
    values: Sequence[Any],
    params: Sequence[Any] = (),
) -> list[Any]:
    """The rows of `sql`, whose `{marks}` is an `IN (...)` list, for `values` a chunk at a
    time (bound as the chunk, then `params`)."""
    rows: list[Any] = []
    for start in range(0, len(values), _IDS_PER_QUERY):
        chunk = list(values[start : start + _IDS_PER_QUERY])
        marks = ", ".join("?" for _ in chunk)
        rows += await fetch(sql.replace("{marks}", marks), [*chunk, *params])
    return rows


async def by_ids(db: Connection, ids: Sequence[int]) -> list[StoredMessage]:
    """These messages, in the order asked (a missing id is left out)."""
    rows = await _in_chunks(db.fetch_values, f"{SELECT_MODELS} WHERE id IN ({{marks}})", ids)
    found = {message.id: message for message in models(rows)}
    return [found[i] for i in ids if i in found]


async def due_by_ids(db: Connection, ids: Sequence[int], now: datetime) -> list[DueMessage]:
    """Those of these messages still due at `now`, as a poll reads them, in the order asked
    (a sweep's page: one may have been recorded meanwhile by a callback's look)."""
    rows = await _in_chunks(
        db.fetch_values,
        f"{_SELECT_DUE} WHERE id IN ({{marks}}) AND final = 0 AND next_poll_at <= ?",
        ids,
        [ts(now)],
    )
    make = DueMessage.from_values
    found = {message.id: message for message in map(make, rows)}
    return [found[i] for i in ids if i in found]


async def by_references(db: Connection, references: Sequence[str]) -> dict[str, StoredMessage]:
    """These references' messages (a reference nobody holds is left out)."""
    rows = await _in_chunks(
        db.fetch_values, f"{SELECT_MODELS} WHERE reference IN ({{marks}})", references
    )
    return {message.reference: message for message in models(rows)}


async def send_sizes(db: Connection, send_ids: Sequence[int]) -> dict[int, int]:
    """How many recipients each of these sends has (a send with none is left out)."""
    rows = await _in_chunks(
        db.fetch_values,
        "SELECT send_id, count(*) FROM messages WHERE send_id IN ({marks}) GROUP BY send_id",
        send_ids,
    )
    return dict(rows)


async def count_due(db: Connection, now: datetime) -> int:
    row = await db.fetchone(
        "SELECT count(*) AS n FROM messages WHERE final = 0 AND next_poll_at <= ?", [ts(now)]
    )
    return row["n"] if row else 0


async def unconfirmed(db: Connection, created_before: datetime) -> list[StoredMessage]:
    """Messages BSG's answer never confirmed (no id yet), older than the cutoff."""
    rows = await db.fetchall(
        "SELECT * FROM messages WHERE final = 0 AND bsg_id IS NULL AND status = ? "
        "AND created_at <= ? ORDER BY id",
        [DeliveryStatus.PENDING.value, ts(created_before)],
    )
    return [model(row) for row in rows]


async def listing(
    db: Connection,
    *,
    status: DeliveryStatus | None,
    since: datetime | None,
    latest: int | None,
) -> AsyncIterator[StoredMessage]:
    """Messages in id order; with `latest`, only the newest that many (still in id order)."""
    clause, params = listing_filter(status, since)
    if latest:
        newest = await sql.select(db, "messages", clause, params, order_by="id desc", limit=latest)
        for row in reversed(newest):
            yield model(row)
        return
    async for row in sql.stream(db, "messages", clause, params):
        yield model(row)


async def count(db: Connection, *, status: DeliveryStatus | None, since: datetime | None) -> int:
    clause, params = listing_filter(status, since)
    row = await db.fetchone(f"SELECT count(*) AS n FROM messages WHERE {clause or '1 = 1'}", params)
    return row["n"] if row else 0


def poll_update(
    message: PolledMessage,
    seen: MessageStatus | None,
    *,
    now: datetime,
    next_poll_at: datetime | None,
    final: bool,
    forced_status: DeliveryStatus | None,
) -> tuple[dict[str, Any], DeliveryStatus | None, str | None, bool, bool]:
    """What a poll changes in the row: (columns and the values `poll_update_sql` binds, new
    Viber status, raw status, Viber changed, SMS changed). Pure: the same for every backend.
    Of the row it reads the fields a DueMessage has."""
    update: dict[str, Any] = {
        "last_polled_at": ts(now),
        "next_poll_at": None if final else ts(next_poll_at),
        "final": 1 if final else 0,
    }
    new_status = forced_status
    raw = None
    if seen is not None:
        new_status = new_status or seen.status
        raw = seen.raw_status
        for key in ("time_in", "time_sent", "time_dr"):
            if getattr(seen, key) is not None:
                update[key] = ts(getattr(seen, key))
        if seen.price is not None:
            update["price"] = dec(seen.price)
            update["currency"] = seen.currency  # none: the row's own stays (_POLL_SETS)
        if seen.bsg_id and not message.bsg_id:
            update["bsg_id"] = seen.bsg_id
    viber_changed = new_status is not None and new_status != message.status
    if new_status is not None and (viber_changed or (raw and raw != message.raw_status)):
        update["status"] = new_status.value
        update["raw_status"] = raw
    sms = seen.sms if seen is not None else None
    sms_changed = sms is not None and sms.status != message.sms_status
    if sms is not None:
        update["sms_id"] = sms.bsg_id  # none: the row's own stays (_POLL_SETS)
        if sms.price is not None:
            update["sms_price"] = dec(sms.price)
            update["sms_currency"] = sms.currency or seen.currency
        if sms_changed:
            update["sms_status"] = sms.status.value
    if viber_changed or sms_changed:
        update["last_change_at"] = ts(now)
    return update, new_status, raw, viber_changed, sms_changed


# How a poll's UPDATE sets these columns: BSG's value, or when it gave none (or '') the
# row's own, so a poll need not read them first (a DueMessage has neither).
_POLL_SETS = {
    "currency": "currency = coalesce(nullif(?, ''), currency)",
    "sms_id": "sms_id = coalesce(nullif(?, ''), sms_id)",
}


@functools.cache
def poll_update_sql(columns: tuple[str, ...]) -> str:
    """The UPDATE that writes `poll_update`'s columns (their values bound in order, then the
    id). The poll count goes up in SQL: a poll need not read it, nor can a stale copy of the
    row count a look less."""
    sets = ", ".join(_POLL_SETS.get(name, f"{name} = ?") for name in columns)
    return f"UPDATE messages SET poll_count = poll_count + 1, {sets} WHERE id = ?"


async def record_poll(
    db: Connection,
    message: PolledMessage,
    seen: MessageStatus | None,
    *,
    now: datetime,
    next_poll_at: datetime | None,
    final: bool,
    forced_status: DeliveryStatus | None,
) -> list[Change]:
    """Store what a poll saw; returns the changes (one status_event each)."""
    look = Poll(message, seen, next_poll_at=next_poll_at, final=final, forced_status=forced_status)
    return await record_polls(db, [look], now=now)


async def record_polls(db: Connection, polls: Sequence[Poll], *, now: datetime) -> list[Change]:
    """Store what many polls saw, in a few statements: one `executemany` per set of changed
    columns, one for the status events; then the changed messages and their events are read
    back (two queries a page) for the notifier. Returns the changes in the order of `polls`."""
    updates: dict[tuple[str, ...], list[list[Any]]] = {}
    events: list[tuple[PolledMessage, Channel, DeliveryStatus | None]] = []
    event_rows: list[tuple[Any, ...]] = []
    observed = ts(now)
    for look in polls:
        message, seen = look.message, look.seen
        update, new_status, raw, viber_changed, sms_changed = poll_update(
            message,
            seen,
            now=now,
            next_poll_at=look.next_poll_at,
            final=look.final,
            forced_status=look.forced_status,
        )
        updates.setdefault(tuple(update), []).append([*update.values(), message.id])
        if viber_changed:
            assert new_status is not None
            events.append((message, Channel.VIBER, message.status))
            event_rows.append(
                (
                    message.id,
                    Channel.VIBER.value,
                    new_status.value,
                    raw,
                    observed,
                    ts(seen.time_dr) if seen is not None else None,
                    dec(seen.price) if seen is not None else None,
                    seen.currency if seen is not None else None,
                )
            )
        if sms_changed:
            assert seen is not None and seen.sms is not None
            sms = seen.sms
            events.append((message, Channel.SMS, message.sms_status))
            event_rows.append(
                (
                    message.id,
                    Channel.SMS.value,
                    sms.status.value,
                    sms.raw_status,
                    observed,
                    ts(sms.time_dr),
                    dec(sms.price),
                    sms.currency,
                )
            )
    for columns, rows in updates.items():
        await db.executemany(poll_update_sql(columns), rows)
    if not events:
        return []
    await db.executemany(_INSERT_EVENT, event_rows)
    changed_ids = sorted({message.id for message, _, _ in events})
    fresh = {message.id: message for message in await by_ids(db, changed_ids)}
    stored: dict[tuple[int, str], StatusEvent] = {}
    for row in await _in_chunks(
        db.fetchall,
        "SELECT * FROM status_events WHERE message_id IN ({marks}) AND observed_at = ? ORDER BY id",
        changed_ids,
        [observed],
    ):
        # The latest wins: a message looked at twice in one moment has one change a look.
        stored[(row["message_id"], row["channel"])] = StatusEvent.model_validate(dict(row))
    return [
        Change(fresh[message.id], stored[(message.id, channel.value)], previous)
        for message, channel, previous in events
    ]


_INSERT_EVENT = (
    "INSERT INTO status_events (message_id, channel, status, raw_status, observed_at, "
    "provider_time, price, currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_IDS_PER_QUERY = 500  # ids bound in one `IN (...)`: far below every backend's limit


async def reschedule_many(db: Connection, looks: Sequence[tuple[int, datetime]]) -> None:
    """Put off many messages' next looks in one statement (BSG did not answer)."""
    await db.executemany(
        "UPDATE messages SET next_poll_at = ? WHERE id = ?",
        [(ts(at), message_id) for message_id, at in looks],
    )


async def record_acceptance(
    db: Connection,
    message_id: int,
    *,
    bsg_id: str,
    price: Decimal | None,
    currency: str | None,
    now: datetime,
    next_poll_at: datetime,
    expires_at: datetime,
    status: DeliveryStatus,
) -> None:
    await update(
        db,
        message_id,
        {
            "bsg_id": bsg_id,
            "price": dec(price),
            "currency": currency,
            "status": status.value,
            "raw_status": None,
            "next_poll_at": ts(next_poll_at),
            "expires_at": ts(expires_at),
            "last_change_at": ts(now),
        },
    )
    await history.add(db, message_id, Channel.VIBER, status, None, now, None, price, currency)


async def record_acceptances(db: Connection, accepted: Sequence[Acceptance], now: datetime) -> None:
    """Many acceptances in two statements (a 10,000-recipient send answers at once)."""
    changed = ts(now)
    await db.executemany(
        "UPDATE messages SET bsg_id = ?, price = ?, currency = ?, status = ?, raw_status = NULL, "
        "next_poll_at = ?, expires_at = ?, last_change_at = ? WHERE id = ?",
        [
            (
                a.bsg_id,
                dec(a.price),
                a.currency,
                a.status.value,
                ts(a.next_poll_at),
                ts(a.expires_at),
                changed,
                a.message_id,
            )
            for a in accepted
        ],
    )
    await sql.insert_many(
        db,
        "status_events",
        [
            {
                "message_id": a.message_id,
                "channel": Channel.VIBER.value,
                "status": a.status.value,
                "raw_status": None,
                "observed_at": changed,
                "provider_time": None,
                "price": dec(a.price),
                "currency": a.currency,
            }
            for a in accepted
        ],
    )


async def record_refusal(
    db: Connection,
    message_id: int,
    *,
    status: DeliveryStatus,
    code: int | None,
    description: str | None,
    now: datetime,
) -> None:
    await update(
        db,
        message_id,
        {
            "status": status.value,
            "error_code": code,
            "error_description": description,
            "final": 1,
            "next_poll_at": None,
            "last_change_at": ts(now),
        },
    )
    await history.add(db, message_id, Channel.VIBER, status, None, now, None, None, None)
