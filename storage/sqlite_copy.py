"""`viber-bot migrate-sqlite`: copy a SQLite database into an empty PostgreSQL one, whole.

Every table both schemas have is copied with the columns both have, parents before children,
ids kept (so Slack threads, outbox rows and BSG references stay linked), in one PostgreSQL
transaction: it copies everything or nothing. Identity sequences then continue after the
highest id, and tracking goes on from where the SQLite bot left it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bot.domain.errors import StorageError
from storage import postgres, sqlite
from storage.postgres_schema import POSTGRES_ONLY_TABLES


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def _sqlite_tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not row[0].startswith(("sqlite_", "_"))
    ]
    return {name: [c[1] for c in conn.execute(f'PRAGMA table_info("{name}")')] for name in names}


def _postgres_tables(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    tables: dict[str, list[str]] = {}
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    ).fetchall()
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def _parents_first(conn: psycopg.Connection[Any], tables: list[str]) -> list[str]:
    """The tables ordered so that every foreign key points at a table copied before it."""
    edges = conn.execute(
        "SELECT tc.table_name, ccu.table_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.constraint_column_usage ccu "
        "ON tc.constraint_name = ccu.constraint_name AND tc.table_schema = ccu.table_schema "
        "WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
    ).fetchall()
    needs = {table: set() for table in tables}
    for child, parent in edges:
        if child in needs and parent in needs and parent != child:
            needs[child].add(parent)
    ordered: list[str] = []
    while needs:
        ready = sorted(table for table, parents in needs.items() if parents <= set(ordered))
        if not ready:  # a cycle: copy the rest as they come (constraints checked at commit)
            ready = sorted(needs)
        for table in ready:
            ordered.append(table)
            del needs[table]
    return ordered


def copy_sqlite(path: Path, url: str) -> list[Copied]:
    """Copy the SQLite file at `path` into the (empty) PostgreSQL database at `url`."""
    if not path.is_file():
        raise StorageError(f"migrate-sqlite: there is no SQLite database at {path}")
    sqlite.prepare(path)  # checked and migrated to this version's schema, like at start-up
    postgres.prepare(url, applied_by="migrate-sqlite")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with psycopg.connect(url) as target:
            source_tables = _sqlite_tables(source)
            target_tables = _postgres_tables(target)
            common = [t for t in source_tables if t in target_tables]
            common = [t for t in common if t not in POSTGRES_ONLY_TABLES]
            held = {
                table: target.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for table in common
            }
            if any(held.values()):
                busy = ", ".join(f"{t} ({n})" for t, n in held.items() if n)
                raise StorageError(
                    f"migrate-sqlite: the PostgreSQL database already holds rows in {busy}; "
                    "copy into an empty database"
                )
            copied = []
            with target.transaction():
                target.execute("SET CONSTRAINTS ALL DEFERRED")
                for table in _parents_first(target, common):
                    columns = [c for c in source_tables[table] if c in target_tables[table]]
                    names = ", ".join(f'"{c}"' for c in columns)
                    rows = 0
                    cursor = source.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')
                    with target.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                        for row in cursor:
                            copy.write_row(row)
                            rows += 1
                    if "id" in columns:
                        # New rows continue after the copied ids.
                        target.execute(
                            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                            f'coalesce(max(id), 1), max(id) IS NOT NULL) FROM "{table}"'
                        )
                    copied.append(Copied(table, rows))
            return copied
    except psycopg.OperationalError as error:
        raise StorageError(f"migrate-sqlite: PostgreSQL: {' '.join(str(error).split())}") from None
    finally:
        source.close()
