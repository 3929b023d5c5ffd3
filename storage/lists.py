"""The `lists` and `list_members` tables: saved recipient lists, who added each number and when."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage.timestamps import ts


@dataclass(frozen=True)
class ListEdit:
    """What an add or remove changed: numbers changed, and those that were already so."""

    name: str
    changed: int
    unchanged: int
    size: int
    created: bool = False


@dataclass(frozen=True)
class ListMember:
    msisdn: str
    added_by: str | None
    added_at: datetime


class ListsTable:
    """Plain SQL over the two list tables; the caller holds the transaction."""

    def __init__(self, db: Database):
        self.db = db

    def _id(self, name: str) -> int | None:
        row = self.db.execute("SELECT id FROM lists WHERE name = ?", [name]).fetchone()
        return None if row is None else int(row[0])

    def size(self, name: str) -> int | None:
        list_id = self._id(name)
        if list_id is None:
            return None
        return self._size(list_id)

    def _size(self, list_id: int) -> int:
        sql = "SELECT count(*) FROM list_members WHERE list_id = ?"
        return int(self.db.execute(sql, [list_id]).fetchone()[0])

    def add(
        self, name: str, msisdns: Sequence[str], *, user_id: str | None, now: datetime
    ) -> ListEdit:
        """Add numbers (creating the list); numbers already there keep who added them first."""
        list_id = self._id(name)
        created = list_id is None
        if list_id is None:
            row = self.db.execute(
                "INSERT INTO lists (name, created_by, created_at) VALUES (?, ?, ?) RETURNING id",
                [name, user_id, ts(now)],
            ).fetchone()
            list_id = int(row[0])
        before = self._size(list_id)
        unique = list(dict.fromkeys(msisdns))
        self.db.conn.executemany(
            "INSERT INTO list_members (list_id, msisdn, added_by, added_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(list_id, msisdn, user_id, ts(now)) for msisdn in unique],
        )
        after = self._size(list_id)
        return ListEdit(name, after - before, len(unique) - (after - before), after, created)

    def remove(self, name: str, msisdns: Sequence[str]) -> ListEdit | None:
        list_id = self._id(name)
        if list_id is None:
            return None
        before = self._size(list_id)
        unique = list(dict.fromkeys(msisdns))
        self.db.conn.executemany(
            "DELETE FROM list_members WHERE list_id = ? AND msisdn = ?",
            [(list_id, msisdn) for msisdn in unique],
        )
        after = self._size(list_id)
        return ListEdit(name, before - after, len(unique) - (before - after), after)

    def delete(self, name: str) -> int | None:
        """Delete a list and its numbers; the size it had, or None when there is no such list."""
        list_id = self._id(name)
        if list_id is None:
            return None
        size = self._size(list_id)
        self.db.execute("DELETE FROM list_members WHERE list_id = ?", [list_id])
        self.db.execute("DELETE FROM lists WHERE id = ?", [list_id])
        return size

    def members(self, name: str) -> list[ListMember] | None:
        """The list's numbers in the order they were added, or None when there is no such list."""
        list_id = self._id(name)
        if list_id is None:
            return None
        rows = self.db.execute(
            "SELECT msisdn, added_by, added_at FROM list_members WHERE list_id = ? "
            "ORDER BY added_at, msisdn",
            [list_id],
        ).fetchall()
        return [ListMember(m, by, datetime.fromisoformat(at)) for m, by, at in rows]

    def numbers(self, names: Iterable[str]) -> dict[str, list[str]]:
        """Each known list's numbers by name (unknown names are left out)."""
        found: dict[str, list[str]] = {}
        for name in dict.fromkeys(names):
            list_id = self._id(name)
            if list_id is None:
                continue
            rows = self.db.execute(
                "SELECT msisdn FROM list_members WHERE list_id = ? ORDER BY added_at, msisdn",
                [list_id],
            ).fetchall()
            found[name] = [row[0] for row in rows]
        return found

    def sizes(self) -> list[tuple[str, int]]:
        """Every list with its size, by name."""
        rows = self.db.execute(
            "SELECT l.name, count(m.msisdn) FROM lists l "
            "LEFT JOIN list_members m ON m.list_id = l.id GROUP BY l.id ORDER BY l.name"
        ).fetchall()
        return [(name, int(size)) for name, size in rows]
