"""The SQLite backend's connection thread: calls run in the order queued, on one thread, off
the event loop; a caller that stops waiting leaves its call to run; errors come back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from storage.sqlite import STEP_GROUP_SECONDS, SqliteBackend
from tests.waiting import wait_until


async def test_calls_run_in_order_on_one_thread_even_when_a_caller_stops_waiting(tmp_path):
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        writer = await backend.writer()
        seen: list[tuple[str, int]] = []

        def note(conn: sqlite3.Connection, label: str) -> str:
            seen.append((label, threading.get_ident()))
            conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
            conn.execute("INSERT INTO t VALUES (?)", [label])
            return label

        first = writer.queue(note, "first")
        cancelled = writer.queue(note, "cancelled")
        cancelled.cancel()  # the caller stops waiting: the statement, already queued, runs
        assert await writer.run(note, "last") == "last"
        assert await first == "first"
        assert [label for label, _ in seen] == ["first", "cancelled", "last"]
        assert len({ident for _, ident in seen}) == 1
        assert seen[0][1] != threading.get_ident()  # never on the event loop's thread

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT * FROM no_such_table")

        with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
            await writer.run(broken)
        async with backend.read() as conn:  # the thread serves on after an error
            rows = await conn.fetchall("SELECT x FROM t ORDER BY rowid")
        assert [r["x"] for r in rows] == ["first", "cancelled", "last"]
    finally:
        await backend.close()
    with pytest.raises(Exception, match="closed"):
        writer.queue(lambda conn: None)


async def test_a_transaction_cancelled_before_its_begin_ran_leaves_no_write_lock(tmp_path):
    """Cancelled while its BEGIN waits on the writer's thread, a transaction still ends: the
    BEGIN runs (it was queued) and is rolled back, so no other process finds the file locked."""
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        writer = await backend.writer()
        busy, release = threading.Event(), threading.Event()

        def hold(conn: sqlite3.Connection) -> None:
            busy.set()
            release.wait(5)

        held = writer.queue(hold)
        await asyncio.to_thread(busy.wait, 5)

        async def write() -> None:
            async with backend.transaction() as conn:
                await conn.execute("CREATE TABLE never (x)")

        task = asyncio.ensure_future(write())
        await asyncio.sleep(0.05)  # queued its BEGIN behind `hold`
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await held
        assert await writer.run(lambda conn: conn.in_transaction) is False
        other = sqlite3.connect(tmp_path / "t.db", timeout=0.1)
        try:
            other.execute("CREATE TABLE other (x)")  # not "database is locked"
        finally:
            other.close()
    finally:
        await backend.close()


# ---------------------------------------------------------------- steps committed together


async def _held_writer(backend: SqliteBackend) -> tuple[threading.Event, list[str]]:
    """Hold the writer's thread until the returned event is set, and trace what it runs."""
    writer = await backend.writer()
    statements: list[str] = []
    busy, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS t (x UNIQUE)")
        conn.set_trace_callback(statements.append)
        busy.set()
        release.wait(5)

    writer.queue(hold)
    await asyncio.to_thread(busy.wait, 5)
    return release, statements


def _insert(label: str, fail: bool = False):
    """A step inserting `label` and returning what it sees of the table; `fail` raises after
    the insert."""

    async def work(db) -> list[str]:
        await db.execute("INSERT INTO t VALUES (?)", [label])
        seen = [row["x"] for row in await db.fetchall("SELECT x FROM t ORDER BY rowid")]
        if fail:
            raise ValueError(f"{label} changed its mind")
        return seen

    return work


async def _queued(backend: SqliteBackend, *works) -> list[asyncio.Task]:
    tasks = [asyncio.ensure_future(backend.in_one_step(work)) for work in works]
    writer = await backend.writer()
    # Each queued behind the held thread.
    await wait_until(lambda: writer._calls.qsize() >= len(works), 5, "the steps queued")
    return tasks


async def _rows(backend: SqliteBackend) -> list[str]:
    async with backend.read() as conn:
        return [r["x"] for r in await conn.fetchall("SELECT x FROM t ORDER BY rowid")]


async def test_steps_queued_together_share_one_commit_each_with_its_own_answer(tmp_path):
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        release, statements = await _held_writer(backend)
        tasks = await _queued(backend, _insert("a"), _insert("b"), _insert("c"))
        release.set()
        answers = await asyncio.gather(*tasks)
        # In order, one transaction: each step sees the steps before it.
        assert answers == [["a"], ["a", "b"], ["a", "b", "c"]]
        assert statements.count("BEGIN IMMEDIATE") == statements.count("COMMIT") == 1
        assert statements.count("SAVEPOINT step") == 3
        assert await _rows(backend) == ["a", "b", "c"]
        # Alone, a step is a transaction of its own, without a savepoint.
        statements.clear()
        assert await backend.in_one_step(_insert("d")) == ["a", "b", "c", "d"]
        assert statements.count("COMMIT") == 1 and "SAVEPOINT step" not in statements
    finally:
        await backend.close()


