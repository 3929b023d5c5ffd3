"""Scripted faults of the simulator: the next requests to a path failing or hanging, and
kept-alive connections closed under the client after an answer."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

from aiohttp import web

REST = "/rest"


@dataclass
class Failure:
    prefix: str
    remaining: int
    status: int | Literal["timeout"]
    retry_after: float | None
    after_processing: bool


class FaultScripting:
    """Mixed into BsgSimulator: `fail_next`, `clear_failures` and the connection drops of
    `drop_connections`, as the middleware applies them."""

    _failures: list[Failure]
    _stopping: asyncio.Event
    hang_seconds: float
    dropped_connections: int
    _drop_rng: random.Random

    def fail_next(
        self,
        path_prefix: str,
        count: int = 1,
        status: int | Literal["timeout"] = 500,
        *,
        retry_after: float | None = None,
        after_processing: bool = False,
    ) -> None:
        """Make the next `count` requests whose path starts with `path_prefix` fail."""
        if status != "timeout" and not (isinstance(status, int) and 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400..599) or 'timeout'")
        prefix = path_prefix if path_prefix.startswith(REST) else REST + path_prefix
        if status == 429 and retry_after is None:
            retry_after = 1.0
        self._failures.append(Failure(prefix, count, status, retry_after, after_processing))

    def clear_failures(self) -> None:
        """Forget every failure scripted with fail_next: BSG is healthy again."""
        self._failures.clear()

    def _take_failure(self, path: str) -> Failure | None:
        for failure in self._failures:
            if path.startswith(failure.prefix):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    async def _fail(self, failure: Failure) -> web.Response:
        if failure.status == "timeout":
            await self._pause(self.hang_seconds)
            return web.json_response({"code": 504, "message": "Gateway Timeout"}, status=504)
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        try:
            reason = HTTPStatus(failure.status).phrase
        except ValueError:
            reason = "Error"
        return web.json_response(
            {"code": failure.status, "message": reason}, status=failure.status, headers=headers
        )

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _answer_then_close(self, request: web.Request, response: web.StreamResponse) -> None:
        """The answer goes out whole, then the kept-alive connection is closed under the
        client, as servers and load balancers do with idle connections: the client's next
        request on it meets a closed socket (a "stale keep-alive" connection)."""
        await response.prepare(request)
        await response.write_eof()
        transport = request.transport
        if transport is not None:
            self.dropped_connections += 1
            # Read nothing more, and close a moment later: a request the client sends on
            # it meanwhile is never seen, as with an idle connection closed under it.
            transport.pause_reading()
            asyncio.get_running_loop().call_later(
                self._drop_rng.uniform(0.0, 0.005), transport.close
            )
