"""The Slack outbox worker: posts queued messages in order per channel, exactly once as seen.

Every post is a row in `outbox` before it is made. The worker marks a row in flight before the
call and done only when Slack said ok. A row found in flight at pick-up (the process died, or
the answer was lost) is looked for in the channel or thread by the outbox id carried in the
message metadata before it is posted again, so a reply is never doubled.

Each channel has two streams, paced apart because Slack limits the two methods apart:
`chat.postMessage` (parent and replies, in id order, one a `slack_post_interval` per channel)
and `chat.update` of the parent (Tier 3, not the per-channel posting limit). An update goes
after the posts queued before it in its channel, as before, but takes no posting turn: it is
re-rendered from the database when made, so no post waits for it. Each stream's head is posted
as soon as its stream may go, beside the others (up to STREAMS_IN_FLIGHT at once): no stream
waits for another's post to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.clock import Clock
from bot.domain.errors import StorageError
from bot.domain.models import OutboxKind, OutboxState
from bot.domain.retry_after import parse_retry_after
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack.notifier import Notifier
from bot.slack.render.private import parent_not_posted_text
from storage.replicas import Coordinator, Solo
from storage.store import OutboxItem, Store

log = logging.getLogger(__name__)

METADATA_EVENT = "viber_bot_outbox"
# Slack errors that no retry can fix: the row is set aside (logged), not retried forever.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "no_text",
        "cant_update_message",
        "message_not_found",
        "user_not_in_channel",
        "invalid_arguments",
    }
)
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


class SlackTransient(Exception):
    """Slack did not give a usable answer; the post may be tried again."""

    def __init__(self, reason: str, *, maybe_posted: bool):
        self.maybe_posted = maybe_posted
        super().__init__(reason)


class RateLimited(Exception):
    """Slack answered 429: wait Retry-After seconds before posting to that channel again."""

    def __init__(self, retry_after: float, *, maybe_posted: bool = False):
        self.retry_after = retry_after
        # True when the 429 answered the look-up for an earlier post that may have landed.
        self.maybe_posted = maybe_posted
        super().__init__(f"rate limited for {retry_after}s")


class Waiting(Exception):
    """The row depends on one not posted yet (a reply before its parent)."""


class Permanent(Exception):
    """Slack refused the post for a reason a retry cannot fix."""


def _retry_after(value: str | None) -> float:
    """Slack's Retry-After (seconds or an HTTP date); 1 s when it gives none."""
    seconds = parse_retry_after(value)
    return 1.0 if seconds is None else seconds


