"""The one place that reads the wall clock, so tests and benchmarks can replace it; and the
sweeps' grid of ticks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

# The scheduler never runs a job before its time, but its own arithmetic (float timestamps)
# may put a tick a microsecond off ours: a sweep that starts this close before a tick of ours
# belongs to it.
TICK_TOLERANCE = timedelta(milliseconds=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Grid:
    """Ticks at `start + k x every` (k = 0, 1, …): when APScheduler 3's interval trigger fires
    the sweep job. With `coalesce`, a late or skipped run is one run at the latest tick."""

    start: datetime
    every: timedelta

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ValueError("a grid needs a positive interval")

    def tick(self, at: datetime) -> datetime:
        """The latest tick not after `at` (within TICK_TOLERANCE): the one a sweep starting at
        `at` was scheduled for (its lateness is `at - tick`). Before the grid starts, `at`
        itself (a sweep off the grid counts from its own start)."""
        if at < self.start - TICK_TOLERANCE:
            return at
        ticks = (at - self.start + TICK_TOLERANCE) // self.every
        return self.start + ticks * self.every


def offset_of(clock: Clock) -> timedelta:
    """How far `clock` is from the wall clock: nothing for the wall clock itself (exactly);
    for another (a test's: wall time plus an offset it moves), to the millisecond. Two reads
    are microseconds apart; rounded, the offset is the same at every tick, so ticks on `clock`
    stay exactly one interval apart."""
    if clock is utcnow:
        return timedelta(0)
    wall = utcnow()
    skew = clock() - wall
    return round(skew / timedelta(milliseconds=1)) * timedelta(milliseconds=1)
