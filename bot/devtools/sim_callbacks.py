"""The BSG simulator's delivery callbacks: POSTs to each create's `callback_url` as statuses change.

BSG documents no callback body, so the simulator sends a few plausible shapes (JSON, a form,
an empty body) and can be made unreliable: a delay, a loss rate, duplicates and reordering.

    sim.callbacks.delay = 0.05       # real seconds from the change to the POST
    sim.callbacks.loss = 0.3         # 30 % of callbacks never sent
    sim.callbacks.duplicates = 0.2   # 20 % sent twice
    sim.callbacks.reorder = 0.5      # up to 0.5 s of random extra delay, so order shuffles
    sim.callbacks.shapes = ("json", "form", "empty")
    sim.callbacks.enabled = False    # the creates' URLs are ignored

A change is noticed by a scan every `scan_interval` real seconds of the simulator's clock, so a
test's fake clock that jumps is followed too. `set_status` notifies at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp

if TYPE_CHECKING:
    from bot.devtools.simulator import SimMessage, Snapshot

logger = logging.getLogger(__name__)

SHAPES = ("json", "form", "empty")


@dataclass
class _Watched:
    msg: SimMessage
    viber: str | None = None
    sms: str | None = None


@dataclass(frozen=True)
class SentCallback:
    """One POST the simulator made (or meant to make, when `lost`)."""

    url: str
    message_id: str
    channel: str  # viber | sms
    status: str
    shape: str
    lost: bool
    answer: int | None = None


class CallbackSender:
    """Watches accepted messages that named a callback URL and calls it on every change."""

    def __init__(self, clock: Callable[[], datetime], *, seed: int = 0) -> None:
        self.clock = clock
        self.enabled = True
        self.delay = 0.0
        self.loss = 0.0
        self.duplicates = 0.0
        self.reorder = 0.0
        self.shapes: tuple[str, ...] = SHAPES
        self.scan_interval = 0.05
        self.concurrency = 64
        self.sent: list[SentCallback] = []
        self.counts: Counter[str] = Counter()
        # Seconds from each POST to the bot's answer (its status line), as BSG would wait.
        self.answer_times: list[float] = []
        self._rng = random.Random(seed)
        self._shape_turn = 0
        self._watched: dict[str, _Watched] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scanner: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._limit: asyncio.Semaphore | None = None

    # ------------------------------------------------------------ hooks from the simulator

    def watch(self, msg: SimMessage) -> None:
        """A message was accepted: its changes from now on are called back."""
        if not self.enabled or not (msg.callback_url or msg.sms_callback_url):
            return
        self._watched[msg.id] = _Watched(msg)
        self._check(self._watched[msg.id])
        self._ensure_scanner()

    def changed(self, msg: SimMessage) -> None:
        """`set_status` moved a message: call back at once."""
        if not self.enabled or not (msg.callback_url or msg.sms_callback_url):
            return
        watched = self._watched.setdefault(msg.id, _Watched(msg))
        self._check(watched)
        self._ensure_scanner()

    async def stop(self) -> None:
        if self._scanner is not None:
            self._scanner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scanner
            self._scanner = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # a bug in the sender: say so, but let the simulator stop
                logger.exception("BSG simulator: a callback post failed")
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ watching

    def _ensure_scanner(self) -> None:
        if self._scanner is None or self._scanner.done():
            self._scanner = asyncio.ensure_future(self._scan())

    async def _scan(self) -> None:
        while self._watched:
            await asyncio.sleep(self.scan_interval)
            for watched in list(self._watched.values()):
                self._check(watched)

    def _check(self, watched: _Watched) -> None:
        msg = watched.msg
        now = self.clock()
        snap: Snapshot = msg.snapshot(now)
        if snap.viber != watched.viber:
            watched.viber = snap.viber
            self._call(msg, "viber", snap.viber, msg.callback_url)
        if snap.sms is not None and snap.sms != watched.sms:
            watched.sms = snap.sms
            self._call(msg, "sms", snap.sms, msg.sms_callback_url or msg.callback_url)
        if msg.forced is None and msg.finished(now):
            self._watched.pop(msg.id, None)

    # ------------------------------------------------------------ calling

    def _next_shape(self) -> str:
        shape = self.shapes[self._shape_turn % len(self.shapes)]
        self._shape_turn += 1
        return shape

    def _call(self, msg: SimMessage, channel: str, status: str, url: str | None) -> None:
        if url is None:
            return
        shape = self._next_shape()
        if self._rng.random() < self.loss:
            self.counts["lost"] += 1
            self.sent.append(SentCallback(url, msg.id, channel, status, shape, lost=True))
            return
        copies = 2 if self._rng.random() < self.duplicates else 1
        for _ in range(copies):
            wait = self.delay + (self._rng.random() * self.reorder if self.reorder else 0.0)
            task = asyncio.ensure_future(self._post(url, msg, channel, status, shape, wait))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(
        self, url: str, msg: SimMessage, channel: str, status: str, shape: str, wait: float
    ) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10), trust_env=False
            )
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.concurrency)
        fields = {"id": msg.id, "reference": msg.reference or "", "status": status}
        if channel == "sms" and msg.sms is not None:
            fields = {"id": msg.sms.id, "reference": msg.reference or "", "status": status}
        if shape == "json":
            data: bytes = json.dumps(fields).encode()
            headers = {"Content-Type": "application/json"}
        elif shape == "form":
            data = urlencode(fields).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            data, headers = b"", {}
        answer: int | None = None
        async with self._limit:
            try:
                started = time.perf_counter()
                async with self._session.post(url, data=data, headers=headers) as response:
                    answer = response.status
                    self.answer_times.append(time.perf_counter() - started)
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                logger.info("BSG simulator: callback to the bot failed: %s", error)
        self.counts["sent"] += 1
        self.counts[f"answer_{answer}"] += 1
        self.sent.append(SentCallback(url, msg.id, channel, status, shape, False, answer))
