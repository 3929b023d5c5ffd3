"""Benchmark: how a sweep's time, CPU and memory grow with the tracked messages.

Each point is a fresh database (`benchmarks.database.populate`) swept once by the real app in
a fresh child process (`benchmarks.memory.measure_point`), against the BSG simulator in another.
The main series tracks 1,000 / 10,000 / 100,000 messages with 10 % due (the rest half final,
half due later): sweep time and CPU should grow with the due messages, linearly. A second
series keeps the due messages fixed and adds final ones: the sweep should not notice them.

    python -m benchmarks.growth
    python -m benchmarks.growth --sizes 500,5000 --delay 0.005
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import print_metrics, print_table
from benchmarks.memory import measure_point
from benchmarks.poll_sweep import SimulatorProcess

LINEAR_TOLERANCE = 1.5  # a 10x step in due messages may cost up to 15x (CPU per check)
FLAT_TOLERANCE = 1.5  # 100x more final messages may cost up to 1.5x


async def run(
    sizes: list[int], due_share: float, delay: float, concurrency: int, workdir: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    simulator = SimulatorProcess(delay)
    try:
        series = [
            await measure_point(
                simulator,
                messages=size,
                due=max(1, int(size * due_share)),
                final_share=0.5,
                concurrency=concurrency,
                workdir=workdir,
            )
            for size in sizes
        ]
        # The same due messages as the middle point, among far more final ones.
        due = series[len(series) // 2]["due"] if len(series) > 1 else series[0]["due"]
        flat = [
            await measure_point(
                simulator,
                messages=due + extra,
                due=due,
                final_share=1.0,
                concurrency=concurrency,
                workdir=workdir,
            )
            for extra in (0, max(sizes) - due)
        ]
    finally:
        simulator.stop()
    return series, flat


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def figures_of(series: list[dict[str, Any]], flat: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    metrics: list[tuple[str, Any]] = []
    for point in series:
        tag = f"n{point['messages']}"
        metrics += [
            (f"{tag}.due", point["due"]),
            (f"{tag}.sweep_s", point["sweep_s"]),
            (f"{tag}.sweep_cpu_s", point["sweep_cpu_s"]),
            (f"{tag}.cpu_per_check_ms", point["sweep_cpu_s"] / point["checked"] * 1000),
            (f"{tag}.peak_rss_mb", point["peak_rss_mb"]),
        ]
    for before, after in itertools.pairwise(series):
        step = f"n{after['messages']}_vs_n{before['messages']}"
        metrics += [
            (f"{step}.due_ratio", _ratio(after["due"], before["due"])),
            (f"{step}.sweep_time_ratio", _ratio(after["sweep_s"], before["sweep_s"])),
            (f"{step}.sweep_cpu_ratio", _ratio(after["sweep_cpu_s"], before["sweep_cpu_s"])),
            (
                f"{step}.rss_growth_mb",
                after["peak_rss_mb"] - before["peak_rss_mb"],
            ),
        ]
    small, big = flat
    metrics += [
        ("flat.due", small["due"]),
        ("flat.final_added", big["final"] - small["final"]),
        ("flat.sweep_time_ratio", _ratio(big["sweep_s"], small["sweep_s"])),
        ("flat.sweep_cpu_ratio", _ratio(big["sweep_cpu_s"], small["sweep_cpu_s"])),
        ("flat.rss_growth_mb", big["peak_rss_mb"] - small["peak_rss_mb"]),
    ]
    return metrics


def report(series: list[dict[str, Any]], flat: list[dict[str, Any]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for point in series:
        rows.append(
            [
                f"{point['messages']:,} tracked, {point['due']:,} due",
                f"{point['sweep_s']:.2f}",
                f"{point['sweep_cpu_s']:.2f}",
                f"{point['sweep_cpu_s'] / max(1, point['checked']) * 1000:.3f}",
                f"{point['peak_rss_mb']:.1f}",
            ]
        )
    for point in flat:
        rows.append(
            [
                f"{point['due']:,} due + {point['final']:,} final",
                f"{point['sweep_s']:.2f}",
                f"{point['sweep_cpu_s']:.2f}",
                f"{point['sweep_cpu_s'] / max(1, point['checked']) * 1000:.3f}",
                f"{point['peak_rss_mb']:.1f}",
            ]
        )
    return rows


def verdicts(series: list[dict[str, Any]], flat: list[dict[str, Any]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for before, after in itertools.pairwise(series):
        due = _ratio(after["due"], before["due"])
        cpu = _ratio(after["sweep_cpu_s"], before["sweep_cpu_s"])
        wall = _ratio(after["sweep_s"], before["sweep_s"])
        rows.append(
            [
                f"{before['messages']:,} -> {after['messages']:,}: due x{due:g}",
                f"time x{wall:.2f}, CPU x{cpu:.2f}",
                f"CPU <= x{due * LINEAR_TOLERANCE:g}",
                "ok" if cpu <= due * LINEAR_TOLERANCE else "MISSED",
            ]
        )
    small, big = flat
    cpu = _ratio(big["sweep_cpu_s"], small["sweep_cpu_s"])
    wall = _ratio(big["sweep_s"], small["sweep_s"])
    rows.append(
        [
            f"+{big['final'] - small['final']:,} final, same {small['due']:,} due",
            f"time x{wall:.2f}, CPU x{cpu:.2f}",
            f"<= x{FLAT_TOLERANCE:g}",
            "ok" if cpu <= FLAT_TOLERANCE and wall <= FLAT_TOLERANCE else "MISSED",
        ]
    )
    return rows


def missed(series: list[dict[str, Any]], flat: list[dict[str, Any]]) -> bool:
    return any("MISSED" in row[-1] for row in verdicts(series, flat))  # type: ignore[operator]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.growth",
        description="Sweep time, CPU and peak memory against the number of tracked messages.",
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="tracked messages")
    parser.add_argument("--due-share", type=float, default=0.1, help="share due (0.1)")
    parser.add_argument("--delay", type=float, default=0.05, help="BSG status latency (0.05)")
    parser.add_argument("--concurrency", type=int, default=32, help="polls at once (32)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    try:
        args.size_list = sorted(int(part) for part in args.sizes.split(",") if part.strip())
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas")
    if not args.size_list or min(args.size_list) < 1 or not 0 < args.due_share <= 1:
        parser.error("--sizes must be >= 1 and 0 < --due-share <= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from bot import runtime

    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="viber-bot-bench-") as workdir:
        series, flat = runtime.run(
            run(args.size_list, args.due_share, args.delay, args.concurrency, Path(workdir))
        )
    print_metrics("growth", figures_of(series, flat))
    print_table(
        f"growth: one sweep per size, BSG answers after {args.delay * 1000:g} ms",
        ["messages", "sweep (s)", "CPU (s)", "CPU/check (ms)", "peak RSS (MB)"],
        report(series, flat),
    )
    print_table("growth: ratios", ["step", "measured", "target", ""], verdicts(series, flat))
    return 1 if args.strict and missed(series, flat) else 0


if __name__ == "__main__":
    sys.exit(main())
