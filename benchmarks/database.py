"""Benchmark: the poller's due-for-poll query over a large messages table.

The database is the real schema (`Store.open` applies the migrations); rows are copies of one
send, message and parent post stored through the real `Store` API, bulk-inserted with
`executemany` in one transaction. The query timed is the one `Store.due_for_poll` runs, with
the poller's limit; its plan is printed (`tests/test_query_plan.py` asserts it uses the
(final, next_poll_at) index).

    python -m benchmarks.database                        # 1,000,000 rows, 1,000 due
    python -m benchmarks.database --rows 20000 --due 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import print_metrics, print_table, verdict

if TYPE_CHECKING:
    from storage.store import Store

QUERY_TARGET_MS = 20.0
DUE_FOR_POLL_TARGET_MS = 3.0  # issue 11: Store.due_for_poll + models, 1,000 rows
PER_SEND = 50
CHANNEL = "C0BENCH"
USER = "U0BENCH"
SENDER = "Acme"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


async def _template_rows(store: Store, accepted_at: datetime, now: datetime, msisdn: str) -> None:
    from storage.store import NewRecipient, NewSend
    from tests.seeding import accepted_send

    send, _ = await accepted_send(
        store,
        NewSend(channel_id=CHANNEL, user_id=USER, text="Your order has shipped", sender=SENDER),
        [NewRecipient(msisdn=msisdn, reference="template")],
        now=accepted_at,
        due_at=now,
        bsg_id="template",
    )
    parent = await store.enqueue(
        channel_id=CHANNEL,
        kind="parent",
        payload={"send_id": send.id},
        now=accepted_at,
        send_id=send.id,
    )
    await store.outbox_done(parent, posted_ts="1700000000.000100")


async def populate(
    path: Path,
    *,
    rows: int,
    due: int,
    final_share: float = 0.0,
    now: datetime,
    bsg_id: Callable[[int], str] = lambda index: f"9{index:011d}",
    msisdn: Callable[[int], str] = lambda index: f"3809{index:07d}5",
    reference: Callable[[int], str] = lambda index: f"bench-{index:09d}",
) -> float:
    """Fill a fresh database at `path`: `rows` accepted messages in sends of 50, each send with
    its parent posted. The first `due` messages are due now; of the rest, `final_share` is
    final (delivered and done) and the others are due in an hour. Returns the seconds taken."""
    from storage.store import Store

    started = time.perf_counter()
    accepted_at = now - timedelta(minutes=1)

    # One of each row through the real API: the template every copy is made from.
    store = Store.open(path)
    try:
        async with store.atomic():
            await _template_rows(store, accepted_at, now, msisdn(0))
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    templates = {
        table: dict(conn.execute(f"SELECT * FROM {table}").fetchone())
        for table in ("sends", "messages", "outbox")
    }
    conn.row_factory = None
    for table in ("status_events", "outbox", "messages", "sends"):
        conn.execute(f"DELETE FROM {table}")
    conn.commit()

    def insert(table: str, values: Callable[[int], dict[str, object]], count: int) -> None:
        template = templates[table]
        columns = list(template)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        )

        def generate() -> object:
            for index in range(count):
                row = {**template, **values(index)}
                yield [row[column] for column in columns]

        conn.executemany(sql, generate())

    sends = (rows + PER_SEND - 1) // PER_SEND
    later = _iso(now + timedelta(hours=1))
    due_at = _iso(now - timedelta(seconds=1))
    final_from = rows - int((rows - due) * final_share)
    with conn:
        insert(
            "sends",
            lambda i: {"id": i + 1, "dedupe_key": f"bench-send-{i}", "parent_ts": f"17{i:08d}.1"},
            sends,
        )
        insert(
            "outbox",
            lambda i: {"id": i + 1, "send_id": i + 1, "payload": f'{{"send_id": {i + 1}}}'},
            sends,
        )

        def message(i: int) -> dict[str, object]:
            final = i >= final_from
            return {
                "id": i + 1,
                "send_id": i // PER_SEND + 1,
                "reference": reference(i),
                "msisdn": msisdn(i),
                "bsg_id": bsg_id(i),
                "next_poll_at": None if final else (due_at if i < due else later),
                "final": 1 if final else 0,
                "status": "delivered" if final else templates["messages"]["status"],
            }

        insert("messages", message, rows)
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


async def due_query_sql(
    store: Store | None = None, now: datetime | None = None, limit: int = 7
) -> str:
    """The SQL `Store.due_for_poll(now, limit)` runs, values bound, caught with SQLite's trace
    hook on the store's own read connection (not copied from the store)."""
    from storage.sqlite import SqliteBackend
    from storage.store import Store

    own = store is None
    store = store or Store.memory()
    assert isinstance(store.backend, SqliteBackend)
    seen: list[str] = []
    await store.backend.on_reader(lambda conn: conn.set_trace_callback(seen.append))
    try:
        await store.due_for_poll(now or datetime.now(UTC), limit=limit)
    finally:
        await store.backend.on_reader(lambda conn: conn.set_trace_callback(None))
        if own:
            await store.close()
    statements = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    if len(statements) != 1:
        raise RuntimeError(f"due_for_poll ran {statements!r}, expected one SELECT")
    return statements[0]


