"""Recovery: settling messages whose BSG id was never stored (a crash mid-create, a timeout).

`SendService` (bot/tracking/sending.py) mixes `Reconciliation` in: it runs at the start of a
sweep, with the same store, client and outcome recording as a send's own create.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.bsg.client import BsgClient
from bot.clock import Clock
from bot.domain.errors import BsgError, BsgNotFound, BsgRefused
from bot.domain.models import (
    CreateRequest,
    DeliveryStatus,
    MessageStatus,
    Recipient,
    RecipientOutcome,
    SendOutcome,
    StoredMessage,
)
from bot.metrics import Metrics
from bot.settings import Settings
from bot.tracking.listener import PartlyNeverSent, SendListener
from bot.tracking.stored import content_of, refusal_info
from storage.store import Store

log = logging.getLogger(__name__)


class Reconciliation:
    """The recovery half of SendService. What it needs of the service is declared here; it
    records what it learns through the service's own `_record_outcomes`, `_accept`,
    `_settle_sends` and `_resolve_already_sent`, exactly as a send's own create does."""

    store: Store
    bsg: BsgClient
    clock: Clock
    settings: Settings
    metrics: Metrics
    listener: SendListener
    wake_outbox: Callable[[], None]
    started_at: datetime
    shared_database: bool
    _in_flight: set[int]

    async def reconcile(self, *, tick: datetime | None = None) -> int:
        """Settle messages whose BSG id is unknown; returns how many were resolved.

        Left by an earlier run (killed mid-create, or stopped before BSG answered): no request
        of that run is under way any more, so they are settled at once, not after a grace.
        A create that timed out inside this run may still land at BSG: those wait for
        VIBER_BOT_RECONCILE_GRACE first.

        `tick`: the tick of the sweep this runs at the start of (default: now). What is adopted
        or created again is first looked at one poll interval after it: by the next sweep.
        """
        resolved = await self._recover_earlier_run(tick)
        return resolved + await self._reconcile_timed_out(tick)

    async def _look_up(
        self, messages: Sequence[StoredMessage]
    ) -> list[tuple[StoredMessage, MessageStatus | BsgError]]:
        """Each message's status by its reference, at most `poll_concurrency` at once."""
        semaphore = asyncio.Semaphore(self.settings.poll_concurrency)

        async def look(message: StoredMessage) -> tuple[StoredMessage, MessageStatus | BsgError]:
            async with semaphore:
                try:
                    return message, await self.bsg.status_by_reference(message.reference)
                except BsgError as error:
                    return message, error

        return list(await asyncio.gather(*(look(m) for m in messages)))

    async def _recover_earlier_run(self, tick: datetime | None) -> int:
        """Look each reference up; create the ones BSG does not know again, same reference."""
        cutoff = self.started_at
        if self.shared_database:
            cutoff = min(cutoff, self.clock() - timedelta(seconds=self.settings.reconcile_grace))
        orphans = [
            m for m in await self.store.unconfirmed(cutoff) if m.send_id not in self._in_flight
        ]
        if not orphans:
            return 0
        log.info("recovery: %d message(s) left unconfirmed by an earlier run", len(orphans))
        results = await self._look_up(orphans)
        now = self.clock()
        unknown: dict[int, list[StoredMessage]] = {}
        touched: set[int] = set()
        async with self.store.atomic():
            for message, found in results:
                if isinstance(found, BsgNotFound):
                    unknown.setdefault(message.send_id, []).append(message)
                elif isinstance(found, BsgError) or not found.bsg_id:
                    log.warning(
                        "recovery: message %s: look-up by reference failed (%s); next sweep",
                        message.id,
                        found if isinstance(found, BsgError) else "no id in the answer",
                    )
                else:
                    await self._adopt(message, found, now, tick or now)
                    touched.add(message.send_id)
            await self._settle_sends(sorted(touched), now)
        resolved = len([m for m, f in results if isinstance(f, MessageStatus) and f.bsg_id])
        for send_id, messages in unknown.items():
            resolved += await self._create_again(send_id, messages, tick)
        if touched:
            self.wake_outbox()
        return resolved

    async def _create_again(
        self, send_id: int, messages: list[StoredMessage], tick: datetime | None
    ) -> int:
        """BSG never took these: send them now with their own references (43: it did, look)."""
        send = await self.store.get_send(send_id)
        content = content_of(send)
        if content.send_at is not None and content.send_at <= self.clock():
            # The scheduled time passed while the bot was down: send now, not "in the past".
            content = content.model_copy(update={"send_at": None})
        request = CreateRequest(
            content=content,
            recipients=tuple(
                Recipient(msisdn=m.msisdn, reference=m.reference, text=m.text, sms_text=m.sms_text)
                for m in messages
            ),
        )
        log.info(
            "recovery: send %s: BSG has no record of %d message(s); creating them again "
            "with the same references",
            send_id,
            len(messages),
        )
        self._in_flight.add(send_id)
        try:
            try:
                result = await self.bsg.create(request)
            except BsgRefused as refusal:
                self.metrics.bsg_errors.labels(code=str(refusal.code)).inc()
                outcomes = [
                    RecipientOutcome(reference=m.reference, error=refusal_info(refusal))
                    for m in messages
                ]
                whole_refusal = True
            except BsgError as error:
                self.metrics.bsg_errors.labels(code="unavailable").inc()
                log.warning("recovery: send %s: create failed (%s); next sweep", send_id, error)
                return 0
            else:
                outcomes = list(result.outcomes)
                whole_refusal = False
            outcomes = await self._resolve_already_sent(outcomes)
            await self._record_outcomes(
                send, messages, outcomes, count_refusals=not whole_refusal, anchor=tick
            )
        finally:
            self._in_flight.discard(send_id)
        return sum(1 for o in outcomes if not o.unconfirmed)

    async def _adopt(
        self, message: StoredMessage, found: MessageStatus, now: datetime, anchor: datetime
    ) -> None:
        """BSG holds this message under our reference: take its id and track it (first look
        one poll interval after `anchor`). In a txn."""
        await self._accept(
            await self.store.get_send(message.send_id),
            message,
            RecipientOutcome(
                reference=message.reference,
                bsg_id=found.bsg_id,
                price=found.price,
                currency=found.currency,
            ),
            now,
            anchor,
        )
        log.info(
            "message %s: found at BSG by reference %s: id %s",
            message.id,
            message.reference,
            found.bsg_id,
        )

    async def _reconcile_timed_out(self, tick: datetime | None) -> int:
        """Creates of this run that BSG did not answer, once the grace has passed: BSG knows
        the reference (adopt it) or it does not (not sent; the sender is told)."""
        now = self.clock()
        cutoff = now - timedelta(seconds=self.settings.reconcile_grace)
        candidates = [
            m
            for m in await self.store.unconfirmed(cutoff)
            if m.send_id not in self._in_flight and m.created_at > self.started_at
        ]
        if not candidates:
            return 0
        results = await self._look_up(candidates)
        resolved = 0
        touched: set[int] = set()
        not_sent: dict[int, list[str]] = {}
        now = self.clock()
        async with self.store.atomic():
            for message, found in results:
                if isinstance(found, BsgNotFound):
                    not_sent.setdefault(message.send_id, []).append(message.msisdn)
                    log.info(
                        "message %s: BSG has no reference %s: not sent",
                        message.id,
                        message.reference,
                    )
                    await self.store.record_refusal(
                        message.id,
                        status=DeliveryStatus.NOT_SENT,
                        code=None,
                        description="BSG has no record of this message",
                        now=now,
                    )
                elif isinstance(found, BsgError) or not found.bsg_id:
                    continue
                else:
                    await self._adopt(message, found, now, tick or now)
                resolved += 1
                touched.add(message.send_id)
            outcomes = await self._settle_sends(sorted(touched), now)
            for send_id, outcome in outcomes.items():
                if send_id in not_sent and outcome in (SendOutcome.SENT, SendOutcome.PARTIAL):
                    # Others went out (the parent says so); tell the sender about these privately.
                    await self.listener.tell_sender(
                        await self.store.get_send(send_id),
                        PartlyNeverSent(tuple(not_sent[send_id])),
                        now=now,
                    )
        if touched:
            self.wake_outbox()
        return resolved
