"""The one way tests wait: poll a condition until it holds, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll a predicate (sync or async) until it is truthy; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout}s")
        await asyncio.sleep(0.02)
