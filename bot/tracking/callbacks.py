"""Delivery callbacks: BSG's "look at this message now", verified, rate-limited and coalesced.

BSG documents no callback body, so a callback is only a signed hint: the bot answers it at
once, and within about a second asks BSG for the message's status, which is the truth. The
poller stays the guarantee; a lost callback costs latency, never a transition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl

from bot.clock import Clock
from bot.domain.callback_tokens import PROBE_REFERENCE, CallbackTokens
from bot.domain.models import DeliveryStatus, OutboxKind, StoredMessage
from bot.metrics import Metrics
from bot.settings import Settings
from bot.tracking.poller import Poller
from storage.callbacks import CallbackBody
from storage.store import Store

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # larger bodies are refused with 413
KEPT_BODY = 4 * 1024  # what is kept of a body on the message's history
_TRACKED_SOURCES = 10_000  # rate-limit buckets kept before the idle ones are dropped
_STRETCH_WINDOW = 3600.0  # seconds after a message's last callback that its polls stay stretched
_TRACKED_MESSAGES = 100_000
_TRACKED_SENDS = 10_000
_PENDING_RETRY = 0.5  # seconds between looks at a callback that came before BSG's create answer
_PENDING_TRIES = 10
# A source over its limit waits this long for each answer (at most _HELD_MAX answers held at
# once; past that they are answered at once, so waiting answers cannot pile up without bound).
_HOLD = 1.0
_HELD_MAX = 5000
# Forged tokens are allowed a tenth of the rate: a sender that keeps forging is held sooner.
_FORGED_SHARE = 0.1
_STATUS_KEYS = ("status", "state", "dlr_status", "message_status")


@dataclass(frozen=True)
class CallbackAnswer:
    """The HTTP status a callback gets, and how long to hold it first (a source over its
    limit is slowed down, so a flood costs its sender time and this bot almost nothing)."""

    status: int
    hold: float = 0.0


OK, NOT_FOUND, TOO_LARGE = CallbackAnswer(200), CallbackAnswer(404), CallbackAnswer(413)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class _Waiting:
    """Callbacks for one message that wait for the next look."""

    first_at: float
    send_id: int = 0
    summarised: bool = False  # its send gets summary replies (more than the threshold)
    bodies: list[CallbackBody] = field(default_factory=list)
    tries: int = 0


def parse_callback_body(body: bytes, content_type: str | None) -> str | None:
    """The status word a body states, where it has a shape we know (JSON or a form)."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    fields: dict[str, object] = {}
    if text[:1] in "{[":
        with contextlib.suppress(ValueError):
            data = json.loads(text)
            if isinstance(data, list) and data and isinstance(data[0], dict):
                data = data[0]
            if isinstance(data, dict):
                fields = data
    elif "=" in text:
        fields = dict(parse_qsl(text, keep_blank_values=True))
    for key in _STATUS_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            status = DeliveryStatus.parse(value)
            return status.value if status != DeliveryStatus.UNKNOWN else value.strip()[:40]
    return None


