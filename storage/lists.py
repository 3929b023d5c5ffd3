"""The `lists` and `list_members` tables: saved recipient lists, who added each number and when."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.backend import Connection
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


async def _id(db: Connection, name: str) -> int | None:
    row = await db.fetchone("SELECT id FROM lists WHERE name = ?", [name])
    return None if row is None else int(row["id"])


async def _size(db: Connection, list_id: int) -> int:
    row = await db.fetchone("SELECT count(*) AS n FROM list_members WHERE list_id = ?", [list_id])
    return int(row["n"]) if row else 0


async def size(db: Connection, name: str) -> int | None:
    list_id = await _id(db, name)
    return None if list_id is None else await _size(db, list_id)


async def add(
    db: Connection, name: str, msisdns: Sequence[str], *, user_id: str | None, now: datetime
) -> ListEdit:
    """Add numbers (creating the list); numbers already there keep who added them first."""
    list_id = await _id(db, name)
    created = list_id is None
    if list_id is None:
        row = await db.fetchone(
            "INSERT INTO lists (name, created_by, created_at) VALUES (?, ?, ?) RETURNING id",
            [name, user_id, ts(now)],
        )
        assert row is not None
        list_id = int(row["id"])
    before = await _size(db, list_id)
    unique = list(dict.fromkeys(msisdns))
    await db.executemany(
        "INSERT INTO list_members (list_id, msisdn, added_by, added_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(list_id, msisdn, user_id, ts(now)) for msisdn in unique],
    )
    after = await _size(db, list_id)
    return ListEdit(name, after - before, len(unique) - (after - before), after, created)


async def remove(db: Connection, name: str, msisdns: Sequence[str]) -> ListEdit | None:
    list_id = await _id(db, name)
    if list_id is None:
        return None
    before = await _size(db, list_id)
    unique = list(dict.fromkeys(msisdns))
    await db.executemany(
        "DELETE FROM list_members WHERE list_id = ? AND msisdn = ?",
        [(list_id, msisdn) for msisdn in unique],
    )
    after = await _size(db, list_id)
    return ListEdit(name, before - after, len(unique) - (before - after), after)


async def delete(db: Connection, name: str) -> int | None:
    """Delete a list and its numbers; the size it had, or None when there is no such list."""
    list_id = await _id(db, name)
    if list_id is None:
        return None
    had = await _size(db, list_id)
    await db.execute("DELETE FROM list_members WHERE list_id = ?", [list_id])
    await db.execute("DELETE FROM lists WHERE id = ?", [list_id])
    return had


async def members(db: Connection, name: str) -> list[ListMember] | None:
    """The list's numbers in the order they were added, or None when there is no such list."""
    list_id = await _id(db, name)
    if list_id is None:
        return None
    rows = await db.fetchall(
        "SELECT msisdn, added_by, added_at FROM list_members WHERE list_id = ? "
        "ORDER BY added_at, msisdn",
        [list_id],
    )
    return [
        ListMember(r["msisdn"], r["added_by"], datetime.fromisoformat(r["added_at"])) for r in rows
    ]


async def numbers(db: Connection, names: Iterable[str]) -> dict[str, list[str]]:
    """Each known list's numbers by name (unknown names are left out)."""
    found: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        list_id = await _id(db, name)
        if list_id is None:
            continue
        rows = await db.fetchall(
            "SELECT msisdn FROM list_members WHERE list_id = ? ORDER BY added_at, msisdn",
            [list_id],
        )
        found[name] = [row["msisdn"] for row in rows]
    return found


async def sizes(db: Connection) -> list[tuple[str, int]]:
    """Every list with its size, by name."""
    rows = await db.fetchall(
        "SELECT l.name AS name, count(m.msisdn) AS n FROM lists l "
        "LEFT JOIN list_members m ON m.list_id = l.id GROUP BY l.id, l.name ORDER BY l.name"
    )
    return [(row["name"], int(row["n"])) for row in rows]
