"""The sweeps table: one row per poller sweep, the last thousand kept for health checks."""

from __future__ import annotations

from datetime import datetime

from storage import sql
from storage.backend import Connection
from storage.records import SweepRecord, from_row, parse_dt, ts

KEPT = 1000


async def record(
    db: Connection,
    *,
    started_at: datetime,
    finished_at: datetime,
    checked: int,
    changed: int,
    errors: int,
    last_error: str | None,
) -> None:
    await sql.insert(
        db,
        "sweeps",
        {
            "started_at": ts(started_at),
            "finished_at": ts(finished_at),
            "checked": checked,
            "changed": changed,
            "errors": errors,
            "last_error": last_error,
        },
    )
    # Keep the table small: the last thousand sweeps are plenty for health.
    await db.execute("DELETE FROM sweeps WHERE id <= (SELECT max(id) FROM sweeps) - ?", [KEPT])


async def recent(db: Connection, limit: int) -> list[SweepRecord]:
    rows = await sql.select(db, "sweeps", order_by="id desc", limit=limit)
    return [
        from_row(
            SweepRecord,
            row,
            started_at=datetime.fromisoformat(row["started_at"]),
            finished_at=parse_dt(row["finished_at"]),
        )
        for row in rows
    ]
