"""Benchmark: peak memory of the app's process while one sweep handles the due messages.

A database with `--messages` accepted messages is filled (`benchmarks.database.populate`);
`--due` of them are due now and known to the BSG simulator (a child process, answering each
status after `--delay`), the rest are due in an hour or final. A fresh child process then builds
the real `ViberBot` on that file and runs one `Poller.sweep()`; it reports its peak resident set
(`VmHWM` from /proc/self/status), the same before the sweep, and the sweep's wall and CPU time.

    python -m benchmarks.memory                          # 100,000 messages, 10,000 due
    python -m benchmarks.memory --messages 5000 --due 500 --delay 0.005
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks import print_metrics, print_table, verdict
from benchmarks.ack_load import peak_rss_mb
from benchmarks.database import populate
from benchmarks.poll_sweep import SimulatorProcess, _create_at_bsg, _recipients, _settings

RSS_TARGET_MB = 100.0  # issue 11 (was 150)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _sweep_main(conn: Connection, db_path: str, base_url: str, concurrency: int) -> None:
    from bot import runtime

    conn.send(runtime.run(_sweep(Path(db_path), base_url, concurrency)))
    conn.close()


async def _sweep(db_path: Path, base_url: str, concurrency: int) -> dict[str, Any]:
    from bot.app import ViberBot

    bot = ViberBot(_settings(db_path, base_url, concurrency))
    try:
        gc.collect()
        before = _rss_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        report = await bot.poller.sweep()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await bot.stop()
    return {
        "rss_before_sweep_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "sweep_s": wall,
        "sweep_cpu_s": cpu,
        "checked": report.checked,
        "changed": report.changed,
        "errors": report.errors,
    }


def run_sweep_process(db_path: Path, base_url: str, concurrency: int) -> dict[str, Any]:
    """One sweep by the real app in a fresh (spawned) process; its figures."""
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    process = context.Process(
        target=_sweep_main, args=(child, str(db_path), base_url, concurrency), name="bench-sweep"
    )
    process.start()
    child.close()
    try:
        if not conn.poll(600):
            raise RuntimeError("the sweep process did not report within 600 s")
        return conn.recv()
    finally:
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join(5)
        conn.close()


async def measure_point(
    simulator: SimulatorProcess,
    *,
    messages: int,
    due: int,
    final_share: float,
    concurrency: int,
    workdir: Path,
    changed_share: float = 0.1,
) -> dict[str, Any]:
    """Fill a database (`due` known to the simulator), sweep it in a child process."""
    recipients = _recipients(due, changed_share)
    ids = await _create_at_bsg(simulator.base_url, recipients) if recipients else {}
    db_path = workdir / f"{uuid.uuid4().hex}.db"
    populate_s = await populate(
        db_path,
        rows=messages,
        due=due,
        final_share=final_share,
        now=datetime.now(UTC),
        msisdn=lambda i: recipients[i][0] if i < due else f"3809{i:07d}5",
        reference=lambda i: recipients[i][1] if i < due else f"bench-{i:09d}",
        bsg_id=lambda i: ids[recipients[i][1]] if i < due else f"9{i:011d}",
    )
    figures = run_sweep_process(db_path, simulator.base_url, concurrency)
    figures.update(
        messages=messages,
        due=due,
        final=int((messages - due) * final_share),
        populate_s=populate_s,
        db_mb=db_path.stat().st_size / 2**20,
    )
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory",
        description="Peak RSS of the app's process while a sweep handles the due messages.",
    )
    parser.add_argument("--messages", type=int, default=100_000, help="stored (100000)")
    parser.add_argument("--due", type=int, default=10_000, help="of which due (10000)")
    parser.add_argument("--final", type=float, default=0.5, help="share of the rest final (0.5)")
    parser.add_argument("--delay", type=float, default=0.05, help="BSG status latency (0.05)")
    parser.add_argument("--concurrency", type=int, default=32, help="polls at once (32)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.messages < 1 or not 0 <= args.due <= args.messages or args.concurrency < 1:
        parser.error("--messages >= 1, 0 <= --due <= --messages, --concurrency >= 1")
    return args


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    simulator = SimulatorProcess(args.delay)
    try:
        with tempfile.TemporaryDirectory(prefix="viber-bot-bench-") as workdir:
            return await measure_point(
                simulator,
                messages=args.messages,
                due=args.due,
                final_share=args.final,
                concurrency=args.concurrency,
                workdir=Path(workdir),
            )
    finally:
        simulator.stop()


def report(f: dict[str, Any]) -> list[list[object]]:
    return [
        [
            f"peak RSS (MB), {f['messages']:,} stored, sweep of {f['due']:,} due",
            f"{f['peak_rss_mb']:.1f}",
            f"<= {RSS_TARGET_MB:g}",
            verdict(f["peak_rss_mb"], RSS_TARGET_MB),
        ],
        ["RSS before the sweep (MB)", f"{f['rss_before_sweep_mb']:.1f}", "", ""],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    figures = asyncio.run(_run(args))
    print_metrics("memory", list(figures.items()))
    print_table(
        f"memory: the app's process during one sweep, BSG answers after {args.delay * 1000:g} ms",
        ["figure", "measured", "target", ""],
        report(figures),
    )
    missed = figures["peak_rss_mb"] > RSS_TARGET_MB or figures["checked"] != args.due
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
