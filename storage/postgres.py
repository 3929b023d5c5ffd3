"""The PostgreSQL backend: migrations at start-up, then psycopg 3 async over a connection pool.

The Store's SQL is portable with `?` placeholders; here they become psycopg's `%s`. A lost
server surfaces as StorageError ("database unavailable"), never as a driver exception: the
poller and the outbox log it and try again on their next turn, and the pool reconnects by
itself once the server is back. (Connections are not checked on every checkout: that costs a
round trip per statement; one dropped by a restart fails once and is replaced.)
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.domain.errors import StorageError
from bot.settings import redact_url
from storage import postgres_schema
from storage.backend import Connection
from storage.records import Conflict

log = logging.getLogger(__name__)
T = TypeVar("T")
# While the server is away the pool warns on every reconnection attempt (several a second);
# the bot's own warnings say it once per sweep, outbox pass and heartbeat instead.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

CONNECT_TIMEOUT = 5  # seconds for one connection attempt (libpq connect_timeout)
RECONNECT_TIMEOUT = 300.0  # seconds the pool keeps re-making a lost connection
POOL_WAIT = 5.0  # seconds a caller waits for a pooled connection before "unavailable"

Row = dict[str, Any]


class DatabaseUnavailable(StorageError):
    """The PostgreSQL server cannot be reached (or stopped answering) right now."""


@functools.cache
def pyformat(sql: str) -> str:
    """Portable SQL (`?` placeholders) in psycopg's dialect (`%s`), quoted text left alone."""
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


def _unavailable(url: str, error: BaseException) -> DatabaseUnavailable:
    reason = " ".join(str(error).split()) or type(error).__name__
    return DatabaseUnavailable(f"VIBER_BOT_DB: {redact_url(url)} unavailable: {reason}")


def prepare(url: str, *, applied_by: str = "") -> int:
    """Connect once, apply the migrations (one replica at a time), return the schema version.

    Synchronous: it runs at start-up, before anything is served."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            postgres_schema.migrate(conn, applied_by=applied_by)
            return postgres_schema.schema_version(conn)
    except psycopg.OperationalError as error:
        raise _unavailable(url, error) from None
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        raise StorageError(f"VIBER_BOT_DB: cannot use {redact_url(url)}: {reason}") from None


class PostgresConnection:
    """storage.backend.Connection over one pooled psycopg connection."""

    __slots__ = ("raw", "url")

    def __init__(self, raw: psycopg.AsyncConnection[Row], url: str):
        self.raw = raw
        self.url = url

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            cursor = await self.raw.execute(pyformat(sql), params)  # type: ignore[arg-type]
        except psycopg.errors.UniqueViolation as error:
            raise Conflict(" ".join(str(error).split())) from None
        except psycopg.OperationalError as error:
            raise _unavailable(self.url, error) from None
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            async with self.raw.cursor() as cursor:
                await cursor.executemany(pyformat(sql), list(rows))  # type: ignore[arg-type]
        except psycopg.OperationalError as error:
            raise _unavailable(self.url, error) from None

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        try:
            cursor = await self.raw.execute(pyformat(sql), params)  # type: ignore[arg-type]
            return await cursor.fetchone()
        except psycopg.errors.UniqueViolation as error:
            raise Conflict(" ".join(str(error).split())) from None
        except psycopg.OperationalError as error:
            raise _unavailable(self.url, error) from None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            cursor = await self.raw.execute(pyformat(sql), params)  # type: ignore[arg-type]
            return await cursor.fetchall()
        except psycopg.OperationalError as error:
            raise _unavailable(self.url, error) from None

    async def fetch_values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            async with self.raw.cursor(row_factory=tuple_row) as cursor:
                await cursor.execute(pyformat(sql), params)  # type: ignore[arg-type]
                return await cursor.fetchall()
        except psycopg.OperationalError as error:
            raise _unavailable(self.url, error) from None


class PostgresBackend:
    """storage.backend.Backend for one PostgreSQL database, shared by any number of replicas.

    The pool opens on first use, in whichever event loop uses it first. Within one process
    transactions are serialised, as the Store expects of every backend; between replicas the
    server's locks (and the leases in storage.replicas) keep them apart."""

    name = "postgresql"
    row_locks = True

    def __init__(self, url: str, *, pool_size: int = 10, schema_version: int = 0):
        self.url = url
        self.pool_size = max(2, pool_size)
        self.schema_version = schema_version
        self._pool: AsyncConnectionPool | None = None
        self._connecting = asyncio.Lock()
        self._write_lock = asyncio.Lock()

    @classmethod
    def open(cls, url: str, *, pool_size: int = 10, applied_by: str = "") -> PostgresBackend:
        version = prepare(url, applied_by=applied_by)
        return cls(url, pool_size=pool_size, schema_version=version)

    async def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            async with self._connecting:
                if self._pool is None:
                    pool = AsyncConnectionPool(
                        self.url,
                        min_size=1,
                        max_size=self.pool_size,
                        kwargs={
                            "autocommit": True,
                            "row_factory": dict_row,
                            "connect_timeout": CONNECT_TIMEOUT,
                        },
                        timeout=POOL_WAIT,
                        # Reconnection backs off from 1 s; a server back within minutes is
                        # found again by itself (psycopg_pool's default five).
                        reconnect_timeout=RECONNECT_TIMEOUT,
                        open=False,
                        name="viber-bot",
                    )
                    await pool.open(wait=False)
                    self._pool = pool
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Row]]:
        pool = await self.pool()
        try:
            async with pool.connection() as raw:
                yield raw
        except PoolTimeout as error:
            raise _unavailable(self.url, error) from None
        except psycopg.OperationalError as error:
            raise _unavailable(self.url, error) from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresConnection]:
        async with self._write_lock, self._connection() as raw:
            try:
                async with raw.transaction():
                    yield PostgresConnection(raw, self.url)
            except psycopg.OperationalError as error:
                raise _unavailable(self.url, error) from None

    async def in_one_step(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        async with self.transaction() as conn:
            return await work(conn)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PostgresConnection]:
        async with self._connection() as raw:
            yield PostgresConnection(raw, self.url)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PostgresConnection]:
        """A pooled connection outside the Store's serialised writer (leases, heartbeats)."""
        async with self._connection() as raw:
            yield PostgresConnection(raw, self.url)

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.fetchone("SELECT 1 AS one")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