class CallbackService:
    """Takes callbacks (`receive`, fast and synchronous) and runs the coalesced looks."""

    def __init__(
        self,
        *,
        store: Store,
        tokens: CallbackTokens,
        poller: Poller,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.poller = poller
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}
        self._forged_buckets: dict[str, _Bucket] = {}
        self.held = 0  # answers being held now (the endpoint counts them)
        self._waiting: dict[int, _Waiting] = {}
        self._again: dict[int, _Waiting] = {}  # came while the message's look was under way
        self._looking: set[int] = set()
        self._round: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_callback: dict[int, float] = {}
        self._summarised_sends: dict[int, bool] = {}
        self._summary_rounds: dict[int, float] = {}  # send id -> its last round (monotonic)
        # send id -> when the callback that changed it came, until its thread post is made
        self._awaiting_post: dict[int, float] = {}
        # reference -> bodies of callbacks answered but not yet sorted to their message
        self._arrived: dict[str, list[CallbackBody]] = {}
        self._sorting: asyncio.Task[None] | None = None
        self._stopped = False
        poller.stretch = self.stretch_for

    # ------------------------------------------------------------ intake

    def url_for(self, reference: str) -> str:
        """The callback URL a create names for this recipient."""
        assert self.settings.public_url is not None
        return self.tokens.url(self.settings.public_url, reference)

    async def receive(
        self, token: str, body: bytes, *, truncated: bool, content_type: str | None, source: str
    ) -> CallbackAnswer:
        """Answer one callback; nothing here waits on BSG, Slack, the network or the database.

        The token is checked first (an HMAC, microseconds): forged ones draw on a small
        allowance of their own, so a flood of them never uses up a real sender's.
        """
        reference = self.tokens.read(token)
        if reference is None:
            self.metrics.callbacks.labels(outcome="forged").inc()
            self.metrics.callbacks_forged.inc()
            if not self._allow(self._forged_buckets, source, _FORGED_SHARE):
                return CallbackAnswer(404, self._hold())
            return NOT_FOUND
        if not self._allow(self._buckets, source, 1.0):
            self.metrics.callbacks.labels(outcome="rate_limited").inc()
            return CallbackAnswer(429, self._hold())
        if truncated:
            self.metrics.callbacks.labels(outcome="too_large").inc()
            return TOO_LARGE
        if reference == PROBE_REFERENCE:
            self.metrics.callbacks.labels(outcome="probe").inc()
            return OK
        # Answered now: whatever the database says of the message, a token we issued gets
        # 200 (CONTRACT.md), so the answer never waits for it. The bodies are sorted to their
        # messages a batch at a time (one query), then wait for the round's look.
        arrived = self._arrived.setdefault(reference, [])
        arrived.append(
            CallbackBody(
                message_id=0,  # set once the reference is looked up
                received_at=self.clock(),
                source=source,
                content_type=(content_type or "")[:100] or None,
                body=body[:KEPT_BODY].decode("utf-8", errors="replace"),
                truncated=len(body) > KEPT_BODY,
                parsed_status=parse_callback_body(body, content_type),
            )
        )
        if self._sorting is None and not self._stopped:
            self._sorting = asyncio.ensure_future(self._sort())
            self._tasks.add(self._sorting)
            self._sorting.add_done_callback(self._tasks.discard)
        return OK

    async def _sort(self) -> None:
        """Look up the references of the callbacks answered meanwhile (one query a batch) and
        put each body in its message's waiting room; a message gone or final needs no look."""
        try:
            while self._arrived:
                arrived, self._arrived = self._arrived, {}
                try:
                    found = await self.store.messages_by_reference(list(arrived))
                    summarised = await self._summarised({m.send_id for m in found.values()})
                    # No await from here on: each room is chosen and filled in one step.
                    for reference, bodies in arrived.items():
                        message = found.get(reference)
                        if message is None or message.final:
                            self.metrics.callbacks.labels(outcome="final").inc(len(bodies))
                            continue
                        self.metrics.callbacks.labels(outcome="accepted").inc(len(bodies))
                        for kept in bodies:
                            kept = replace(kept, message_id=message.id)
                            self._wait(message, kept, summarised[message.send_id])
                except Exception:  # polling covers these messages; later callbacks go on
                    log.exception("could not sort %d callback(s) to their messages", len(arrived))
        finally:
            self._sorting = None

    def _wait(self, message: StoredMessage, kept: CallbackBody, summarised: bool) -> None:
        """One callback's body into its message's waiting room (no await: the room is chosen
        and filled in one step of the loop)."""
        now = self.monotonic()
        if len(self._last_callback) > _TRACKED_MESSAGES:
            self._last_callback = {
                k: t for k, t in self._last_callback.items() if now - t <= _STRETCH_WINDOW
            }
        self._last_callback[message.id] = now
        waiting_room = self._again if message.id in self._looking else self._waiting
        waiting = waiting_room.get(message.id)
        if waiting is None:
            waiting = waiting_room[message.id] = _Waiting(
                first_at=now, send_id=message.send_id, summarised=summarised
            )
        else:
            self.metrics.callbacks_coalesced.inc()
        waiting.bodies.append(kept)
        if waiting_room is self._waiting:
            self._schedule_round()

    def _hold(self) -> float:
        # Jittered, so that held answers do not all fall due in the same loop turn.
        return _HOLD * (0.5 + random.random()) if self.held < _HELD_MAX else 0.0

    def _allow(self, buckets: dict[str, _Bucket], source: str, share: float) -> bool:
        """A token bucket per source address: `callback_rate` a second, `callback_burst` deep
        (times `share`)."""
        now = self.monotonic()
        rate = self.settings.callback_rate * share
        burst = max(1.0, self.settings.callback_burst * share)
        bucket = buckets.get(source)
        if bucket is None:
            if len(buckets) >= _TRACKED_SOURCES:
                # Forget the buckets that have refilled: they hold no state worth keeping.
                full = [k for k, b in buckets.items() if b.tokens + (now - b.at) * rate >= burst]
                for key in full:
                    del buckets[key]
                if len(buckets) >= _TRACKED_SOURCES:  # spread over ever more addresses
                    buckets.clear()
            bucket = buckets[source] = _Bucket(tokens=burst, at=now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    # ------------------------------------------------------------ looks

    async def _summarised(self, send_ids: set[int]) -> dict[int, bool]:
        """Whether each send's replies are summaries: remembered (a send's size never
        changes), the others counted in one query."""
        known = {i: self._summarised_sends[i] for i in send_ids if i in self._summarised_sends}
        unknown = [i for i in send_ids if i not in known]
        if unknown:
            sizes = await self.store.send_sizes(unknown)
            for send_id in unknown:
                known[send_id] = sizes.get(send_id, 0) > self.settings.summary_threshold
                self._summarised_sends[send_id] = known[send_id]
                if len(self._summarised_sends) > _TRACKED_SENDS:
                    del self._summarised_sends[next(iter(self._summarised_sends))]
        return known

    def _schedule_round(self, delay: float | None = None) -> None:
        if self._stopped:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + (self.settings.callback_coalesce if delay is None else delay)
        if self._round is not None:
            if self._round.when() <= due:
                return
            self._round.cancel()
        self._round = loop.call_at(due, self._start_round)

    def _start_round(self) -> None:
        self._round = None
        # A summarised send takes its callbacks in rounds `callback_summary_gap` apart: each
        # round that changes it posts one summary reply, and those must stay few.
        now = self.monotonic()
        gap = self.settings.callback_summary_gap
        batch: dict[int, _Waiting] = {}
        later: dict[int, _Waiting] = {}
        for message_id, waiting in self._waiting.items():
            last = self._summary_rounds.get(waiting.send_id)
            if waiting.summarised and last is not None and now - last < gap:
                later[message_id] = waiting
            else:
                batch[message_id] = waiting
        for waiting in batch.values():
            if waiting.summarised:
                self._summary_rounds[waiting.send_id] = now
        if len(self._summary_rounds) > _TRACKED_SENDS:
            self._summary_rounds = {k: t for k, t in self._summary_rounds.items() if now - t < gap}
        self._waiting = later
        if later:
            first = min(self._summary_rounds[w.send_id] for w in later.values())
            self._schedule_round(max(0.0, first + gap - now))
        if not batch:
            return
        task = asyncio.ensure_future(self._look(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _look(self, batch: dict[int, _Waiting]) -> None:
        """One round: keep the bodies, ask BSG about every message in it, record the answers."""
        ids = list(batch)
        self._looking.update(ids)
        bodies = [b for w in batch.values() if w.tries == 0 for b in w.bodies]
        try:
            # A callback may beat BSG's answer to the create: wait for the id, a few times.
            unready = {m.id for m in await self.store.messages_by_id(ids) if m.bsg_id is None}
            changes = await self.poller.look_now([i for i in ids if i not in unready])
            for change in changes:
                waited = batch.get(change.message.id)
                if waited is not None:
                    self._awaiting_post.setdefault(change.message.send_id, waited.first_at)
        except Exception:  # a failed round must not stop later ones; polling covers it
            log.exception("callback look failed for %d message(s)", len(ids))
            unready = set()
        finally:
            self._looking.difference_update(ids)
        if bodies:
            # Kept after the look, not before: SQLite has one writer, and the status it records
            # is what the callback is for.
            try:
                await self.store.add_callback_bodies(bodies)
            except Exception:
                log.exception("could not keep %d callback bodies", len(bodies))
        for message_id in unready:
            waiting = batch[message_id]
            waiting.tries += 1
            if waiting.tries < _PENDING_TRIES and not self._stopped:
                asyncio.get_running_loop().call_later(
                    _PENDING_RETRY, self._requeue, message_id, waiting
                )
        for message_id in ids:
            again = self._again.pop(message_id, None)
            if again is not None:
                self._waiting.setdefault(message_id, again)
                self._schedule_round()

    def _requeue(self, message_id: int, waiting: _Waiting) -> None:
        if self._stopped:
            return
        self._waiting.setdefault(message_id, waiting)
        self._schedule_round()

    def stretch_for(self, message_id: int) -> float:
        """Poll gaps grow while callbacks arrive for a message (polling stays the backstop)."""
        last = self._last_callback.get(message_id)
        if last is None:
            return 1.0
        if self.monotonic() - last > _STRETCH_WINDOW:
            self._last_callback.pop(message_id, None)
            return 1.0
        return self.settings.callback_poll_stretch

    def posted(self, send_id: int | None, kind: str) -> None:
        """The outbox made a post: time from the callback that caused it to the thread."""
        if send_id is None or kind != OutboxKind.REPLY:
            return
        first_at = self._awaiting_post.pop(send_id, None)
        now = self.monotonic()
        if first_at is not None:
            self.metrics.callback_post_delay.observe(now - first_at)
        if len(self._awaiting_post) > _TRACKED_SENDS:
            # Changes that were never told in a reply (e.g. "sent") leave entries: drop old ones.
            self._awaiting_post = {
                k: t for k, t in self._awaiting_post.items() if now - t < _STRETCH_WINDOW
            }

    async def stop(self) -> None:
        """Stop taking rounds; a look under way is cancelled (polling redoes it)."""
        self._stopped = True
        if self._round is not None:
            self._round.cancel()
            self._round = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            # _look logs its own failures; only the cancellation comes out of it.
            with contextlib.suppress(asyncio.CancelledError):
                await task
