"""The SQLite backend's connection thread: calls run in the order queued, on one thread, off
the event loop; a caller that stops waiting leaves its call to run; errors come back."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from storage.sqlite import SqliteBackend


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
