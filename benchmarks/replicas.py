"""Benchmark: replicas on PostgreSQL against one SQLite process, in the same run.

1. A sweep over N due messages (10,000) with 1, 2 and 4 replica processes sharing one
   PostgreSQL database (leases split the work): wall time, CPU per status check, checks per
   second, and the knee where adding replicas stops paying (2 cores); SQLite's one process on
   the same messages beside it. Every message must be checked exactly once in each run.
2. Ack p99 of signed `send` commands with two replicas behind a round-robin front, against
   one SQLite process under the same load.
3. The due query with 1,000,000 rows on PostgreSQL (EXPLAIN: its partial index) and on SQLite.

The BSG simulator (and for 2 the Slack stand-in) run in their own processes; PostgreSQL is a
throw-away server (bot/devtools/postgres_server.py) unless --postgres-url names one.

    python -m benchmarks.replicas
    python -m benchmarks.replicas --messages 500 --replicas 1,2 --commands 20 --rows 20000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from benchmarks import ack_load, database, poll_sweep, print_metrics, print_table

SCALING_TARGET = 0.7  # a doubling of replicas should give at least 70% more checks per second
ACK_P99_TARGET_MS = ack_load.P99_TARGET_MS
DUE_TARGET_MS = 50.0  # the due query at 1M rows, on either backend


def loadavg() -> str:
    """The machine's 1-minute load average now (others share it: read figures beside it)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


# ---------------------------------------------------------------- a PostgreSQL to use


class Postgres:
    """A database per run on a throw-away server, or on the server --postgres-url names."""

    def __init__(self, url: str | None):
        self._server = None
        self._base = url
        if url is None:
            from bot.devtools.postgres_server import start_server

            self._server = start_server()

    def fresh(self) -> str:
        import psycopg

        if self._server is not None:
            return self._server.create_database()
        assert self._base is not None
        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self._base.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self._server is not None:
            self._server.destroy()


# ---------------------------------------------------------------- 1. the sweep


def _settings_env(
    database_setting: str, bsg_url: str, concurrency: int, claim_batch: int
) -> dict[str, Any]:
    return {
        "VIBER_BOT_CLAIM_BATCH": claim_batch,
        "SLACK_BOT_TOKEN": "xoxb-bench-0123456789",
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never called: the outbox is not started
        "BSG_API_KEY": poll_sweep.API_KEY,
        "BSG_API_URL": bsg_url,
        "VIBER_BOT_DB": database_setting,
        "VIBER_BOT_DEFAULT_SENDER": poll_sweep.SENDER,
        "VIBER_BOT_POLL_CONCURRENCY": concurrency,
        "VIBER_BOT_LOG_LEVEL": "WARNING",
    }


def _replica_main(conn: Connection, env: dict[str, Any]) -> None:
    from bot import runtime

    runtime.run(_replica(conn, env))


async def _replica(conn: Connection, env: dict[str, Any]) -> None:
    """Child process: one replica's poller sweeping until nothing is due, on "go"."""
    from bot.app import ViberBot
    from bot.settings import load_settings

    # Every replica sweeps "as of" one instant: a message checked is rescheduled after it and
    # never comes due again in this run, however long the run takes on a loaded machine, so
    # each of the N messages is checked once (a second check would be a lease failure).
    as_of = datetime.fromisoformat(env.pop("AS_OF"))
    bot = ViberBot(load_settings(_env_file=None, **env), clock=lambda: as_of)
    try:
        conn.send("ready")
        await asyncio.to_thread(conn.recv)
        wall, cpu = time.perf_counter(), time.process_time()
        checked = errors = 0
        while True:
            report = await bot.poller.sweep()
            checked += report.checked
            errors += report.errors
            if report.checked == 0:
                break
        conn.send(
            {
                "checked": checked,
                "errors": errors,
                "cpu_s": time.process_time() - cpu,
                "wall_s": time.perf_counter() - wall,
            }
        )
    finally:
        await bot.stop()


