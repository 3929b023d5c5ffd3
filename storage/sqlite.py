"""The SQLite backend: the file's checks, pragmas and migrations at start-up, then one writer
and one reader connection, each on its own aiosqlite thread so no query runs on the event loop."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.domain.errors import StorageError
from storage.backend import Connection, Row

BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")


class SqliteConnection:
    """storage.backend.Connection over one aiosqlite connection (one thread hop per call)."""

    __slots__ = ("raw",)

    def __init__(self, raw: aiosqlite.Connection):
        self.raw = raw

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self.raw.execute(sql, params)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.raw.execute_fetchall(sql, params)
        for row in rows:
            return dict(zip(row.keys(), row, strict=True))
        return None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows: list[Any] = list(await self.raw.execute_fetchall(sql, params))
        if not rows:
            return rows
        # Plain dicts: `dict(sqlite3.Row)` looks every column up by name, a scan of the
        # columns each (~15 us a row of `messages`); zipping the names once costs ~1 us.
        # In place, so each Row is freed as its dict is made (10,000 due rows: ~10 MB less).
        names = rows[0].keys()
        for index, row in enumerate(rows):
            rows[index] = dict(zip(names, row, strict=True))
        return rows

    async def fetch_values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # One trip to the thread, as execute_fetchall, with a cursor that makes plain tuples.
        return await self.raw._execute(_values, self.raw._conn, sql, params)  # type: ignore[no-any-return]


def _values(raw: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A query's rows as plain tuples (the connection's row factory makes sqlite3.Row)."""
    cursor = raw.cursor()
    cursor.row_factory = None
    try:
        return cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()


class _OnThread:
    """storage.backend.Connection over the sqlite3 connection itself, for work run whole on
    the connection's thread (`SqliteBackend.in_one_step`): its methods never suspend."""

    __slots__ = ("raw",)

    def __init__(self, raw: sqlite3.Connection):
        self.raw = raw

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.raw.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        # fetchall: a RETURNING statement is stepped to its end, as aiosqlite does.
        for row in self.raw.execute(sql, params).fetchall():
            return row
        return None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.raw.execute(sql, params).fetchall())

    async def fetch_values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return _values(self.raw, sql, params)


