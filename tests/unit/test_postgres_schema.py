"""PostgreSQL migrations on a real server: applied once however many replicas start together,
a database newer than the code refused in one line, and the same tables as SQLite's schema."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlite_utils import Database

from storage import postgres_schema
from storage.postgres_schema import LATEST, SchemaTooNew, migrate, schema_version
from storage.schema import migrations as sqlite_migrations


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def test_an_empty_database_is_migrated_to_the_latest_version_once(pg_url):
    with _connect(pg_url) as conn:
        assert schema_version(conn) == 0
        assert migrate(conn, applied_by="r1") == list(range(1, LATEST + 1))
        assert migrate(conn, applied_by="r1") == []
        assert schema_version(conn) == LATEST


def test_replicas_starting_together_apply_each_migration_exactly_once(pg_url):
    conns = [_connect(pg_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(conns)) as pool:
            results = list(
                pool.map(lambda n: migrate(conns[n], applied_by=f"replica-{n}"), range(len(conns)))
            )
        rows = conns[0].execute("SELECT version, applied_by FROM schema_migrations").fetchall()
    finally:
        for conn in conns:
            conn.close()
    applied = sorted(v for result in results for v in result)
    assert applied == list(range(1, LATEST + 1))  # each version by one replica, once
    assert sorted(v for v, _ in rows) == list(range(1, LATEST + 1))
    assert len({by for _, by in rows}) == 1  # one replica did all of it, the rest waited


def test_a_database_newer_than_the_code_is_refused_in_one_line(pg_url):
    with _connect(pg_url) as conn:
        migrate(conn)
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, 'from the future')",
            [LATEST + 1],
        )
        with pytest.raises(SchemaTooNew) as refused:
            migrate(conn)
        tables = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("VIBER_BOT_DB: ")
    assert f"version {LATEST + 1}" in message and "newer than this viber-bot" in message
    assert tables == (LATEST + 1,)  # nothing was touched


def _sqlite_columns() -> dict[str, set[str]]:
    db = Database(memory=True)
    sqlite_migrations.apply(db)
    return {
        table.name: {column.name for column in table.columns}
        for table in db.tables
        if not table.name.startswith(("_", "sqlite_"))
    }


def test_postgres_has_every_sqlite_table_and_column_and_only_those(pg_url):
    with _connect(pg_url) as conn:
        migrate(conn)
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    postgres: dict[str, set[str]] = {}
    for table, column in rows:
        postgres.setdefault(table, set()).add(column)
    sqlite = _sqlite_columns()
    only_pg = postgres_schema.POSTGRES_ONLY_COLUMNS
    for table, columns in sqlite.items():
        missing = columns - postgres.get(table, set())
        assert not missing, (
            f"SQLite's {table} has columns PostgreSQL lacks: {sorted(missing)}; "
            "add a migration to storage/postgres_schema.py"
        )
        extra = postgres[table] - columns - only_pg.get(table, set())
        assert not extra, f"PostgreSQL's {table} has columns SQLite lacks: {sorted(extra)}"
    extra_tables = set(postgres) - set(sqlite) - postgres_schema.POSTGRES_ONLY_TABLES
    assert not extra_tables, f"tables only on PostgreSQL: {sorted(extra_tables)}"