def sweep_with(
    database_setting: str, bsg_url: str, replicas: int, concurrency: int, claim_batch: int
) -> dict:
    """Start `replicas` processes on one database, let them sweep together; their figures."""
    context = multiprocessing.get_context("spawn")
    env = _settings_env(database_setting, bsg_url, concurrency, claim_batch)
    env["AS_OF"] = datetime.now(UTC).isoformat()
    pipes, processes = [], []
    for index in range(replicas):
        parent, child = context.Pipe()
        process = context.Process(
            target=_replica_main, args=(child, env), name=f"bench-replica-{index}", daemon=True
        )
        process.start()
        child.close()
        pipes.append(parent)
        processes.append(process)
    try:
        for pipe in pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise RuntimeError("a replica did not start")
        load_before = loadavg()
        started = time.perf_counter()
        for pipe in pipes:
            pipe.send("go")
        results = [pipe.recv() for pipe in pipes]
        wall = time.perf_counter() - started
        load_after = loadavg()
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.terminate()
    checked = sum(r["checked"] for r in results)
    cpu = sum(r["cpu_s"] for r in results)
    return {
        "replicas": replicas,
        "checked": checked,
        "errors": sum(r["errors"] for r in results),
        "per_replica": [r["checked"] for r in results],
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_per_check_ms": cpu / max(1, checked) * 1000,
        "checks_per_s": checked / wall if wall else float("nan"),
        "loadavg": f"{load_before}->{load_after}",
    }


async def _seed_sqlite(path: Path, bsg_url: str, messages: int) -> None:
    from bot.clock import utcnow
    from storage.store import Store

    recipients = poll_sweep._recipients(messages, 0.1)
    ids = await poll_sweep._create_at_bsg(bsg_url, recipients)
    store = Store.open(path)
    try:
        # Due already: every run, seeded from this file, finds every message due.
        await poll_sweep._store_accepted(store, recipients, ids, 10, utcnow())
    finally:
        await store.close()


def _load_at_start(run: dict) -> float:
    """The load average when the run began ("4.64->4.41" -> 4.64; 0 where unknown)."""
    try:
        return float(run["loadavg"].split("->")[0])
    except ValueError:
        return 0.0


def knee(runs: list[dict]) -> int:
    """The replica count after which doubling gives less than SCALING_TARGET more checks/s."""
    best = runs[0]["replicas"]
    for before, after in itertools.pairwise(runs):
        gain = after["checks_per_s"] / before["checks_per_s"] - 1
        factor = after["replicas"] / before["replicas"] - 1
        if gain < SCALING_TARGET * factor:
            return before["replicas"]
        best = after["replicas"]
    return best


def run_sweeps(
    postgres: Postgres, workdir: Path, *, messages: int, counts: list[int], delay: float,
    concurrency: int, claim_batch: int,
) -> dict[str, Any]:  # fmt: skip
    from storage.sqlite_copy import copy_sqlite

    simulator = poll_sweep.SimulatorProcess(get_delay=delay)
    try:
        seed = workdir / "seed.db"
        asyncio.run(_seed_sqlite(seed, simulator.base_url, messages))
        # The SQLite process first, on a copy of the seed (the seed stays pristine).
        sqlite_copy = workdir / "sqlite-run.db"
        sqlite_copy.write_bytes(seed.read_bytes())
        sqlite_run = sweep_with(str(sqlite_copy), simulator.base_url, 1, concurrency, claim_batch)
        runs = []
        for count in counts:
            url = postgres.fresh()
            copy_sqlite(seed, url)
            runs.append(sweep_with(url, simulator.base_url, count, concurrency, claim_batch))
    finally:
        simulator.stop()
    return {"sqlite": sqlite_run, "postgres": runs, "knee": knee(runs), "messages": messages}


# ---------------------------------------------------------------- 2. ack p99


def _number(run: int, index: int) -> str:
    return f"38097{run}{index:06d}5"  # digits only, as BSG receives it; distinct per run


