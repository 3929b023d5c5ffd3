"""The `optouts` table: numbers that must never be sent to, with who opted them out, when, why."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage.timestamps import ts

# SQLite's default limit on bound parameters is 999 in old builds; stay well under it.
_CHUNK = 500


@dataclass(frozen=True)
class OptOut:
    msisdn: str
    user_id: str | None
    reason: str | None
    source: str | None
    created_at: datetime


class OptOutsTable:
    """Plain SQL over `optouts`; the caller holds the transaction."""

    def __init__(self, db: Database):
        self.db = db

    def add(
        self,
        msisdns: Sequence[str],
        *,
        user_id: str | None,
        reason: str | None,
        source: str,
        now: datetime,
    ) -> int:
        """Opt numbers out; those already out keep their first record. Returns how many were new."""
        before = self.count()
        self.db.conn.executemany(
            "INSERT INTO optouts (msisdn, user_id, reason, source, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(m, user_id, reason, source, ts(now)) for m in dict.fromkeys(msisdns)],
        )
        return self.count() - before

    def remove(self, msisdns: Sequence[str]) -> int:
        before = self.count()
        self.db.conn.executemany(
            "DELETE FROM optouts WHERE msisdn = ?", [(m,) for m in dict.fromkeys(msisdns)]
        )
        return before - self.count()

    def among(self, msisdns: Iterable[str]) -> set[str]:
        """Which of these numbers are opted out."""
        wanted = list(dict.fromkeys(msisdns))
        found: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            rows = self.db.execute(f"SELECT msisdn FROM optouts WHERE msisdn IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return found

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM optouts").fetchone()[0])

    def latest(self, limit: int) -> list[OptOut]:
        rows = self.db.execute(
            "SELECT msisdn, user_id, reason, source, created_at FROM optouts "
            "ORDER BY created_at DESC, msisdn DESC LIMIT ?",
            [limit],
        ).fetchall()
        return [self._row(row) for row in rows]

    def every(self) -> Iterator[OptOut]:
        cursor = self.db.execute(
            "SELECT msisdn, user_id, reason, source, created_at FROM optouts "
            "ORDER BY created_at, msisdn"
        )
        for row in cursor:
            yield self._row(row)

    @staticmethod
    def _row(row: Sequence[str]) -> OptOut:
        msisdn, user_id, reason, source, created_at = row
        return OptOut(msisdn, user_id, reason, source, datetime.fromisoformat(created_at))
