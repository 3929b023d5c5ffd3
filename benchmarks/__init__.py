"""Scripts that measure what the performance issues name (see benchmarks/README.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table


def print_metrics(prefix: str, metrics: Iterable[tuple[str, object]]) -> None:
    """The machine-readable part of a report: one `prefix.metric=value` line each."""
    for name, value in metrics:
        if isinstance(value, float):
            value = f"{value:.6g}"
        print(f"{prefix}.{name}={value}", flush=True)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """The human part of a report: a short table."""
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console(width=max(100, len(title) + 4)).print(table)


def verdict(value: float, target: float) -> str:
    """`ok` when a figure meets its (upper-bound) target."""
    return "ok" if value <= target else "MISSED"
