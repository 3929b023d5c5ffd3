"""Benchmark: `viber-bot --help` wall time (lazy imports), beside a bare interpreter start.

The CLI imports the app, pydantic, rich and the store only for the command that needs them;
the listing of commands must come back within WALL_TARGET_S. The same run times `python -c
pass` as the baseline, so the ratio says how much the CLI itself adds on this machine.

    python -m benchmarks.startup              # 15 runs each
    python -m benchmarks.startup --runs 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import print_metrics, print_table, verdict

WALL_TARGET_S = 0.15


def _wall(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(runs: int) -> dict[str, object]:
    # The script installed beside this interpreter first: a `viber-bot` earlier on PATH may
    # belong to another environment (a pyenv shim answers 127 where it is not installed).
    beside = Path(sys.executable).with_name("viber-bot")
    script = str(beside) if beside.exists() else shutil.which("viber-bot") or str(beside)
    baseline = _wall([sys.executable, "-c", "pass"], runs)
    help_s = _wall([script, "--help"], runs)
    return {
        "runs": runs,
        "help_wall_s": help_s,
        "python_wall_s": baseline,
        "ratio_vs_python": help_s / baseline if baseline else float("nan"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (15)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    figures = measure(max(1, args.runs))
    print_metrics("startup", list(figures.items()))
    help_s = float(figures["help_wall_s"])  # type: ignore[arg-type]
    print_table(
        "startup: `viber-bot --help`",
        ["figure", "measured", "target", ""],
        [
            [
                "viber-bot --help wall (s, median)",
                f"{help_s:.3f}",
                f"<= {WALL_TARGET_S:g}",
                verdict(help_s, WALL_TARGET_S),
            ],
            [
                "python -c pass wall (s), the same run",
                f"{float(figures['python_wall_s']):.3f}",  # type: ignore[arg-type]
                "(baseline)",
                "",
            ],
            ["--help / bare interpreter", f"{float(figures['ratio_vs_python']):.2f}", "", ""],  # type: ignore[arg-type]
        ],
    )
    return 1 if args.strict and help_s > WALL_TARGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
