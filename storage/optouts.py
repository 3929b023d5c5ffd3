"""The `optouts` table: numbers that must never be sent to, with who opted them out, when, why."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.backend import Connection, Row
from storage.timestamps import ts

# SQLite's default limit on bound parameters is 999 in old builds; stay well under it.
_CHUNK = 500
_COLUMNS = "msisdn, user_id, reason, source, created_at"


@dataclass(frozen=True)
class OptOut:
    msisdn: str
    user_id: str | None
    reason: str | None
    source: str | None
    created_at: datetime


def _model(row: Row) -> OptOut:
    return OptOut(
        row["msisdn"],
        row["user_id"],
        row["reason"],
        row["source"],
        datetime.fromisoformat(row["created_at"]),
    )


async def add(
    db: Connection,
    msisdns: Sequence[str],
    *,
    user_id: str | None,
    reason: str | None,
    source: str,
    now: datetime,
) -> int:
    """Opt numbers out; those already out keep their first record. Returns how many were new."""
    before = await count(db)
    await db.executemany(
        "INSERT INTO optouts (msisdn, user_id, reason, source, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(m, user_id, reason, source, ts(now)) for m in dict.fromkeys(msisdns)],
    )
    return await count(db) - before


async def remove(db: Connection, msisdns: Sequence[str]) -> int:
    before = await count(db)
    await db.executemany(
        "DELETE FROM optouts WHERE msisdn = ?", [(m,) for m in dict.fromkeys(msisdns)]
    )
    return before - await count(db)


async def among(db: Connection, msisdns: Iterable[str]) -> set[str]:
    """Which of these numbers are opted out."""
    wanted = list(dict.fromkeys(msisdns))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = await db.fetchall(f"SELECT msisdn FROM optouts WHERE msisdn IN ({marks})", chunk)
        found.update(row["msisdn"] for row in rows)
    return found


async def count(db: Connection) -> int:
    row = await db.fetchone("SELECT count(*) AS n FROM optouts")
    return int(row["n"]) if row else 0


async def latest(db: Connection, limit: int) -> list[OptOut]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM optouts ORDER BY created_at DESC, msisdn DESC LIMIT ?", [limit]
    )
    return [_model(row) for row in rows]


async def every(db: Connection, page: int = 1000) -> AsyncIterator[OptOut]:
    """Every opt-out, oldest first, a page per round trip (keyset on created_at, msisdn)."""
    after: tuple[str, str] | None = None
    while True:
        if after is None:
            rows = await db.fetchall(
                f"SELECT {_COLUMNS} FROM optouts ORDER BY created_at, msisdn LIMIT ?", [page]
            )
        else:
            rows = await db.fetchall(
                f"SELECT {_COLUMNS} FROM optouts WHERE created_at > ? "
                "OR (created_at = ? AND msisdn > ?) ORDER BY created_at, msisdn LIMIT ?",
                [after[0], after[0], after[1], page],
            )
        for row in rows:
            yield _model(row)
        if len(rows) < page:
            return
        after = (rows[-1]["created_at"], rows[-1]["msisdn"])
