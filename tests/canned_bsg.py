"""A scripted stand-in for BSG on 127.0.0.1: canned answers per path, every request recorded."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

PREFIX = "/rest"


@dataclass(frozen=True)
class Canned:
    """One scripted answer; `body` may be a callable taking the request's JSON body."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    raw: bool = False  # send `body` (str or bytes) as it is, not as JSON


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # without PREFIX, still URL-encoded
    headers: CIMultiDict[str]  # header names are case-insensitive, as in HTTP
    json: Any


class CannedBsg:
    """Answers each path from its script in order; the last answer repeats once reached."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: dict[tuple[str, str], deque[Canned]] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def script(self, method: str, path: str, *answers: Canned) -> None:
        self._scripts[(method.upper(), path)] = deque(answers)

    def on(self, method: str, path: str, body: Any = None, status: int = 200) -> None:
        """Shorthand for one answer that always repeats."""
        self.script(method, path, Canned(status=status, body=body))

    def made(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}{PREFIX}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        path = request.raw_path.removeprefix(PREFIX).split("?")[0]
        self.requests.append(Recorded(request.method, path, CIMultiDict(request.headers), body))
        queue = self._scripts.get((request.method, path))
        if not queue:
            # 418: not a status the client retries, so a missing script fails fast.
            return web.Response(status=418, text=f"no script for {request.method} {path}")
        canned = queue.popleft() if len(queue) > 1 else queue[0]
        if canned.delay:
            await asyncio.sleep(canned.delay)
        answer = canned.body(body) if callable(canned.body) else canned.body
        if canned.raw:
            payload = answer.encode() if isinstance(answer, str) else answer or b""
            return web.Response(status=canned.status, body=payload, headers=canned.headers)
        return web.Response(
            status=canned.status,
            text=json.dumps(answer),
            content_type="application/json",
            headers=canned.headers,
        )
