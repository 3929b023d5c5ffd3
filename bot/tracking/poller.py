"""The status poller: one sweep asks BSG about every due message and records what changed.

One subject, over 400 lines: a sweep (alone or with replicas' leases), the look a delivery
callback asks for, and how their answers are recorded page by page share their state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.bsg.client import BsgClient
from bot.clock import Clock
from bot.domain.errors import BsgError, BsgNotFound, StorageError
from bot.domain.models import MessageStatus, PolledMessage
from bot.domain.policy import PollPolicy, judge
from bot.metrics import Metrics
from bot.settings import Settings
from bot.tracking.listener import SweepListener
from bot.tracking.sending import SendService
from storage.replicas import Coordinator, Solo
from storage.store import Change, Poll, Store

log = logging.getLogger(__name__)

RECONCILE_LOCK = "reconcile"
SWEEP_LIMIT = 50_000  # due messages taken by one sweep; the rest wait for the next
LOAD_PAGE = 500  # due messages loaded at once by a sweep alone (SQLite)
RECORD_PAGE = 100  # answers recorded per transaction while a sweep runs (whole sends)
_KNOWN_SENDS = 10_000  # sends whose SMS wish is remembered (it never changes)


@dataclass(frozen=True)
class SweepReport:
    started_at: datetime
    finished_at: datetime
    checked: int
    changed: int
    errors: int
    last_error: str | None = None


class Poller:
    """Owns the sweep. Each replica runs its own (APScheduler 3 stores are per process); on a
    shared database they split the due messages between them through leases."""

    def __init__(
        self,
        *,
        store: Store,
        bsg: BsgClient,
        listener: SweepListener,
        sending: SendService,
        settings: Settings,
        clock: Clock,
        policy: PollPolicy,
        metrics: Metrics,
        wake_outbox: Callable[[], None] = lambda: None,
        replicas: Coordinator | None = None,
    ):
        self.store = store
        # On a shared database, who polls what (leases); alone, everything is ours.
        self.replicas: Coordinator = replicas or Solo(store)
        self.bsg = bsg
        self.listener = listener
        self.sending = sending
        self.settings = settings
        self.clock = clock
        self.policy = policy
        self.metrics = metrics
        self.wake_outbox = wake_outbox
        self.last_report: SweepReport | None = None
        self.checked_total = 0  # status checks this process made, over every sweep
        # Set while BSG's last answers were failures; cleared by the next good answer.
        self.bsg_failure: str | None = None
        # Set while reconciliation fails on our side (a bug); cleared by the next clean run.
        self.reconcile_failure: str | None = None
        # Messages whose look (sweep or callback) is under way, so no two overlap.
        self._busy: set[int] = set()
        self._released = asyncio.Event()
        self._sweep_busy: set[int] = set()  # of those, the ones the sweep alone loaded
        # How many times a message's poll gaps are stretched (delivery callbacks raise it).
        self.stretch: Callable[[int], float] = lambda _message_id: 1.0
        self.record_page = RECORD_PAGE
        self._wants_sms: dict[int, bool] = {}  # send id -> it has an SMS fallback

    async def sweep(self, tick: datetime | None = None) -> SweepReport:
        """One pass: reconcile unconfirmed sends, then poll every due message.

        `tick`: the time this sweep was scheduled for (ViberBot.sweep_tick; default: now). Due
        means due by the tick, and what the sweep records is due again counted from the tick,
        not from when its answer came, so a gap of one interval is the very next sweep.
        """
        started = self.clock()
        tick = started if tick is None else tick
        clock_start = time.perf_counter()
        try:
            # One replica at a time: two would both resolve the same unconfirmed message.
            async with self.replicas.exclusive(RECONCILE_LOCK) as ours:
                if ours:
                    await self.sending.reconcile(tick=tick)
        except StorageError as error:  # the database is away: the sweep fails just below
            log.warning("reconciliation failed: %s", error)
        except Exception as error:  # BSG's failures are handled inside: this is a bug of ours
            log.exception("reconciliation failed: a bug in viber-bot, not a BSG outage")
            self.reconcile_failure = f"{type(error).__name__}: {error}"
        else:
            self.reconcile_failure = None
        checked = errors = 0
        changes: list[Change] = []
        last_error: str | None = None
        seen: set[int] = set()
        if not self.replicas.shared:
            # Alone (SQLite) nothing is claimed: the due set is read as (id, send) pairs and
            # its messages are loaded a page at a time while BSG answers.
            due_ids = await self.store.due_ids(tick, SWEEP_LIMIT)
            self.metrics.messages_due.set(len(due_ids))
            try:
                tally = await self._check(due_ids, self._loader(tick), anchor=tick)
            finally:
                self._set_free(set(self._sweep_busy))
            self.checked_total += tally.checked
            checked, errors, last_error = tally.checked, tally.errors, tally.last_error
            changes = tally.changes
        # Replicas claim theirs in batches, leased until recorded, so no message is polled by
        # two replicas at once.
        batch_size = self.settings.claim_batch
        while self.replicas.shared and checked < SWEEP_LIMIT:
            claimed = await self.replicas.claim_due(tick, min(batch_size, SWEEP_LIMIT - checked))
            try:
                fresh = [m for m in claimed if m.id not in seen]
                if not fresh:
                    break
                seen.update(m.id for m in fresh)
                # A message a callback is looking at right now is left to that look.
                due = [m for m in fresh if m.id not in self._busy]
                self.metrics.messages_due.set(len(due))
                batch_changes, batch_errors, batch_error = await self._poll_batch(due, tick)
            finally:
                await self.replicas.release([m.id for m in claimed])
            checked += len(due)
            self.checked_total += len(due)
            changes += batch_changes
            errors += batch_errors
            last_error = batch_error or last_error
            if len(claimed) < batch_size:
                break
        finished = self.clock()
        report = SweepReport(
            started_at=started,
            finished_at=finished,
            checked=checked,
            changed=len(changes),
            errors=errors,
            last_error=last_error,
        )
        await self.store.record_sweep(
            started_at=started,
            finished_at=finished,
            checked=report.checked,
            changed=report.changed,
            errors=errors,
            last_error=last_error,
        )
        self.metrics.sweep_duration.observe(time.perf_counter() - clock_start)
        self.metrics.last_sweep.set(finished.timestamp())
        if errors < checked:
            self.bsg_failure = None
        if errors:
            self.bsg_failure = last_error
            log.warning("sweep: %d of %d status checks failed: %s", errors, checked, last_error)
        self.last_report = report
        if changes:
            self.wake_outbox()
        return report

    async def look_now(self, message_ids: Sequence[int]) -> list[Change]:
        """Ask BSG about these messages at once (a delivery callback said they changed).

        BSG's answer is recorded as a sweep's would be, but outside any sweep its next look is
        counted from when the answer came. A message the sweep is asking about at this moment
        is looked at after it, since that answer may predate the change.
        """
        wanted = set(message_ids)
        while wanted & self._busy:
            await self._released.wait()
        # Another replica polling one of these right now records it; this look skips it.
        held = await self.replicas.claim(sorted(wanted))
        self._busy |= held
        try:
            fresh = await self.store.messages_by_id(sorted(held))
            due = [m for m in fresh if not m.final and m.bsg_id]
            tally = await self._check_renewing(due)
            changes, errors, last_error = tally.changes, tally.errors, tally.last_error
        finally:
            self._busy -= held
            self._released.set()
            self._released = asyncio.Event()
            await self.replicas.release(sorted(held))
        if errors and errors == len(due):
            self.bsg_failure = last_error
        if changes:
            self.wake_outbox()
        return changes

    async def _poll_batch(
        self, due: list[PolledMessage], tick: datetime
    ) -> tuple[list[Change], int, str | None]:
        """Ask BSG about one claimed batch, recording the answers as they come."""
        batch = {m.id for m in due}
        self._busy |= batch
        try:
            tally = await self._check_renewing(due, anchor=tick)
            return tally.changes, tally.errors, tally.last_error
        finally:
            self._busy -= batch
            self._released.set()
            self._released = asyncio.Event()

    async def _check_renewing(
        self, due: list[PolledMessage], anchor: datetime | None = None
    ) -> _Tally:
        """_check, renewing the batch's leases while BSG answers (a slow BSG must not let
        another replica take the batch over meanwhile)."""
        by_id = {m.id: m for m in due}

        async def loaded(ids: list[int]) -> list[PolledMessage]:
            return [by_id[i] for i in ids]

        pairs = [(m.id, m.send_id) for m in due]
        if not self.replicas.shared or not due:
            return await self._check(pairs, loaded, anchor=anchor)
        ids = [m.id for m in due]

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.settings.lease_seconds / 3)
                try:
                    await self.replicas.renew(ids)
                except StorageError as error:  # the lease runs out; the batch is redone later
                    log.warning("could not renew the sweep's leases: %s", error)

        renewing = asyncio.create_task(renew())
        try:
            return await self._check(pairs, loaded, anchor=anchor)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    def _set_free(self, ids: set[int]) -> None:
        """The sweep alone is done with these messages: a look waiting for them may go."""
        if ids:
            self._busy -= ids
            self._sweep_busy -= ids
            self._released.set()
            self._released = asyncio.Event()

    def _loader(self, tick: datetime) -> Callable[[list[int]], Awaitable[list[PolledMessage]]]:
        """Loads a page of the sweep's messages; those no longer due (a callback's look
        recorded them meanwhile) or being looked at right now are left out. A loaded message
        is busy until the sweep ends, so a callback's look waits for its answer."""

        async def load(ids: list[int]) -> list[PolledMessage]:
            page = [m for m in await self.store.due_by_id(ids, tick) if m.id not in self._busy]
            self._busy.update(m.id for m in page)
            self._sweep_busy.update(m.id for m in page)
            return page

        return load

    async def _check(
        self,
        due: Sequence[tuple[int, int]],
        load: Callable[[list[int]], Awaitable[list[PolledMessage]]],
        *,
        anchor: datetime | None = None,
    ) -> _Tally:
        """Ask BSG about each due message (id, send id), at most `poll_concurrency` requests
        under way, and record the answers while the rest are asked: a page of whole sends per
        short transaction (`record_page` answers or so), so a write waiting for the database
        (an ack's) waits for one page, never for the whole sweep. Messages are loaded
        `LOAD_PAGE` at a time, ahead of the requests, so a large due set is never in memory
        at once.

        A send's messages are asked about one after another and its answers are recorded
        together, in one transaction: its changes are announced once a sweep (one summary
        reply for a large send), however the pages fall.

        `anchor`: the sweep's tick, from which next looks are counted (None: from when each
        page is recorded).
        """
        tally = _Tally()
        if not due:
            return tally
        order = sorted(due, key=lambda pair: pair[1])  # stable: the due order within a send
        left = Counter(send_id for _, send_id in order)
        pages = (order[start : start + LOAD_PAGE] for start in range(0, len(order), LOAD_PAGE))
        pending: deque[PolledMessage] = deque()
        held: dict[int, list[_Answer]] = defaultdict(list)
        ready: list[_Answer] = []
        writing = asyncio.Lock()
        loading = asyncio.Lock()
        latency = self.metrics.poll_latency
        bsg = self.bsg
        low_water = 2 * self.settings.poll_concurrency

        def settled(send_id: int) -> None:
            left[send_id] -= 1
            if not left[send_id]:
                del left[send_id]
                ready.extend(held.pop(send_id, ()))

        exhausted = False

        async def refill() -> None:
            nonlocal exhausted
            async with loading:
                if exhausted or len(pending) >= low_water:
                    return  # another worker loaded meanwhile
                page = next(pages, None)
                if page is None:
                    exhausted = True
                    return
                loaded = await load([message_id for message_id, _ in page])
                pending.extend(loaded)
                answered = {m.id for m in loaded}
                for message_id, send_id in page:
                    if message_id not in answered:  # no longer due: nothing to ask
                        settled(send_id)

        async def next_message() -> PolledMessage | None:
            while not exhausted and len(pending) < low_water:
                if pending and loading.locked():
                    break  # a page is on its way: work on what is here meanwhile
                await refill()
            return pending.popleft() if pending else None

        async def flush() -> None:
            nonlocal ready
            async with writing:
                taken, ready = ready, []
                if taken:
                    now = self.clock()
                    await self._record(taken, now, now if anchor is None else anchor, tally)
                    # Recorded: a callback's look at one of these need not wait any longer.
                    self._set_free({m.id for m, _ in taken} & self._sweep_busy)

        async def worker() -> None:
            while (message := await next_message()) is not None:
                started = time.perf_counter()
                try:
                    seen: MessageStatus | BsgError = await bsg.status_by_id(message.bsg_id or "")
                except BsgError as error:
                    seen = error
                latency.observe(time.perf_counter() - started)
                tally.checked += 1
                held[message.send_id].append((message, seen))
                settled(message.send_id)
                if len(ready) >= self.record_page and not writing.locked():
                    await flush()

        tasks = [
            asyncio.ensure_future(worker())
            for _ in range(min(self.settings.poll_concurrency, len(order)))
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        await flush()
        return tally

    async def _record(
        self, results: list[_Answer], now: datetime, anchor: datetime, tally: _Tally
    ) -> None:
        """Store what BSG said about these messages (whole sends) and queue the posts that
        announce it, in one transaction. `now`: when; `anchor`: where next looks count from."""
        checked_sends = sorted({m.send_id for m, _ in results})
        # This page's sends' SMS wishes, from what is remembered (a send's never changes): the
        # page reads its own map, so forgetting old sends to make room never loses one of its.
        wants_sms: dict[int, bool] = {}
        for send_id in checked_sends:
            known = self._wants_sms.get(send_id)
            if known is None:
                send = await self.store.get_send(send_id)
                known = bool(send.options.get("content", {}).get("sms"))
                if len(self._wants_sms) >= _KNOWN_SENDS:
                    del self._wants_sms[next(iter(self._wants_sms))]
                self._wants_sms[send_id] = known
            wants_sms[send_id] = known
        polls: list[Poll] = []
        later: list[tuple[int, datetime]] = []
        for message, seen in results:
            if isinstance(seen, BsgError):
                if not isinstance(seen, BsgNotFound):  # one unknown id is no outage
                    tally.errors += 1
                    tally.last_error = str(seen)
                self._unanswered(message, now, anchor, wants_sms[message.send_id], polls, later)
            else:
                polls.append(self._judged(message, seen, now, anchor, wants_sms[message.send_id]))

        async def record(store: Store) -> list[Change]:
            listener = self.listener.bound(store)
            changes = await store.record_polls(polls, now=now)
            await store.reschedule_many(later)
            # Every row written before the parent updates are looked for: on PostgreSQL the
            # one found queued is held (Store.has_pending), and another replica's outbox,
            # waiting for it, may hold a send row this step would otherwise still update.
            await store.touch_send(checked_sends, now)
            await listener.announce(changes, now=now)
            await listener.refresh_parents(checked_sends, now=now)
            return changes

        changes = await self.store.in_one_step(record)
        tally.changes += changes
        for change in changes:
            self.metrics.transitions.labels(
                channel=change.event.channel.value, status=change.event.status.value
            ).inc()
            log.info(
                "message %s: %s %s -> %s (send=%s bsg_id=%s)",
                change.message.id,
                change.event.channel.value,
                change.previous.value if change.previous else "-",
                change.event.status.value,
                change.message.send_id,
                change.message.bsg_id,
            )

    def _judged(
        self,
        message: PolledMessage,
        seen: MessageStatus,
        now: datetime,
        anchor: datetime,
        wants_sms: bool,
    ) -> Poll:
        changed = seen.status != message.status or (
            seen.sms is not None and seen.sms.status != message.sms_status
        )
        sms_status = seen.sms.status if seen.sms is not None else message.sms_status
        expires_at = message.expires_at or (message.created_at + timedelta(days=1))
        verdict = judge(
            self.policy,
            status=seen.status,
            sms_status=sms_status,
            wants_sms=wants_sms,
            expires_at=expires_at,
            last_change_at=now if changed else (message.last_change_at or message.created_at),
            now=now,
            anchor=anchor,
        )
        next_poll_at = verdict.next_poll_at
        factor = self.stretch(message.id)
        if next_poll_at is not None and factor > 1:
            gap = (next_poll_at - anchor).total_seconds()
            stretched = anchor + timedelta(seconds=min(self.policy.cap, gap * factor))
            # A delivered message still gets its last look for "read" when the window closes.
            next_poll_at = max(next_poll_at, min(stretched, max(next_poll_at, expires_at)))
        return Poll(
            message,
            seen,
            next_poll_at=next_poll_at,
            final=verdict.final,
            forced_status=verdict.forced_status,
        )

    def _unanswered(
        self,
        message: PolledMessage,
        now: datetime,
        anchor: datetime,
        wants_sms: bool,
        polls: list[Poll],
        later: list[tuple[int, datetime]],
    ) -> None:
        """BSG did not answer: look again later (into `later`), backing off like a quiet
        message; but a message BSG stays silent about past its validity window and grace ends
        as expired (into `polls`)."""
        verdict = judge(
            self.policy,
            status=message.status,
            sms_status=message.sms_status,
            wants_sms=wants_sms,
            expires_at=message.expires_at or (message.created_at + timedelta(days=1)),
            last_change_at=message.last_change_at or message.created_at,
            now=now,
        )
        if verdict.final:
            polls.append(
                Poll(
                    message,
                    None,
                    next_poll_at=None,
                    final=True,
                    forced_status=verdict.forced_status,
                )
            )
            return
        quiet = (now - (message.last_change_at or message.created_at)).total_seconds()
        later.append((message.id, anchor + timedelta(seconds=self.policy.delay(quiet))))


_Answer = tuple[PolledMessage, MessageStatus | BsgError]


@dataclass(slots=True)
class _Tally:
    """What one batch's pages recorded so far."""

    checked: int = 0
    changes: list[Change] = field(default_factory=list)
    errors: int = 0
    last_error: str | None = None
