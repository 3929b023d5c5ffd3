"""The sends table: one row per submission from Slack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from bot.domain.models import DeliveryStatus, Send, SendOutcome
from storage import sql
from storage.backend import Connection, Row
from storage.records import NewSend, ts


def model(row: Row) -> Send:
    values = dict(row)
    values["options"] = json.loads(values["options"] or "{}")
    return Send.model_validate(values)


async def add(db: Connection, new: NewSend, *, now: datetime) -> int:
    return await sql.insert(
        db,
        "sends",
        {
            "team_id": new.team_id,
            "channel_id": new.channel_id,
            "user_id": new.user_id,
            "text": new.text,
            "sender": new.sender,
            "options": json.dumps(new.options, sort_keys=True, default=str),
            "created_at": ts(now),
            "outcome": SendOutcome.PENDING.value,
            "source": new.source,
            "dedupe_key": new.dedupe_key,
            "response_url": new.response_url,
            "send_at": ts(new.send_at),
            "validity": new.validity,
        },
    )


async def get(db: Connection, send_id: int) -> Send:
    return model(await sql.get(db, "sends", send_id))


async def by_dedupe(db: Connection, key: str) -> Send | None:
    rows = await sql.select(db, "sends", "dedupe_key = ?", [key], limit=1)
    return model(rows[0]) if rows else None


async def update(db: Connection, send_id: int, values: dict[str, Any]) -> None:
    await sql.update(db, "sends", send_id, values)


async def touch(db: Connection, send_ids: Sequence[int], now: datetime) -> None:
    if send_ids:
        await db.executemany(
            "UPDATE sends SET last_checked_at = ? WHERE id = ?",
            [(ts(now), send_id) for send_id in send_ids],
        )


async def recent(db: Connection, limit: int) -> list[Send]:
    return [model(row) for row in await sql.select(db, "sends", order_by="id desc", limit=limit)]


async def since(db: Connection, moment: datetime | None) -> AsyncIterator[Send]:
    if moment is None:
        rows = sql.stream(db, "sends")
    else:
        rows = sql.stream(db, "sends", "created_at >= ?", [ts(moment)])
    async for row in rows:
        yield model(row)


async def status_counts(db: Connection, send_id: int) -> dict[DeliveryStatus, int]:
    rows = await db.fetchall(
        "SELECT status, count(*) AS n FROM messages WHERE send_id = ? GROUP BY status", [send_id]
    )
    return {DeliveryStatus(row["status"]): row["n"] for row in rows}


async def recipients_sent_by(db: Connection, user_id: str, moment: datetime) -> int:
    """Recipients a user submitted since a moment (refused and not-sent ones excluded)."""
    row = await db.fetchone(
        "SELECT count(*) AS n FROM messages m JOIN sends s ON s.id = m.send_id "
        "WHERE s.user_id = ? AND s.created_at >= ? AND m.status NOT IN (?, ?)",
        [user_id, ts(moment), DeliveryStatus.REFUSED.value, DeliveryStatus.NOT_SENT.value],
    )
    return row["n"] if row else 0
