"""The event loop the bot runs on: uvloop where it is installed (Linux and macOS), asyncio's
own loop elsewhere (uvloop is not built for Windows).

uvloop runs the poller's status checks on a few per cent less CPU than asyncio's loop (see
benchmarks/poll_sweep.py). `viber-bot run`, the demo and poll_sweep start their loop here, and
serve() and poll_sweep settle the collector the same way (settle_memory), so that what is
measured is what runs.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows, or an install without it
    uvloop = None  # type: ignore[assignment]

T = TypeVar("T")
GC_YOUNG_THRESHOLD = 7000  # allocations between young-generation collections (Python: 700)


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


def settle_memory() -> None:
    """Once start-up is done: the collector's settings the running bot keeps.

    What start-up made (modules, Bolt, settings, clients) lives as long as the process: out
    of the collector's full passes, which otherwise stop the event loop for 100 ms or more
    in the middle of a burst of commands. The youngest generation is collected after 10x
    Python's default allocations: a burst of 200 commands then runs no full pass at all.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
