"""The PostgreSQL fixtures: a real server per test session (bot/devtools/postgres_server.py),
a fresh database per test, and a Store on each backend in turn.

Where no binaries exist the PostgreSQL tests skip with the reason, unless
VIBER_BOT_REQUIRE_POSTGRES=1 (CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.postgres_server import PostgresServer, PostgresUnavailable, start_server

REQUIRE_VARIABLE = "VIBER_BOT_REQUIRE_POSTGRES"

__all__ = ["PostgresServer", "PostgresUnavailable", "start_server"]


def unavailable(reason: str) -> None:
    """Skip with the reason, or fail where PostgreSQL is required (CI)."""
    message = f"PostgreSQL unavailable: {reason}"
    if os.environ.get(REQUIRE_VARIABLE, "").strip() not in ("", "0"):
        pytest.fail(f"{message} ({REQUIRE_VARIABLE} is set)", pytrace=False)
    pytest.skip(message)


# ---------------------------------------------------------------- fixtures

_failure: str | None = None


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One server per test session (so one per xdist worker), started on first use."""
    global _failure
    if _failure is not None:
        unavailable(_failure)
    try:
        server = start_server()
    except PostgresUnavailable as error:
        _failure = str(error)
        unavailable(_failure)
    yield server
    server.destroy()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    if not pg_server.running:  # a test that paused the server and failed before restarting
        pg_server.start()
    return pg_server.create_database()


@pytest.fixture
def own_pg_server() -> Iterator[PostgresServer]:
    """A server of this test's own, for tests that stop it (outages) or kill connections."""
    try:
        server = start_server()
    except PostgresUnavailable as error:
        unavailable(str(error))
    yield server
    server.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh Store on each backend in turn: a SQLite file, and a PostgreSQL database."""
    from storage.store import Store

    if request.param == "sqlite":
        store = Store.open(tmp_path / "store.db")
    else:
        store = Store.open(request.getfixturevalue("pg_url"))
    yield store
    await store.close()
