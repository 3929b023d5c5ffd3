"""The SQLite backend: the file's checks, pragmas and migrations at start-up, then one writer
and one reader connection, each on a thread of its own, so no query runs on the event loop and a
transaction can run whole on the writer's thread in one trip (those that meet there share one
commit)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bot.domain.errors import StorageError
from storage.backend import Connection, Row

BUSY_TIMEOUT_MS = 5000
T = TypeVar("T")


class _Thread:
    """One sqlite3 connection and the one thread that ever uses it. Calls are queued to it
    in order and each is awaited through an asyncio future the thread resolves with
    `loop.call_soon_threadsafe` (the shape of aiosqlite's worker, reached through names of
    our own): `queue` puts a call in line at once, `run` awaits it; none runs on the loop."""

    def __init__(self, name: str):
        self._name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.conn: sqlite3.Connection | None = None

    async def open(self, path: Path, *, read_only: bool) -> None:
        self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
        self._thread.start()
        opened = self._put(lambda: _connect(path, read_only=read_only))
        self.conn = await opened

    def queue(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        conn = self.conn
        if conn is None:
            raise StorageError("the database connection is closed")
        return self._put(partial(function, conn, *args))

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        return await self.queue(function, *args)

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if self._thread is None:
            return
        if conn is not None:
            await self._put(conn.close)
        self._calls.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def _put(self, call: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._calls.put((loop, future, call))
        return future

    def step(self, work: Callable[[Connection], Awaitable[T]]) -> asyncio.Future[T]:
        """`work` as one whole transaction on this (the writer's) thread; steps that find
        each other queued share one commit (`_commit_steps`)."""
        conn = self.conn
        if conn is None:
            raise StorageError("the database connection is closed")
        return self._put(_Step(conn, work))

    def _serve(self) -> None:
        later: list[_Call | None] = []  # taken from the queue while gathering steps
        while True:
            item = later.pop() if later else self._calls.get()
            if item is None:
                break
            loop, future, call = item
            if isinstance(call, _Step):
                self._serve_steps(item, later)
                continue
            try:
                outcome: tuple[Any, BaseException | None] = (call(), None)
            except BaseException as error:  # handed to the caller, whatever it is
                outcome = (None, error)
            # A loop already closed has nobody waiting; the thread serves on (close() ends it).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, *outcome)

    def _serve_steps(self, first: _Call, later: list[_Call | None]) -> None:
        """`first` and the steps queued right behind it, committed together while the group
        is within STEP_GROUP_SECONDS and STEPS_PER_COMMIT; a call of another kind met in the
        queue goes to `later`, to be served next."""
        taken = [first]
        deadline = time.perf_counter() + STEP_GROUP_SECONDS

        def next_step() -> _Step | None:
            if len(taken) >= STEPS_PER_COMMIT or time.perf_counter() > deadline:
                return None
            try:
                waiting = self._calls.get_nowait()
            except queue.Empty:
                return None
            if waiting is None or not isinstance(waiting[2], _Step):
                later.append(waiting)
                return None
            taken.append(waiting)
            return waiting[2]

        outcomes = _commit_steps(first[2], next_step)  # type: ignore[arg-type]
        settled = [(item[1], *outcome) for item, outcome in zip(taken, outcomes, strict=True)]
        # One wake-up of the loop for the whole group.
        with contextlib.suppress(RuntimeError):
            first[0].call_soon_threadsafe(_settle_all, settled)


_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


# Steps found queued together share one transaction (a savepoint each): up to this many, and
# no further step is added once the group has run this long, so a caller is never answered
# much later than its own step's commit would have been.
STEPS_PER_COMMIT = 64
STEP_GROUP_SECONDS = 0.02


class _Step:
    """A whole transaction queued for the writer's thread (SqliteBackend.in_one_step), on the
    connection it was queued for."""

    __slots__ = ("conn", "work")

    def __init__(self, conn: sqlite3.Connection, work: Callable[[Connection], Awaitable[Any]]):
        self.conn = conn
        self.work = work

    def __call__(self) -> Any:
        raise RuntimeError("a step runs through _commit_steps, on the writer's thread")


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in settled:
        with contextlib.suppress(asyncio.InvalidStateError):
            _settle(future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the loop: the call's outcome, unless its caller has stopped waiting."""
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """A connection as both threads use it (on the thread that will use it)."""
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # WAL with synchronous=NORMAL: a commit survives a process crash (kill -9); only a
        # power cut can lose the last commits, never corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        if read_only:
            conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as error:
        reason = " ".join(str(error).split())
        raise StorageError(f"VIBER_BOT_DB: cannot use {path}: {reason}") from None
    return conn


# What runs on a connection's thread: each statement stepped to its end (a RETURNING
# statement too), rows as plain dicts (names zipped once a query, ~1 us a row) or tuples.


def _execute(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    return conn.execute(sql, params).rowcount


def _executemany(conn: sqlite3.Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    conn.executemany(sql, rows)


def _fetchall(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Row]:
    cursor = conn.execute(sql, params)
    rows: list[Any] = cursor.fetchall()
    if rows:
        names = [column[0] for column in cursor.description]
        # In place, so each tuple is freed as its dict is made (10,000 due rows: ~10 MB less).
        for index, row in enumerate(rows):
            rows[index] = dict(zip(names, row, strict=True))
    return rows


def _fetchone(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Row | None:
    for row in _fetchall(conn, sql, params):
        return row
    return None


def _values(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()


class SqliteConnection:
    """storage.backend.Connection over one connection's thread (one trip per call)."""

    __slots__ = ("thread",)

    def __init__(self, thread: _Thread):
        self.thread = thread

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self.thread.run(_execute, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.thread.run(_executemany, sql, list(rows))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self.thread.run(_fetchone, sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self.thread.run(_fetchall, sql, params)

    async def fetch_values(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self.thread.run(_values, sql, params)


class _OnThread:
    """storage.backend.Connection over the sqlite3 connection itself, for work run whole on
    the connection's thread (`SqliteBackend.in_one_step`): its methods never suspend."""

    __slots__ = ("raw",)

    def __init__(self, raw: sqlite3.Connection):
        self.raw = raw

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return _execute(self.raw, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        _executemany(self.raw, sql, rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return _fetchone(self.raw, sql, params)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return _fetchall(self.raw, sql, params)

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


def _commit_steps(
    first: _Step, next_step: Callable[[], _Step | None]
) -> list[tuple[Any, BaseException | None]]:
    """`first`, then each step `next_step` gives (None: no more), as one transaction with a
    savepoint each: what each returned or raised, in order. A step that raises is rolled
    back to its savepoint alone, as its own transaction would have been; the others commit.
    Nobody hears of success before the COMMIT: if it fails, or SQLite ends the transaction
    itself (an I/O error, a full disk), every step run in it fails with that error (those
    not taken yet stay queued for the next group).

    Under a burst the steps wait for the writer's thread together (each of its statements
    needs the GIL back from the busy loop): one BEGIN and one COMMIT for all of them, their
    pages written to the WAL once rather than once a step, one wake-up of the loop."""
    raw = first.conn
    second = next_step()
    if second is None:
        try:
            return [(_transaction_on_thread(raw, first.work), None)]
        except BaseException as error:
            return [(None, error)]
    steps = [first, second]  # taken so far, in order; another is taken once these have run
    outcomes: list[tuple[Any, BaseException | None]] = []
    try:
        _begin(raw)
        while len(outcomes) < len(steps):
            raw.execute("SAVEPOINT step")
            try:
                result = _run_whole(steps[len(outcomes)].work(_OnThread(raw)))  # type: ignore[arg-type]
            except BaseException as error:
                if not raw.in_transaction:
                    raise  # SQLite rolled the whole transaction back: nothing of it stands
                raw.execute("ROLLBACK TO step")
                raw.execute("RELEASE step")
                outcomes.append((None, error))
            else:
                raw.execute("RELEASE step")
                outcomes.append((result, None))
            if len(outcomes) == len(steps) and (following := next_step()) is not None:
                steps.append(following)
        raw.execute("COMMIT")
    except BaseException as error:
        with contextlib.suppress(sqlite3.Error):
            if raw.in_transaction:
                raw.execute("ROLLBACK")
        return [(None, error) for _ in steps]
    return outcomes


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
    row_locks = False

    def __init__(self, path: Path, *, scratch: Path | None = None):
        self.path = path
        self._scratch = scratch  # a temporary directory removed on close (Store.memory)
        self._writer: _Thread | None = None
        self._reader: _Thread | None = None
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

    async def _connect(self, *, read_only: bool) -> _Thread:
        thread = _Thread("sqlite-reader" if read_only else "sqlite-writer")
        try:
            await thread.open(self.path, read_only=read_only)
        except BaseException:
            await thread.close()
            raise
        return thread

    async def writer(self) -> _Thread:
        if self._writer is None:
            async with self._connecting:
                if self._writer is None:
                    self._writer = await self._connect(read_only=False)
        return self._writer

    async def reader(self) -> _Thread:
        if self._reader is None:
            async with self._connecting:
                if self._reader is None:
                    self._reader = await self._connect(read_only=True)
        return self._reader

    async def on_reader(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """`function(connection)` on the reader's thread (a trace hook, a query plan)."""
        return await (await self.reader()).run(function)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self._write_lock:
            thread = await self.writer()
            self._no_open_transaction.clear()
            try:
                begun = _retrieved(thread.queue(_begin))
                try:
                    await asyncio.shield(begun)
                except asyncio.CancelledError:
                    # Queued, the BEGIN runs all the same: end it before the lock passes on,
                    # or SQLite's write lock stays held until this process writes again.
                    await _finish(thread.queue(_rollback_if_open))
                    raise
                try:
                    yield SqliteConnection(thread)
                except BaseException:
                    await _finish(thread.queue(_execute, "ROLLBACK", ()))
                    raise
                await _finish(thread.queue(_execute, "COMMIT", ()))
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
        transaction begun after it, and steps queued together run back to back, in one
        transaction with a savepoint each (`_commit_steps`: one commit for a burst's
        submissions, each failing alone). A slash command's submission is answered after
        one short step, not after the backlog of BSG outcomes being recorded meanwhile."""
        thread = await self.writer()
        while not self._no_open_transaction.is_set():
            await self._no_open_transaction.wait()
        # No await between the check above and the queueing: no transaction begins between.
        step = _retrieved(thread.step(work))
        # Shielded: a cancelled caller leaves the step to finish on the thread (as _finish).
        return await asyncio.shield(step)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteConnection]:
        yield SqliteConnection(await self.reader())

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.fetchone("SELECT 1 AS one")

    async def close(self) -> None:
        for thread in (self._reader, self._writer):
            if thread is not None:
                await thread.close()
        self._reader = self._writer = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


async def _finish(step: asyncio.Future[Any]) -> None:
    """Let a COMMIT or ROLLBACK complete even when the task is cancelled meanwhile: the
    statement is already queued on the connection's thread, and the next transaction queues
    behind it, so the order of transactions holds."""
    await asyncio.shield(_retrieved(step))


def _retrieved(future: asyncio.Future[T]) -> asyncio.Future[T]:
    """`future`, its failure marked as read: awaited through a shield, a cancelled caller no
    longer reads it, and asyncio would log "exception was never retrieved" (the failure has
    been handled on the thread: its transaction rolled back)."""
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    return future


def _rollback_if_open(raw: sqlite3.Connection) -> None:
    if raw.in_transaction:
        raw.execute("ROLLBACK")
