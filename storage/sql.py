"""Small helpers for writing the tables' portable SQL (plain identifiers, `?` placeholders)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

from storage.backend import Connection, Row
from storage.records import NotFound

PAGE = 1000  # rows per round trip when a listing streams


@functools.cache
def update_sql(table: str, columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    return f"UPDATE {table} SET {assignments} WHERE id = ?"


@functools.cache
def insert_sql(table: str, columns: tuple[str, ...], returning: bool = True) -> str:
    names = ", ".join(columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    return sql + " RETURNING id" if returning else sql


async def get(db: Connection, table: str, row_id: int) -> Row:
    row = await db.fetchone(f"SELECT * FROM {table} WHERE id = ?", [row_id])
    if row is None:
        raise NotFound(f"no {table} row {row_id}")
    return row


async def update(db: Connection, table: str, row_id: int, values: dict[str, Any]) -> None:
    if await db.execute(update_sql(table, tuple(values)), [*values.values(), row_id]) == 0:
        raise NotFound(f"no {table} row {row_id}")


async def insert(db: Connection, table: str, row: dict[str, Any]) -> int:
    found = await db.fetchone(insert_sql(table, tuple(row)), list(row.values()))
    assert found is not None
    return int(found["id"])


async def insert_many(db: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        columns = tuple(rows[0])
        await db.executemany(
            insert_sql(table, columns, returning=False), [[row[c] for c in columns] for row in rows]
        )


async def select(
    db: Connection,
    table: str,
    where: str | None = None,
    params: Sequence[Any] = (),
    *,
    order_by: str = "id",
    limit: int | None = None,
) -> list[Row]:
    sql = f"SELECT * FROM {table}"
    if where:
        sql += f" WHERE {where}"
    sql += f" ORDER BY {order_by}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return await db.fetchall(sql, list(params))


async def stream(
    db: Connection,
    table: str,
    where: str | None = None,
    params: Sequence[Any] = (),
    *,
    page: int = PAGE,
) -> AsyncIterator[Row]:
    """Rows in id order, a page per round trip (keyset: no cursor held open between pages)."""
    after = 0
    clause = f"({where}) AND id > ?" if where else "id > ?"
    while True:
        rows = await select(db, table, clause, [*params, after], order_by="id", limit=page)
        for row in rows:
            yield row
        if len(rows) < page:
            return
        after = rows[-1]["id"]