class GroupCommit:
    """Writes that posts wait on, made together in one transaction.

    Each post marks its row in flight before the call and done after it, and waits until that
    is committed, as before; posts under way at once share the transaction (SQLite takes one
    writer at a time, so one commit per post was what bounded the posts a second).
    """

    def __init__(self, store: Store):
        self.store = store
        self._queue: list[tuple[Callable[[], Awaitable[None]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, change: Callable[[], Awaitable[None]]) -> None:
        """Run `change` (store verbs) in the next shared transaction; return once committed."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((change, done))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    async with self.store.atomic():
                        for change, _ in batch:
                            await change()
                except Exception:
                    # One bad change must not fail the others: each again on its own.
                    for change, done in batch:
                        await self._alone(change, done)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._flusher = None

    async def settle(self, within: float) -> None:
        """Wait (bounded) for the writes queued so far to be committed."""
        if self._flusher is not None:
            await asyncio.wait([self._flusher], timeout=max(0.0, within))

    async def _alone(self, change: Callable[[], Awaitable[None]], done: asyncio.Future[None]):
        try:
            async with self.store.atomic():
                await change()
        except Exception as error:
            if not done.done():
                done.set_exception(error)
        else:
            if not done.done():
                done.set_result(None)


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
        self.client = client
        self.notifier = notifier
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self._http = http
        # Told (send id, kind) after each post made; the callback metrics time thread posts.
        self.on_posted: Callable[[int | None, str], None] = lambda _send_id, _kind: None
        self._wake = asyncio.Event()
        self._queued = False  # woken by new rows (not only by posts finishing)
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._free_at: dict[str, datetime] = {}  # stream -> when it may post again
        self._posting: dict[str, asyncio.Task[None]] = {}  # stream -> its post under way
        self._in_flight = asyncio.Semaphore(STREAMS_IN_FLIGHT)
        self._commit = GroupCommit(store)
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
        if self._http is not None:
            await self._http.close()
            self._http = None

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
            self._free_at[self._stream(item)] = self.clock() + timedelta(seconds=wait)
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
                await self._tell_sender_parent_failed(item, problem)

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
                await self._post(current)

    # ------------------------------------------------------------ posting

    async def _post(self, item: OutboxItem) -> None:
        send_id = item.payload.get("send_id")
        send = await self.store.get_send(send_id) if send_id is not None else None
        metadata = {
            "event_type": METADATA_EVENT,
            "event_payload": {"outbox_id": item.id, "send_id": send_id},
        }
        if item.kind == OutboxKind.PARENT:
            assert send is not None
            if send.parent_ts:
                await self._done(item.id, send.parent_ts)
                return
            if item.in_flight and (found := await self._find_posted(item, None)):
                await self._parent_posted(item, send.id, found)
                return
            text, blocks = await self.notifier.render_parent(send.id)
            await self._attempt(item.id)
            await self._turn(item)
            answer = await self._call(
                "chat.postMessage",
                channel=item.channel_id,
                text=text,
                blocks=blocks,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
            await self._parent_posted(item, send.id, answer["ts"])
        elif item.kind == OutboxKind.REPLY:
            assert send is not None
            if not send.parent_ts:
                await self._parent_missing(send.id)
            if item.in_flight and (found := await self._find_posted(item, send.parent_ts)):
                await self._done(item.id, found)
                return
            await self._attempt(item.id)
            await self._turn(item)
            answer = await self._call(
                "chat.postMessage",
                channel=item.channel_id,
                thread_ts=send.parent_ts,
                text=item.payload["text"],
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
            await self._done(item.id, answer["ts"])
        elif item.kind == OutboxKind.UPDATE:
            assert send is not None
            if not send.parent_ts:
                await self._parent_missing(send.id)
            await self._turn(item)  # first: the parent is rendered as it is when updated
            # Marked under way before it is rendered: a change committed after the render
            # then finds no update waiting and queues one of its own (marked after, a change
            # committed in between would count on this update, rendered without it).
            await self._attempt(item.id)
            text, blocks = await self.notifier.render_parent(send.id)
            await self._call(
                "chat.update", channel=item.channel_id, ts=send.parent_ts, text=text, blocks=blocks
            )
            await self._done(item.id, send.parent_ts)
        elif item.kind == OutboxKind.EPHEMERAL:
            await self._attempt(item.id)
            await self._ephemeral(item)
            await self._done(item.id, None)
        else:
            raise Permanent(f"unknown outbox kind {item.kind!r}")
        self.metrics.slack_posts.labels(kind=item.kind).inc()
        self.on_posted(send_id, item.kind)

    async def _tell_sender_parent_failed(self, item: OutboxItem, reason: str) -> None:
        """The send went out but the channel cannot show it: say so to the sender, privately."""
        send = await self.store.get_send(item.payload["send_id"])
        ids = [m.bsg_id for m in await self.store.send_messages(send.id) if m.bsg_id][:5]
        await self.notifier.tell_privately(
            send, parent_not_posted_text(reason, self.settings.command, ids), now=self.clock()
        )

    async def _parent_missing(self, send_id: int) -> None:
        parents = [i for i in await self.store.outbox_items(send_id) if i.kind == OutboxKind.PARENT]
        if not parents or all(i.state == OutboxState.DEAD for i in parents):
            raise Permanent("the parent message could not be posted")
        raise Waiting("the parent message is not posted yet")

    def _hold(self, stream: str, seconds: float) -> None:
        """Start nothing in the stream for `seconds` (drain starts a post EARLY_START before
        the stream's turn, so the turn is set that much later)."""
        self._free_at[stream] = self.clock() + timedelta(seconds=seconds + EARLY_START)

    async def _turn(self, item: OutboxItem) -> None:
        """Wait for the stream's turn, then start its next interval: a call is made now.

        Paced from the call, not from when its row is marked done: Slack counts the calls it
        gets, and the marks may wait for the database behind other writers.
        """
        stream = self._stream(item)
        now = self.clock()
        left = (self._free_at.get(stream, now) - now).total_seconds()
        if left > 0:  # at most EARLY_START, as drain starts a post no sooner
            await asyncio.sleep(left)
        gap = timedelta(seconds=self.settings.slack_post_interval)
        self._free_at[stream] = self.clock() + gap

    async def _attempt(self, item_id: int) -> None:
        """Mark the row under way (committed before the call, with other posts' marks)."""
        await self._commit.write(lambda: self.store.outbox_attempt(item_id))

    async def _done(self, item_id: int, posted_ts: str | None) -> None:
        await self._commit.write(lambda: self.store.outbox_done(item_id, posted_ts))

    async def _parent_posted(self, item: OutboxItem, send_id: int, parent_ts: str) -> None:
        async def record() -> None:
            await self.store.set_parent_ts(send_id, parent_ts)
            await self.store.outbox_done(item.id, parent_ts)

        await self._commit.write(record)
        log.info("send %s: parent posted in %s at %s", send_id, item.channel_id, parent_ts)

    async def _find_posted(self, item: OutboxItem, thread_ts: str | None) -> str | None:
        """Look for a post of this row that may have landed before a crash; return its ts.

        A failed look-up leaves the row uncertain (looked for again next time), whatever Slack
        answered. One Slack refuses for good (`not_in_channel`: chat:write.public posts where
        the bot is no member, but cannot read there) cannot be settled: then the row is posted
        again, as a possible second copy beats a parent or reply that never shows.
        """
        try:
            if thread_ts is None:
                answer = await self._call(
                    "conversations.history",
                    channel=item.channel_id,
                    # Only what was posted since the row was queued: enough, however busy.
                    oldest=f"{item.created_at.timestamp() - 300:.6f}",
                    limit=200,
                    include_all_metadata=True,
                )
            else:
                answer = await self._call(
                    "conversations.replies",
                    channel=item.channel_id,
                    ts=thread_ts,
                    limit=200,
                    include_all_metadata=True,
                )
        except RateLimited as limit:
            limit.maybe_posted = True
            raise
        except SlackTransient as failure:
            failure.maybe_posted = True
            raise
        except Permanent as refusal:
            log.warning(
                "outbox %s: cannot look for an earlier post (%s); posting again, "
                "which may show it twice",
                item.id,
                refusal,
            )
            return None
        for message in answer.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("outbox_id") == item.id:
                log.info(
                    "outbox %s: already posted as %s; not posting again", item.id, message["ts"]
                )
                return message["ts"]
        return None

    async def _ephemeral(self, item: OutboxItem) -> None:
        payload = item.payload
        url = payload.get("response_url")
        if url:
            # No SDK retries: a second try of a post that landed would show it twice.
            webhook = AsyncWebhookClient(url, session=self._session(), retry_handlers=[])
            try:
                answer = await webhook.send(response_type="ephemeral", text=payload["text"])
            except (aiohttp.ClientError, TimeoutError) as error:
                raise SlackTransient(
                    f"response_url: {type(error).__name__}", maybe_posted=False
                ) from None
            if answer.status_code == 429:
                raise RateLimited(_retry_after(answer.headers.get("Retry-After")))
            if answer.status_code >= 500:
                raise SlackTransient(
                    f"response_url answered {answer.status_code}", maybe_posted=False
                )
            if answer.status_code < 300:
                return
            # 404 and friends: the response_url expired (30 min); fall back below.
        await self._call(
            "chat.postEphemeral",
            channel=item.channel_id,
            user=payload["user_id"],
            text=payload["text"],
        )

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        """One Web API call with errors sorted into RateLimited / SlackTransient / Permanent."""
        try:
            response = await getattr(self.client, method.replace(".", "_"))(**params)
        except SlackApiError as error:
            status = error.response.status_code
            code = error.response.get("error") if error.response.data else None
            if status == 429 or code == "ratelimited":
                raise RateLimited(_retry_after(error.response.headers.get("Retry-After"))) from None
            if status >= 500 or code in {
                "internal_error",
                "fatal_error",
                "service_unavailable",
                "request_timeout",
            }:
                raise SlackTransient(
                    f"{method}: {code or status}", maybe_posted=status >= 500
                ) from None
            raise Permanent(f"{method}: {code or status}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise SlackTransient(f"{method}: {type(error).__name__}", maybe_posted=True) from None
        return response.data if isinstance(response.data, dict) else {}
