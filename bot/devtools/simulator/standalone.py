"""The simulator as a server of its own, for `viber-bot simulate-bsg`: until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

from bot.devtools.simulator.server import BsgSimulator


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[str], None] | None = None,
    **options: Any,
) -> None:
    """Run a simulator until SIGINT or SIGTERM (for `viber-bot simulate-bsg`).

    `options` go to `BsgSimulator` (`lifecycles` may be a YAML path); `on_ready` gets the
    base URL once the port is open.
    """
    with contextlib.suppress(KeyboardInterrupt):  # platforms without loop signal handlers
        asyncio.run(_serve(host, port, on_ready, options))


async def _serve(
    host: str, port: int, on_ready: Callable[[str], None] | None, options: dict[str, Any]
) -> None:
    simulator = BsgSimulator(**options)
    url = await simulator.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    if on_ready is not None:
        on_ready(url)
    try:
        await stop.wait()
    finally:
        await simulator.stop()