async def test_a_step_failing_in_a_group_is_rolled_back_alone(tmp_path):
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        release, _ = await _held_writer(backend)
        tasks = await _queued(
            backend, _insert("a"), _insert("b", fail=True), _insert("a"), _insert("c")
        )
        release.set()
        first, failed, duplicate, last = await asyncio.gather(*tasks, return_exceptions=True)
        assert first == ["a"]
        assert isinstance(failed, ValueError) and "b changed its mind" in str(failed)
        assert isinstance(duplicate, sqlite3.IntegrityError)  # the unique "a": its own error
        assert last == ["a", "c"]  # b's insert was undone before c ran
        assert await _rows(backend) == ["a", "c"]
    finally:
        await backend.close()


async def test_a_group_whose_commit_fails_fails_every_step_and_stores_nothing(tmp_path):
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        async with backend.transaction() as conn:
            await conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            await conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))")
        release, statements = await _held_writer(backend)

        async def dangling(db) -> None:
            # Checked at COMMIT, not at the insert: the whole group's commit fails.
            await db.execute("PRAGMA defer_foreign_keys = ON")
            await db.execute("INSERT INTO child VALUES (42)")

        tasks = await _queued(backend, _insert("a"), dangling, _insert("b"))
        release.set()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
        assert "ROLLBACK" in statements
        assert await _rows(backend) == []
        assert await backend.in_one_step(_insert("after")) == ["after"]  # the writer serves on
    finally:
        await backend.close()


async def test_a_transaction_queued_behind_steps_runs_after_their_commit(tmp_path):
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        release, statements = await _held_writer(backend)
        steps = await _queued(backend, _insert("a"), _insert("b"))

        async def statement_by_statement() -> list[str]:
            async with backend.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES ('c')")
                return [r["x"] for r in await conn.fetchall("SELECT x FROM t ORDER BY rowid")]

        later = asyncio.ensure_future(statement_by_statement())
        await asyncio.sleep(0.05)
        release.set()
        assert await asyncio.gather(*steps) == [["a"], ["a", "b"]]
        assert await later == ["a", "b", "c"]
        assert statements.count("COMMIT") == 2
    finally:
        await backend.close()


async def test_steps_queued_before_close_are_committed(tmp_path):
    """stop() cancels the work still running, whose steps (shielded) are already queued: the
    close that follows queues behind them, so they commit on the connection they were queued
    for."""
    backend = SqliteBackend.open(tmp_path / "t.db")
    release, _ = await _held_writer(backend)
    tasks = await _queued(backend, _insert("a"), _insert("b"))
    closing = asyncio.ensure_future(backend.close())
    await asyncio.sleep(0.05)
    release.set()
    await closing
    assert await asyncio.gather(*tasks) == [["a"], ["a", "b"]]
    reopened = SqliteBackend.open(tmp_path / "t.db")
    try:
        assert await _rows(reopened) == ["a", "b"]
    finally:
        await reopened.close()


async def test_a_long_step_closes_its_group_so_the_next_are_not_held_for_it(tmp_path):
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        release, statements = await _held_writer(backend)
        slow_seconds = 5 * STEP_GROUP_SECONDS

        async def slow(db) -> list[str]:
            time.sleep(slow_seconds)  # noqa: ASYNC251 - it runs on the writer's thread, as a big page would
            return await _insert("slow")(db)

        tasks = await _queued(backend, slow, _insert("b"), _insert("c"), _insert("d"))
        release.set()
        answers = await asyncio.gather(*tasks)
        assert answers[-1] == ["slow", "b", "c", "d"]
        # The step taken with the slow one shares its commit; the rest go in the next one.
        assert statements.count("COMMIT") == 2
        assert statements.count("SAVEPOINT step") == 4
    finally:
        await backend.close()


async def test_a_step_that_ends_the_transaction_fails_its_group_and_the_rest_run_on(tmp_path):
    """An error that makes SQLite end the transaction itself (an I/O error, a full disk) undoes
    every step run in it: those fail with it; the steps still queued commit in the next."""
    backend = SqliteBackend.open(tmp_path / "t.db")
    try:
        release, _ = await _held_writer(backend)

        async def ends_it(db) -> None:
            await db.execute("ROLLBACK")  # as SQLite does on SQLITE_FULL
            raise sqlite3.OperationalError("database or disk is full")

        tasks = await _queued(backend, _insert("a"), ends_it, _insert("c"), _insert("d"))
        release.set()
        first, failed, *rest = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(first, sqlite3.OperationalError) and "full" in str(first)
        assert isinstance(failed, sqlite3.OperationalError)
        assert rest == [["c"], ["c", "d"]]
        assert await _rows(backend) == ["c", "d"]
    finally:
        await backend.close()
