"""The event loop the bot runs on: uvloop where it is installed (Linux and macOS), asyncio's
own loop elsewhere (uvloop is not built for Windows).

uvloop runs the poller's status checks on about 5 % less CPU than asyncio's loop (see
benchmarks/poll_sweep.py). `viber-bot run`, the demo and the benchmarks that measure the app
all start their loop here, so that what is measured is what runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows, or an install without it
    uvloop = None  # type: ignore[assignment]

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed; None (asyncio's default) otherwise."""
    return uvloop.new_event_loop if uvloop is not None else None


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the bot's event loop (see loop_factory)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """Which loop `loop` (the running one by default) is: "uvloop" or "asyncio"."""
    loop = loop or asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