def query_plan(path: Path, sql: str) -> list[str]:
    """SQLite's plan for `sql` on the database file at `path`."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]


def measure(rows: int, due: int, workdir: Path, repeat: int = 7) -> dict[str, object]:
    from bot.tracking.poller import SWEEP_LIMIT
    from storage.store import Store

    now = datetime.now(UTC)
    path = workdir / "database.db"
    populate_s = asyncio.run(populate(path, rows=rows, due=due, final_share=0.5, now=now))

    async def timed(action: Callable[[], Awaitable[int]]) -> tuple[float, int]:
        times, count = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            count = await action()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times), count

    async def run() -> tuple[str, float, int, float]:
        store = Store.open(path)
        try:
            sql = await due_query_sql(store, now, SWEEP_LIMIT)
            conn = sqlite3.connect(path)

            async def plain() -> int:
                return len(conn.execute(sql).fetchall())

            async def call() -> int:
                return len(await store.due_for_poll(now, limit=SWEEP_LIMIT))

            async def ids() -> int:
                return len(await store.due_ids(now, limit=SWEEP_LIMIT))

            sql_ms, found = await timed(plain)
            conn.close()
            call_ms, _ = await timed(call)
            ids_ms, _ = await timed(ids)
        finally:
            await store.close()
        return sql, sql_ms, found, call_ms, ids_ms

    sql, sql_ms, found, call_ms, ids_ms = asyncio.run(run())
    plan = query_plan(path, sql)
    return {
        "rows": rows,
        "due": due,
        "found": found,
        "limit": SWEEP_LIMIT,
        "populate_s": populate_s,
        "query_ms": sql_ms,  # the SQL alone: SQLite finds and returns the due rows
        "due_for_poll_ms": call_ms,  # the Store call: the query plus a model per row
        # What a sweep alone reads first: (id, send) pairs; it loads the messages by pages.
        "due_ids_ms": ids_ms,
        "uses_index": any("idx_messages_final_next_poll_at" in step for step in plan),
        "plan": " | ".join(plan),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.database",
        description="Time the due-for-poll query over a large messages table.",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="message rows (1000000)")
    parser.add_argument("--due", type=int, default=1_000, help="of which due now (1000)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.rows < 1 or not 0 <= args.due <= args.rows:
        parser.error("--rows must be >= 1 and 0 <= --due <= --rows")
    return args


def report(figures: dict[str, object]) -> list[list[object]]:
    query_ms = float(figures["query_ms"])  # type: ignore[arg-type]
    return [
        [
            f"due query, {figures['rows']:,} rows, {figures['due']:,} due (ms)",
            f"{query_ms:.2f}",
            f"<= {QUERY_TARGET_MS:g}",
            verdict(query_ms, QUERY_TARGET_MS),
        ],
        [
            "Store.due_for_poll, query + models (ms)",
            f"{float(figures['due_for_poll_ms']):.2f}",  # type: ignore[arg-type]
            f"<= {DUE_FOR_POLL_TARGET_MS:g}",
            verdict(float(figures["due_for_poll_ms"]), DUE_FOR_POLL_TARGET_MS),  # type: ignore[arg-type]
        ],
        [
            "Store.due_ids, what a sweep alone reads first (ms)",
            f"{float(figures['due_ids_ms']):.2f}",  # type: ignore[arg-type]
            "",
            "",
        ],
        [
            "due query uses (final, next_poll_at) index",
            figures["uses_index"],
            "True",
            "ok" if figures["uses_index"] else "MISSED",
        ],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="viber-bot-bench-") as workdir:
        figures = measure(args.rows, args.due, Path(workdir))
    print_metrics("database", list(figures.items()))
    print_table(
        f"database: due-for-poll query, {args.rows:,} rows",
        ["figure", "measured", "target", ""],
        report(figures),
    )
    missed = float(figures["query_ms"]) > QUERY_TARGET_MS or not figures["uses_index"]  # type: ignore[arg-type]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
