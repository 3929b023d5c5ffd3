"""The outbox table: Slack posts queued in the transaction that made the change they announce."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage import sql
from storage.backend import Connection, Row
from storage.records import OutboxItem, from_row, parse_dt, ts


def model(row: Row) -> OutboxItem:
    return from_row(
        OutboxItem,
        row,
        payload=json.loads(row["payload"]),
        in_flight=bool(row["in_flight"]),
        next_attempt_at=parse_dt(row["next_attempt_at"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


async def enqueue(
    db: Connection,
    *,
    channel_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    send_id: int | None,
) -> int:
    return await sql.insert(
        db,
        "outbox",
        {
            "send_id": send_id,
            "channel_id": channel_id,
            "kind": kind,
            "payload": json.dumps(payload, default=str),
            "state": "pending",
            "attempts": 0,
            "created_at": ts(now),
            "next_attempt_at": ts(now),
        },
    )


async def has_pending(db: Connection, send_id: int, kind: str, *, hold: bool = False) -> bool:
    """`hold` (PostgreSQL, in a transaction): the row found is held until it ends (shared:
    two polls of one send on two replicas may both hold it, and neither queues another), and
    one being marked under way (the outbox's UPDATE holds it) is not found."""
    row = await db.fetchone(
        "SELECT 1 AS found FROM outbox WHERE send_id = ? AND kind = ? AND state = 'pending' "
        "AND in_flight = 0 LIMIT 1" + (" FOR SHARE SKIP LOCKED" if hold else ""),
        [send_id, kind],
    )
    return row is not None


async def has_any(db: Connection, send_id: int, kind: str) -> bool:
    row = await db.fetchone(
        "SELECT 1 AS found FROM outbox WHERE send_id = ? AND kind = ? LIMIT 1", [send_id, kind]
    )
    return row is not None


async def last_parent_render(db: Connection, send_id: int) -> datetime | None:
    row = await db.fetchone(
        "SELECT max(created_at) AS at FROM outbox "
        "WHERE send_id = ? AND kind IN ('parent', 'update')",
        [send_id],
    )
    return parse_dt(row["at"]) if row else None


async def pending(db: Connection, limit: int) -> list[OutboxItem]:
    """The next post of each lane, in id order: per channel the oldest pending post (posts in
    a channel go in order) and the oldest pending parent update (an update is rendered when it
    is made, so it needs no order against the posts), and every pending private answer."""
    rows = await sql.select(
        db,
        "outbox",
        "state = 'pending' AND (kind = 'ephemeral' OR id IN ("
        "SELECT min(id) FROM outbox WHERE state = 'pending' AND kind != 'ephemeral' "
        "GROUP BY channel_id, kind = 'update'))",
        limit=limit,
    )
    return [model(row) for row in rows]


async def get(db: Connection, item_id: int) -> OutboxItem:
    return model(await sql.get(db, "outbox", item_id))


async def attempt(db: Connection, item_id: int) -> None:
    await db.execute(
        "UPDATE outbox SET attempts = attempts + 1, in_flight = 1 WHERE id = ?", [item_id]
    )


async def update(db: Connection, item_id: int, values: dict[str, Any]) -> None:
    await sql.update(db, "outbox", item_id, values)


async def failed(db: Connection, item_id: int, *, at: datetime, error: str, count: bool) -> int:
    await db.execute(
        "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, last_error = ? "
        "WHERE id = ?",
        [1 if count else 0, ts(at), error, item_id],
    )
    row = await db.fetchone("SELECT attempts FROM outbox WHERE id = ?", [item_id])
    return int(row["attempts"]) if row else 0


async def dead_count(db: Connection) -> int:
    row = await db.fetchone("SELECT count(*) AS n FROM outbox WHERE state = 'dead'")
    return int(row["n"]) if row else 0


async def dead_rows(db: Connection, limit: int) -> list[OutboxItem]:
    rows = await sql.select(db, "outbox", "state = 'dead'", order_by="id DESC", limit=limit)
    return [model(row) for row in rows]


async def depth(db: Connection) -> int:
    row = await db.fetchone("SELECT count(*) AS n FROM outbox WHERE state = 'pending'")
    return row["n"] if row else 0


async def items(db: Connection, send_id: int | None) -> list[OutboxItem]:
    if send_id is None:
        rows = await sql.select(db, "outbox")
    else:
        rows = await sql.select(db, "outbox", "send_id = ?", [send_id])
    return [model(row) for row in rows]
