"""The outbox worker: reads the queue in passes, paces each stream, retries a failed post or
sets it aside; `posting` makes each post."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.clock import Clock
from bot.domain.errors import StorageError
from bot.domain.models import OutboxKind, OutboxState
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack.notifier import Notifier
from bot.slack.outbox.calls import (
    Permanent,
    RateLimited,
    SlackCalls,
    SlackTransient,
    Waiting,
)
from bot.slack.outbox.commit import GroupCommit
from bot.slack.outbox.posting import RowPoster
from storage.replicas import Coordinator, Solo
from storage.store import OutboxItem, Store

log = logging.getLogger("bot.slack.outbox")  # the outbox's one logger: operators filter by it

MAX_BACKOFF = 300.0
# Posts under way at once, each in a stream of its own. A post waits for the database twice
# (in flight, done) behind other writers, up to a second when the bot is busy; the marks of the
# posts under way share one commit, so the more under way, the more posts a second.
STREAMS_IN_FLIGHT = 512
PASS_LIMIT = 5000  # stream heads read per pass: enough that paced heads cannot hide due ones
# Least time between two reads of the queue while posts keep finishing: each read costs about
# a millisecond per hundred streams, and a stream's next post is a posting interval away.
PASS_GAP = 0.1
# A stream's next post is started this long before its turn: it is marked in flight (which
# may wait for the database) while the interval runs out, then called as soon as it may.
EARLY_START = 1.0
FAILED_ROW_RETRY = 5.0  # seconds before a row that failed on our side is tried again


class OutboxWorker:
    """Drains the outbox in the app's event loop."""

    def __init__(
        self,
        *,
        store: Store,
        client: AsyncWebClient,
        notifier: Notifier,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        http: aiohttp.ClientSession | None = None,
        replicas: Coordinator | None = None,
    ):
        self.store = store
        # Replicas on one database each post to the channels whose lanes they hold.
        self.replicas: Coordinator = replicas or Solo(store)
        self.slack = SlackCalls(client, http)
        self.notifier = notifier
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        # Told (send id, kind) after each post made; the callback metrics time thread posts.
        self.on_posted: Callable[[int | None, str], None] = lambda _send_id, _kind: None
        self._wake = asyncio.Event()
        self._queued = False  # woken by new rows (not only by posts finishing)
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._free_at: dict[str, datetime] = {}  # stream -> when it may post again
        # stream -> its pacing's theoretical time (GCRA): one post an interval on average,
        # with up to `slack_post_burst` at once after a quiet spell.
        self._paced_to: dict[str, datetime] = {}
        self._posting: dict[str, asyncio.Task[None]] = {}  # stream -> its post under way
        self._in_flight = asyncio.Semaphore(STREAMS_IN_FLIGHT)
        self._commit = GroupCommit(store)
        self.poster = RowPoster(
            store=store,
            notifier=notifier,
            slack=self.slack,
            commit=self._commit,
            settings=settings,
            clock=clock,
            metrics=metrics,
            turn=self._turn,
            on_posted=lambda send_id, kind: self.on_posted(send_id, kind),
        )
        # A post that finished after a pass began reading may be that pass's (stale) head:
        # stream -> the number of the last pass begun before it finished.
        self._finished: dict[str, int] = {}
        self._passes = 0

    # ------------------------------------------------------------ lifecycle

    def wake(self) -> None:
        """Rows were queued: read the queue now."""
        self._queued = True
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 3.0) -> None:
        """Let the posts under way finish (bounded), then stop."""
        self._stopping = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        posting = list(self._posting.values())
        if posting:
            # Cut short, a post stays in flight and is looked for before it is made again.
            _, unfinished = await asyncio.wait(posting, timeout=max(0.0, deadline - loop.time()))
            for task in unfinished:
                task.cancel()
            for task in unfinished:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._commit.settle(deadline - loop.time())
        await self.slack.close()

    async def is_idle(self) -> bool:
        """Nothing being posted and nothing queued."""
        return not self._posting and await self.store.outbox_depth() == 0

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_pass = float("-inf")
        while not self._stopping:
            if not self._queued:  # only posts finished: let a few more finish first
                await asyncio.sleep(max(0.0, last_pass + PASS_GAP - loop.time()))
            self._queued = False
            last_pass = loop.time()
            # Cleared before the pass, not after: a row queued (or a post finished) while the
            # pass runs wakes the next one at once instead of waiting out the pass's wait.
            self._wake.clear()
            try:
                wait = await self.drain()
                self.metrics.outbox_depth.set(await self.store.outbox_depth())
            except StorageError as error:  # the database is away: nothing can be posted
                log.warning("outbox: %s; trying again in 1 s", error)
                wait = 1.0
            except Exception:  # the worker must outlive any one bad row
                log.exception("outbox: could not read the queue; trying again in 5 s")
                wait = 5.0
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, wait))

    # ------------------------------------------------------------ one pass

    async def drain(self) -> float:
        """Start the head of every stream that may go now; return seconds until the next may.

        A started post runs on its own (up to STREAMS_IN_FLIGHT at once) and wakes the worker
        when it is done, so the next pass starts that stream's next row. Within a stream one
        row is under way at a time, and nothing after a row that failed goes before it.
        """
        self._passes += 1
        begun = self._passes
        items = await self.store.pending_outbox(limit=PASS_LIMIT)
        if self.replicas.shared:
            owned = await self.replicas.claim_lanes({self._lane(item) for item in items})
            items = [item for item in items if self._lane(item) in owned]
        now = self.clock()
        waits = [1.0]
        # An update goes after the posts queued before it in its channel (it may link to one,
        # e.g. a retry's parent), never before; the posts do not wait for updates.
        posts_from = {
            item.channel_id: item.id
            for item in items
            if item.kind not in (OutboxKind.UPDATE, OutboxKind.EPHEMERAL)
        }
        for item in items:
            stream = self._stream(item)
            if stream in self._posting or self._finished.get(stream, 0) >= begun:
                continue  # under way, or done since this read began: the next pass sees it
            earlier_post = posts_from.get(item.channel_id, item.id) < item.id
            if item.kind == OutboxKind.UPDATE and earlier_post:
                continue  # the post before it wakes the worker when it is done
            retry_at = item.next_attempt_at or now
            start_at = self._free_at.get(stream, now) - timedelta(seconds=EARLY_START)
            if retry_at > now or start_at > now:
                waits.append((max(retry_at, start_at) - now).total_seconds())
                continue
            if self._stopping or not self.replicas.lanes_fresh():
                break  # a lane held too long unrenewed may be another replica's by now
            self._posting[stream] = asyncio.get_running_loop().create_task(
                self._post_head(stream, item), name=f"outbox {item.id}"
            )
        self._finished = {s: n for s, n in self._finished.items() if n >= begun}
        self._free_at = {s: at for s, at in self._free_at.items() if at > now}
        self._paced_to = {s: at for s, at in self._paced_to.items() if at > now}
        return max(0.0, min(waits))

    async def _post_head(self, stream: str, item: OutboxItem) -> None:
        """Post one stream's head (paced in _turn), then wake the worker for the next."""
        try:
            async with self._in_flight:
                if self._stopping or not self.replicas.lanes_fresh():
                    return
                await self._process(item)
        except StorageError as error:  # the database is away: nothing can be posted
            log.warning("outbox %s: %s; trying again in 1 s", item.id, error)
            self._hold(stream, 1.0)
        except Exception:  # the worker must outlive any one bad row
            log.exception("outbox %s: could not be tried; trying again in 5 s", item.id)
            self._hold(stream, 5.0)
        finally:
            self._finished[stream] = self._passes
            del self._posting[stream]
            self._wake.set()

    @staticmethod
    def _lane(item: OutboxItem) -> str:
        """What a replica leases: a channel (both its streams), or one private answer."""
        if item.kind == OutboxKind.EPHEMERAL:
            return f"ephemeral:{item.id}"
        return item.channel_id

    @staticmethod
    def _stream(item: OutboxItem) -> str:
        """What is paced and ordered: a channel's posts, its parent updates, or one answer."""
        if item.kind == OutboxKind.UPDATE:
            return f"{item.channel_id}:update"
        return OutboxWorker._lane(item)

    async def _process(self, item: OutboxItem) -> bool:
        """Try one row; True when it is settled (done or set aside), False to retry later."""
        try:
            await self._retrying(item)
        except RateLimited as limit:
            self.metrics.slack_ratelimited.inc()
            wait = min(limit.retry_after, MAX_BACKOFF)
            log.warning(
                "outbox %s: Slack rate limited %s; retrying in %.1fs",
                item.id,
                item.channel_id,
                wait,
            )
            self._hold_until(self._stream(item), self.clock() + timedelta(seconds=wait))
            at = self.clock() + timedelta(seconds=wait)
            if limit.maybe_posted:
                await self.store.outbox_uncertain(item.id, at=at, error="ratelimited")
            else:
                await self.store.outbox_retry_later(item.id, at=at, error="ratelimited")
            return False
        except SlackTransient as failure:
            wait = min(MAX_BACKOFF, 2.0 * (2 ** min(item.attempts, 8)))
            log.warning("outbox %s: Slack failed (%s); retrying in %.0fs", item.id, failure, wait)
            at = self.clock() + timedelta(seconds=wait)
            if failure.maybe_posted:
                await self.store.outbox_uncertain(item.id, at=at, error=str(failure))
            else:
                await self.store.outbox_retry_later(item.id, at=at, error=str(failure))
            return False
        except Waiting:
            await self.store.outbox_retry_later(
                item.id, at=self.clock() + timedelta(seconds=1), error="waiting for the parent"
            )
            return False
        except Permanent as refusal:
            log.error(
                "outbox %s: Slack refused the %s post for good: %s", item.id, item.kind, refusal
            )
            await self._set_aside(item, str(refusal), reason="refused")
            return True
        except Exception as error:  # ours, not Slack's: a bug or a row no retry can post
            problem = f"{type(error).__name__}: {error}"
            # A failure after the post was marked under way has been counted already.
            counted = (await self.store.get_outbox(item.id)).attempts > item.attempts
            attempts = await self.store.outbox_failed(
                item.id,
                at=self.clock() + timedelta(seconds=FAILED_ROW_RETRY),
                error=problem,
                count=not counted,
            )
            if attempts < self.settings.outbox_max_attempts:
                log.exception(
                    "outbox %s: the %s post failed (try %d of %d); trying again in %.0f s",
                    item.id,
                    item.kind,
                    attempts,
                    self.settings.outbox_max_attempts,
                    FAILED_ROW_RETRY,
                )
                return False
            log.exception(
                "outbox %s: the %s post failed %d times; set aside as dead (not retried)",
                item.id,
                item.kind,
                attempts,
            )
            await self._set_aside(item, problem, reason="failed", tell_sender=False)
            return True
        return True

    async def _set_aside(
        self, item: OutboxItem, problem: str, *, reason: str, tell_sender: bool = True
    ) -> None:
        """Mark a row dead: counted, shown on /healthz and by `viber-bot doctor`."""
        self.metrics.outbox_dead.labels(kind=item.kind, reason=reason).inc()
        async with self.store.atomic():
            await self.store.outbox_dead(item.id, problem)
            if item.kind == OutboxKind.PARENT and tell_sender:
                await self.poster.tell_sender_parent_failed(item, problem)

    async def _retrying(self, item: OutboxItem) -> None:
        """Short in-place retries (tenacity, jittered) for transient failures, then give up."""

        def transient(error: BaseException) -> bool:
            return isinstance(error, SlackTransient)

        def log_retry(state: Any) -> None:
            log.info(
                "outbox %s: retry %d after %s",
                item.id,
                state.attempt_number,
                state.outcome.exception(),
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(transient),
            stop=stop_after_attempt(max(1, self.settings.slack_retries)),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.5),
            before_sleep=log_retry,
            reraise=True,
        ):
            with attempt:
                current = await self.store.get_outbox(item.id)
                if current.state != OutboxState.PENDING:
                    return
                await self.poster.post(current)

    def _hold(self, stream: str, seconds: float) -> None:
        """Start nothing in the stream for `seconds` (drain starts a post EARLY_START before
        the stream's turn, so the turn is set that much later)."""
        self._hold_until(stream, self.clock() + timedelta(seconds=seconds + EARLY_START))

    def _hold_until(self, stream: str, until: datetime) -> None:
        """No post in the stream before `until`, and then one at a time, no burst (a hold
        never brings a turn forward)."""
        self._free_at[stream] = max(until, self._free_at.get(stream, until))
        paced_to = until + (self.settings.slack_post_burst - 1) * self._gap()
        self._paced_to[stream] = max(paced_to, self._paced_to.get(stream, paced_to))

    def _gap(self) -> timedelta:
        return timedelta(seconds=self.settings.slack_post_interval)

    async def _turn(self, item: OutboxItem) -> None:
        """Wait for the stream's turn, then count a call made now.

        Paced from the call, not from when its row is marked done: Slack counts the calls it
        gets, and the marks may wait for the database behind other writers. Slack allows a
        channel one post a second "with short bursts" (docs.slack.dev, rate limits): after a
        quiet spell up to `slack_post_burst` posts go at once (the replies of a two-recipient
        send together), then one an interval (a generic cell rate algorithm).
        """
        stream = self._stream(item)
        now = self.clock()
        left = (self._free_at.get(stream, now) - now).total_seconds()
        if left > 0:  # at most EARLY_START, as drain starts a post no sooner
            await asyncio.sleep(left)
        now = self.clock()
        gap = self._gap()
        paced_to = max(self._paced_to.get(stream, now), now) + gap
        self._paced_to[stream] = paced_to
        self._free_at[stream] = paced_to - (self.settings.slack_post_burst - 1) * gap