async def _round_robin(urls: list[str], commands: int, in_flight: int, run: int) -> list[float]:
    from tests.slack_requests import slash_command

    limit = asyncio.Semaphore(in_flight)
    times: list[float] = []
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:

        async def one(index: int) -> None:
            body, headers = slash_command(
                ack_load.SIGNING_SECRET,
                text=f"send +{_number(run, index)} Your order has shipped",
                user_id=ack_load.USER,
                channel_id=ack_load.CHANNEL,
            )
            url = urls[index % len(urls)]  # the round-robin front
            async with limit:
                started = time.perf_counter()
                response = await http.post(f"{url}/slack/events", content=body, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")

        await asyncio.gather(*(one(index) for index in range(commands)))
    return times


def _accepted(database_setting: str) -> int:
    """Messages stored with BSG's id, read beside the running replicas."""
    sql = "SELECT count(*) FROM messages WHERE bsg_id IS NOT NULL"
    if database_setting.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(database_setting) as conn:
            row = conn.execute(sql).fetchone()
    else:
        with contextlib.closing(sqlite3.connect(database_setting, timeout=5)) as conn:
            row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def run_acks(
    postgres: Postgres, workdir: Path, *, commands: int, in_flight: int, create_delay: float
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    fakes = ack_load.Fakes(create_delay=create_delay)
    try:
        for run, (name, settings, count) in enumerate(
            (("sqlite", str(workdir / "ack.db"), 1), ("postgres", postgres.fresh(), 2))
        ):
            apps = [
                ack_load.AppProcess(ack_load.app_env(fakes, Path(settings), VIBER_BOT_DB=settings))
                for _ in range(count)
            ]
            numbers = [_number(run, index) for index in range(commands)]
            load_before = loadavg()
            try:
                times = asyncio.run(_round_robin([a.url for a in apps], commands, in_flight, run))
                # Every send reaches BSG and is stored as accepted (after its ack) before the
                # replicas stop: stopping them under their deliveries would log failures.
                asyncio.run(
                    ack_load.wait_until(
                        lambda s=settings: _accepted(s) >= commands,
                        within=create_delay * commands / max(1, in_flight) + 60,
                        step=0.2,
                    )
                )
                sent_to = fakes.stats(numbers)["sent_to"]
            finally:
                for app in apps:
                    app.stop()
            figures[name] = {
                "replicas": count,
                "p50_ms": ack_load.percentile(times, 0.50),
                "p99_ms": ack_load.percentile(times, 0.99),
                "sent_exactly_once": sent_to.get(1, 0),
                "loadavg": f"{load_before}->{loadavg()}",
            }
    finally:
        fakes.stop()
    return figures


# ---------------------------------------------------------------- 3. the due query


def postgres_plan(url: str, sql: str, params: Sequence[Any]) -> dict[str, Any]:
    """EXPLAIN (FORMAT JSON) of one statement in portable SQL: its top plan node."""
    import psycopg

    from storage.postgres import pyformat

    with psycopg.connect(url) as conn:
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {pyformat(sql)}", list(params)).fetchone()
    return row[0][0]["Plan"]


def plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(plan_nodes(child))
    return nodes


def uses_due_index(plan: dict[str, Any]) -> bool:
    """The due query reads messages through messages_due, never a scan of the whole table."""
    nodes = plan_nodes(plan)
    on_messages = [n for n in nodes if n.get("Relation Name") == "messages"]
    return bool(on_messages) and all(n.get("Index Name") == "messages_due" for n in on_messages)


async def _time_due(store: Any, now: datetime, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await store.due_for_poll(now, limit=poll_sweep_limit())
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def poll_sweep_limit() -> int:
    from bot.tracking.poller import SWEEP_LIMIT

    return SWEEP_LIMIT


def run_due(postgres: Postgres, workdir: Path, *, rows: int, due: int, repeat: int) -> dict:
    import psycopg

    from storage.messages import DUE_SQL  # what Store.due_for_poll sends
    from storage.records import ts
    from storage.sqlite_copy import copy_sqlite
    from storage.store import Store

    now = datetime.now(UTC)
    path = workdir / "due.db"
    populate_s = asyncio.run(database.populate(path, rows=rows, due=due, final_share=0.9, now=now))
    url = postgres.fresh()
    started = time.perf_counter()
    copy_sqlite(path, url)
    copy_s = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    plan = postgres_plan(url, DUE_SQL, [ts(now), poll_sweep_limit()])

    async def measure(target: str | Path) -> tuple[float, int]:
        store = Store.open(target)
        try:
            found = len(await store.due_for_poll(now, limit=poll_sweep_limit()))
            return await _time_due(store, now, repeat), found
        finally:
            await store.close()

    sqlite_ms, sqlite_found = asyncio.run(measure(path))
    postgres_ms, postgres_found = asyncio.run(measure(url))
    return {
        "rows": rows,
        "due": due,
        "populate_s": populate_s,
        "copy_s": copy_s,
        "sqlite_ms": sqlite_ms,
        "postgres_ms": postgres_ms,
        "found": min(sqlite_found, postgres_found),
        "index_used": uses_due_index(plan),
        "plan": json.dumps(plan)[:300],
    }


# ---------------------------------------------------------------- report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000, help="due messages per sweep")
    parser.add_argument("--replicas", default="1,2,4", help="replica counts to sweep with")
    parser.add_argument("--delay", type=float, default=0.02, help="BSG seconds per status GET")
    parser.add_argument("--concurrency", type=int, default=16, help="GETs under way per replica")
    parser.add_argument("--claim-batch", type=int, default=500, help="messages per claim")
    parser.add_argument("--commands", type=int, default=200, help="send commands for the ack p99")
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--create-delay", type=float, default=0.2)
    parser.add_argument("--rows", type=int, default=1_000_000, help="messages for the due query")
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--postgres-url", help="a server to use instead of a throw-away one")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(part) for part in args.replicas.split(",") if part.strip()]
    postgres = Postgres(args.postgres_url)
    try:
        with tempfile.TemporaryDirectory(prefix="viber-bench-replicas-") as folder:
            workdir = Path(folder)
            sweeps = run_sweeps(
                postgres,
                workdir,
                messages=args.messages,
                counts=counts,
                delay=args.delay,
                concurrency=args.concurrency,
                claim_batch=args.claim_batch,
            )
            acks = run_acks(
                postgres,
                workdir,
                commands=args.commands,
                in_flight=args.in_flight,
                create_delay=args.create_delay,
            )
            due = run_due(postgres, workdir, rows=args.rows, due=args.due, repeat=args.repeat)
    finally:
        postgres.stop()

    lite = sweeps["sqlite"]
    # Others' work already filling the cores when a sweep began: adding replicas then only
    # divides what is left, and the knee says more about the box than about the leases.
    cores = os.cpu_count() or 1
    saturated = any(_load_at_start(run) >= cores for run in [lite, *sweeps["postgres"]])
    metrics: list[tuple[str, object]] = [
        ("messages", sweeps["messages"]),
        ("get_delay_s", args.delay),
        ("sqlite.wall_s", lite["wall_s"]),
        ("sqlite.checks_per_s", lite["checks_per_s"]),
        ("sqlite.cpu_per_check_ms", lite["cpu_per_check_ms"]),
        ("sqlite.checked", lite["checked"]),
        ("sqlite.loadavg", lite["loadavg"]),
    ]
    for run in sweeps["postgres"]:
        n = run["replicas"]
        metrics += [
            (f"pg{n}.wall_s", run["wall_s"]),
            (f"pg{n}.checks_per_s", run["checks_per_s"]),
            (f"pg{n}.cpu_per_check_ms", run["cpu_per_check_ms"]),
            (f"pg{n}.checked", run["checked"]),
            (f"pg{n}.errors", run["errors"]),
            (f"pg{n}.per_replica", "/".join(str(c) for c in run["per_replica"])),
            (f"pg{n}.cpu_vs_sqlite", run["cpu_per_check_ms"] / lite["cpu_per_check_ms"]),
            (f"pg{n}.loadavg", run["loadavg"]),
        ]
    first = sweeps["postgres"][0]["checks_per_s"]
    metrics += [
        ("knee_replicas", sweeps["knee"]),
        ("knee_blurred_by_load", saturated),
        ("pg_vs_sqlite_1", first / lite["checks_per_s"]),
        ("checked_exactly_once", all(r["checked"] == sweeps["messages"] for r in sweeps["postgres"])
         and lite["checked"] == sweeps["messages"]),
        ("ack.sqlite1.p99_ms", acks["sqlite"]["p99_ms"]),
        ("ack.pg2.p99_ms", acks["postgres"]["p99_ms"]),
        ("ack.sqlite1.p50_ms", acks["sqlite"]["p50_ms"]),
        ("ack.pg2.p50_ms", acks["postgres"]["p50_ms"]),
        ("ack.sqlite1.sent_exactly_once", acks["sqlite"]["sent_exactly_once"]),
        ("ack.pg2.sent_exactly_once", acks["postgres"]["sent_exactly_once"]),
        ("ack.sqlite1.loadavg", acks["sqlite"]["loadavg"]),
        ("ack.pg2.loadavg", acks["postgres"]["loadavg"]),
        ("due.rows", due["rows"]),
        ("due.sqlite_ms", due["sqlite_ms"]),
        ("due.postgres_ms", due["postgres_ms"]),
        ("due.found", due["found"]),
        ("due.index_used", due["index_used"]),
        ("due.copy_s", due["copy_s"]),
    ]  # fmt: skip
    print_metrics("replicas", metrics)
    rows: list[list[object]] = [
        ["SQLite, 1 process", f"{lite['wall_s']:.2f}", f"{lite['cpu_per_check_ms']:.3f}",
         f"{lite['checks_per_s']:.0f}", "1.00", lite["loadavg"]],
    ]  # fmt: skip
    for run in sweeps["postgres"]:
        rows.append(
            [
                f"PostgreSQL, {run['replicas']} replica(s)",
                f"{run['wall_s']:.2f}",
                f"{run['cpu_per_check_ms']:.3f}",
                f"{run['checks_per_s']:.0f}",
                f"{run['checks_per_s'] / first:.2f}",
                run["loadavg"],
            ]
        )
    print_table(
        f"Sweep of {sweeps['messages']} due messages (BSG {args.delay * 1000:g} ms per GET, "
        f"{args.concurrency} per replica); knee at {sweeps['knee']} replica(s)"
        + (f" (blurred: load >= {cores} cores at the start)" if saturated else ""),
        ["", "wall s", "CPU ms / check", "checks / s", "x 1 replica", "load 1m"],
        rows,
    )
    print_table(
        f"Ack of {args.commands} sends, {args.in_flight} in flight (a comparison: issue 11's "
        f"p99 < {ACK_P99_TARGET_MS:g} ms is for one process alone)",
        ["", "p50 ms", "p99 ms"],
        [
            ["SQLite, 1 process", f"{acks['sqlite']['p50_ms']:.0f}",
             f"{acks['sqlite']['p99_ms']:.0f}"],
            ["PostgreSQL, 2 replicas round-robin", f"{acks['postgres']['p50_ms']:.0f}",
             f"{acks['postgres']['p99_ms']:.0f}"],
        ],
    )  # fmt: skip
    print_table(
        f"The due query, {due['rows']:,} rows, {due['due']} due (target < {DUE_TARGET_MS:g} ms)",
        ["", "median ms", "index"],
        [
            ["SQLite", f"{due['sqlite_ms']:.2f}", "final, next_poll_at"],
            ["PostgreSQL", f"{due['postgres_ms']:.2f}",
             "messages_due" if due["index_used"] else "NOT USED"],
        ],
    )  # fmt: skip
    good = (
        all(r["checked"] == sweeps["messages"] and r["errors"] == 0 for r in sweeps["postgres"])
        and lite["checked"] == sweeps["messages"]
        and all(a["sent_exactly_once"] == args.commands for a in acks.values())
        and due["index_used"]
        and due["found"] == due["due"]
    )
    return 0 if good else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