def _run_whole(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it awaits only _OnThread's methods) to its end."""
    try:
        work.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    work.close()
    raise RuntimeError("in_one_step: the work awaited something other than its connection")


def _queue_on_thread(raw: aiosqlite.Connection, function: Callable[[], Any]) -> asyncio.Future[Any]:
    """Queue `function` on the connection's thread at once, as aiosqlite's `_execute` does
    once it is awaited (aiosqlite has no public name for either)."""
    if not raw._running or raw._connection is None:
        raise StorageError("the database connection is closed")
    future = asyncio.get_running_loop().create_future()
    raw._tx.put_nowait((future, function))
    return future


def _begin(raw: sqlite3.Connection) -> None:
    """BEGIN on the writer's thread, where the transactions queued before it have ended."""
    if raw.in_transaction:  # a rollback interrupted earlier: finish it first
        raw.execute("ROLLBACK")
    # IMMEDIATE: take the write lock now, so another process (the operator CLI) makes this
    # wait at BEGIN (busy_timeout) instead of failing mid-transaction.
    raw.execute("BEGIN IMMEDIATE")


def _transaction_on_thread(
    raw: sqlite3.Connection, work: Callable[[Connection], Awaitable[T]]
) -> T:
    """One whole transaction, on the writer connection's own thread."""
    _begin(raw)
    try:
        result = _run_whole(work(_OnThread(raw)))  # type: ignore[arg-type]
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    return result


def prepare(path: Path) -> None:
    """Check the file and apply the migrations, synchronously (start-up, before serving).
    A corrupt or unwritable file is refused, never replaced."""
    from sqlite_utils import Database

    from storage.schema import check_not_newer, migrations

    if path.is_dir():
        raise StorageError(f"VIBER_BOT_DB: {path} is a directory, not a database file")
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
        db = Database(conn)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Before anything writes: a damaged page past the first tables would otherwise pass
        # start-up and fail mid-sweep. quick_check reads every page (~0.3 s / 150 MB).
        verdict = conn.execute("PRAGMA quick_check(1)").fetchone()
        if verdict is None or verdict[0] != "ok":
            problem = " ".join(str(verdict[0]).split()) if verdict else "no answer"
            raise sqlite3.DatabaseError(f"database disk image is malformed ({problem})")
        check_not_newer(db)  # refused before anything writes (WAL included)
        db.enable_wal()
        conn.execute("PRAGMA foreign_keys = ON")
        migrations.apply(db)
        conn.execute("SELECT count(*) FROM sends").fetchone()
    except sqlite3.DatabaseError as error:
        reason = " ".join(str(error).split())  # one line, whatever SQLite said
        raise StorageError(f"VIBER_BOT_DB: cannot use {path}: {reason}") from None
    finally:
        if conn is not None:
            conn.close()


class SqliteBackend:
    """storage.backend.Backend for one SQLite file (WAL: the reader never waits on the writer).

    Connections open on first use, in whichever event loop uses them first."""

    name = "sqlite"

    def __init__(self, path: Path, *, scratch: Path | None = None):
        self.path = path
        self._scratch = scratch  # a temporary directory removed on close (Store.memory)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        # Set while no transaction() is open on the writer: in_one_step waits only for that.
        self._no_open_transaction = asyncio.Event()
        self._no_open_transaction.set()
        self._connecting = asyncio.Lock()

    @classmethod
    def open(cls, path: str | Path) -> SqliteBackend:
        target = Path(path)
        prepare(target)
        return cls(target)

    @classmethod
    def temporary(cls) -> SqliteBackend:
        """A fresh database in a temporary directory, gone on close."""
        scratch = Path(tempfile.mkdtemp(prefix="viber-bot-"))
        target = scratch / "store.db"
        prepare(target)
        return cls(target, scratch=scratch)

    async def _connect(self, *, read_only: bool) -> aiosqlite.Connection:
        try:
            raw = await aiosqlite.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            raw.row_factory = sqlite3.Row
            await raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await raw.execute("PRAGMA foreign_keys = ON")
            # WAL with synchronous=NORMAL: a commit survives a process crash (kill -9);
            # only a power cut can lose the last commits, never corrupt the file.
            await raw.execute("PRAGMA synchronous = NORMAL")
            if read_only:
                await raw.execute("PRAGMA query_only = ON")
        except sqlite3.Error as error:
            reason = " ".join(str(error).split())
            raise StorageError(f"VIBER_BOT_DB: cannot use {self.path}: {reason}") from None
        return raw

    async def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            async with self._connecting:
                if self._writer is None:
                    self._writer = await self._connect(read_only=False)
        return self._writer

    async def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            async with self._connecting:
                if self._reader is None:
                    self._reader = await self._connect(read_only=True)
        return self._reader

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self._write_lock:
            raw = await self.writer()
            self._no_open_transaction.clear()
            try:
                await raw._execute(_begin, raw._conn)
                try:
                    yield SqliteConnection(raw)
                except BaseException:
                    await _finish(raw.execute("ROLLBACK"))
                    raise
                await _finish(raw.execute("COMMIT"))
            finally:
                # Before the lock passes on: the steps waiting are queued ahead of the next
                # transaction (their wake-ups are scheduled first).
                self._no_open_transaction.set()

    async def in_one_step(self, work: Callable[[Connection], Awaitable[T]]) -> T:
        """`work` as one transaction in a single trip to the writer's thread, instead of one
        trip per statement: under a burst of commands each trip can wait for a CPU, and every
        transaction queued behind it waits too.

        It waits only for the transaction() open now, not for those queued for the write
        lock: the thread runs what is queued in order, so the step cannot interleave with a
        transaction begun after it, and steps queued together run back to back. A slash
        command's submission is answered after one short step, not after the backlog of
        BSG outcomes being recorded meanwhile."""
        raw = await self.writer()
        while not self._no_open_transaction.is_set():
            await self._no_open_transaction.wait()
        # No await between the check above and the queueing: no transaction begins between.
        step = _queue_on_thread(raw, partial(_transaction_on_thread, raw._conn, work))
        # Shielded: a cancelled caller leaves the step to finish on the thread (as _finish).
        return await asyncio.shield(step)  # type: ignore[no-any-return]

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteConnection]:
        yield SqliteConnection(await self.reader())

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.fetchone("SELECT 1 AS one")

    async def close(self) -> None:
        for raw in (self._reader, self._writer):
            if raw is not None:
                await raw.close()
        self._reader = self._writer = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


async def _finish(step: Awaitable[Any]) -> None:
    """Let a COMMIT or ROLLBACK complete even when the task is cancelled meanwhile: the
    statement is already queued on the connection's thread, and the next transaction queues
    behind it, so the order of transactions holds."""
    await asyncio.shield(step)
