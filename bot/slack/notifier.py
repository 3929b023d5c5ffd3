"""Decide what the channel hears about status changes, and render the parent message."""

from __future__ import annotations

import copy
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.clock import Clock
from bot.domain.errors import BsgCode
from bot.domain.models import (
    FAILURE_STATUSES,
    Channel,
    DeliveryStatus,
    OutboxKind,
    Send,
    count_statuses,
    total_cost,
)
from bot.settings import Settings
from bot.slack.render.bsg_errors import explain_bsg_code
from bot.slack.render.estimate import estimated_note
from bot.slack.render.parent import ParentView, RecipientLine, parent_message
from bot.slack.render.private import (
    never_sent_text,
    partly_never_sent_text,
    refusal_text,
    unconfirmed_text,
)
from bot.slack.render.replies import ReplyEvent, reply_line, summary_reply
from bot.slack.render.thread_actions import (
    EXPORT_CSV,
    RESEND_SMS,
    RETRY_FAILED,
    card_actions,
    exported_note,
    resent_note,
    retried_as_note,
    retry_of_note,
)
from bot.tracking.listener import (
    NeverSent,
    PartlyNeverSent,
    Refused,
    SenderNotice,
    Unconfirmed,
)
from storage.store import Change, Store

log = logging.getLogger(__name__)

# Viber changes worth a thread reply; create-time refusals are shown on the parent instead.
TOLD_VIBER = (FAILURE_STATUSES | {DeliveryStatus.DELIVERED, DeliveryStatus.READ}) - {
    DeliveryStatus.REFUSED,
    DeliveryStatus.NOT_SENT,
}
TOLD_SMS = FAILURE_STATUSES | {DeliveryStatus.DELIVERED}
# The status used for the "fell back to SMS" line.
FALLBACK = DeliveryStatus.SENT
_KNOWN_SENDS = 10_000  # sends whose channel and size are remembered


class Notifier:
    """Turns recorded changes into outbox rows (replies and parent updates)."""

    def __init__(self, *, store: Store, settings: Settings, clock: Clock):
        self.store = store
        self.settings = settings
        self.clock = clock
        # send id -> (channel, recipients): neither changes once the send is stored. Read in
        # the transaction that records a poll or a callback look, which holds the one writer.
        self._sends: dict[int, tuple[str, int]] = {}

    def bound(self, store: Store) -> Notifier:
        """This notifier through `store` (bound to one step): it shares what it remembers."""
        bound = copy.copy(self)
        bound.store = store
        return bound

    def events_for(self, change: Change) -> list[ReplyEvent]:
        """The reply events one change deserves (none, one, or two for a jump into SMS)."""
        event = change.event
        message = change.message
        at = event.provider_time or event.observed_at
        mask = self.settings.mask_numbers
        if event.channel == Channel.VIBER:
            if event.status not in TOLD_VIBER:
                return []
            return [
                ReplyEvent(
                    msisdn=message.msisdn,
                    channel=Channel.VIBER,
                    status=event.status,
                    at=at,
                    price=message.price,
                    currency=message.currency,
                    mask=mask,
                )
            ]
        told: list[ReplyEvent] = []
        price, currency = message.sms_price, message.sms_currency or message.currency
        if change.previous is None:
            told.append(
                ReplyEvent(
                    msisdn=message.msisdn,
                    channel=Channel.SMS,
                    status=FALLBACK,
                    at=event.observed_at,
                    price=None,
                    currency=None,
                    mask=mask,
                )
            )
        if event.status in TOLD_SMS:
            told.append(
                ReplyEvent(
                    msisdn=message.msisdn,
                    channel=Channel.SMS,
                    status=event.status,
                    at=at,
                    price=price,
                    currency=currency,
                    mask=mask,
                )
            )
        return told

    async def announce(self, changes: Sequence[Change], *, now: datetime) -> int:
        """Queue replies and parent updates for a sweep's changes. Call inside its transaction."""
        by_send: dict[int, list[Change]] = defaultdict(list)
        for change in changes:
            by_send[change.message.send_id].append(change)
        queued = 0
        for send_id, send_changes in by_send.items():
            channel_id, size = await self._send_facts(send_id)
            events = [e for change in send_changes for e in self.events_for(change)]
            if events:
                if size > self.settings.summary_threshold:
                    texts = [summary_reply(events, self.settings.mask_numbers)]
                else:
                    texts = [reply_line(e) for e in events]
                for text in texts:
                    await self.store.enqueue(
                        channel_id=channel_id,
                        kind=OutboxKind.REPLY,
                        payload={"send_id": send_id, "text": text},
                        now=now,
                        send_id=send_id,
                    )
                    queued += 1
            queued += await self._queue_parent(send_id, channel_id, now=now, post=False)
        return queued

    async def _send_facts(self, send_id: int) -> tuple[str, int]:
        """The send's channel and number of recipients (remembered: they never change)."""
        known = self._sends.get(send_id)
        if known is None:
            send = await self.store.get_send(send_id)
            size = sum((await self.store.status_counts(send_id)).values())
            if len(self._sends) >= _KNOWN_SENDS:
                del self._sends[next(iter(self._sends))]
            known = self._sends[send_id] = (send.channel_id, size)
        return known

    async def queue_parent_update(self, send: Send, *, now: datetime, post: bool = False) -> int:
        """Queue one chat.update of the parent unless one is already waiting; with `post`,
        queue the parent itself when there is none yet. The one place either is queued. Call
        it after the transaction's row updates: the update found waiting is held until the
        transaction ends (Store.has_pending)."""
        return await self._queue_parent(send.id, send.channel_id, now=now, post=post)

    async def _queue_parent(
        self, send_id: int, channel_id: str, *, now: datetime, post: bool
    ) -> int:
        if not await self.store.has_outbox(send_id, OutboxKind.PARENT):
            if not post:
                return 0
            kind = OutboxKind.PARENT
        elif await self.store.has_pending(send_id, OutboxKind.UPDATE):
            return 0
        else:
            kind = OutboxKind.UPDATE
        await self.store.enqueue(
            channel_id=channel_id,
            kind=kind,
            payload={"send_id": send_id},
            now=now,
            send_id=send_id,
        )
        return 1

    async def send_accepted(self, send: Send, *, now: datetime) -> int:
        """BSG accepted some of the send: post its parent once, then keep it current."""
        return await self.queue_parent_update(send, now=now, post=True)

    async def tell_sender(self, send: Send, notice: SenderNotice, *, now: datetime) -> None:
        """What became of the send, told privately to the person who sent it."""
        await self.tell_privately(send, notice_text(notice), now=now)

    async def tell_privately(
        self, send: Send, text: str, *, now: datetime, user_id: str | None = None
    ) -> None:
        """Queue a private answer in the send's channel, to its sender or to `user_id` (the one
        place one is queued). Only an answer to the sender goes through the command's
        response_url."""
        await self.store.enqueue(
            channel_id=send.channel_id,
            kind=OutboxKind.EPHEMERAL,
            payload={
                "user_id": send.user_id if user_id is None else user_id,
                "text": text,
                "response_url": send.response_url if user_id is None else None,
            },
            now=now,
            send_id=send.id,
        )

    async def refresh_parents(self, send_ids: Sequence[int], *, now: datetime) -> int:
        """Keep "last checked" on quiet parents current, at most once per refresh period."""
        period = timedelta(seconds=self.settings.parent_refresh)
        queued = 0
        for send_id in send_ids:
            last = await self.store.last_parent_render(send_id)
            if last is not None and now - last >= period:
                queued += await self.queue_parent_update(
                    await self.store.get_send(send_id), now=now
                )
        return queued

    async def render_parent(self, send_id: int) -> tuple[str, list[dict[str, Any]]]:
        """The parent message as it should read now, from the database."""
        send = await self.store.get_send(send_id)
        messages = await self.store.send_messages(send_id)
        counts = count_statuses(m.status for m in messages)
        total, currency = total_cost(messages)
        content = send.options.get("content", {})
        view = ParentView(
            user_id=send.user_id,
            text=send.text,
            sender=send.sender,
            recipients=[
                RecipientLine(
                    msisdn=m.msisdn,
                    status=m.status,
                    sms_status=m.sms_status,
                    bsg_id=m.bsg_id,
                    error_code=m.error_code,
                    error_description=m.error_description,
                )
                for m in messages
            ],
            counts=counts,
            total_cost=total,
            currency=currency,
            last_checked=send.last_checked_at,
            scheduled_for=send.send_at,
            mask=self.settings.mask_numbers,
            promotional=bool(content.get("promotional")),
            notes=await self._notes(send, total),
            actions=card_actions(send.id),
            opted_out=tuple(send.options.get("opted_out") or ()),
            collapsed=int(send.options.get("collapsed") or 0),
        )
        return parent_message(view)

    async def _notes(self, send: Send, total: Decimal | None) -> list[str]:
        """The card's links and notes: the estimate until BSG prices it, retries both ways,
        resends and exports."""
        notes: list[str] = []
        estimate = send.options.get("estimate")
        if total is None and isinstance(estimate, dict) and estimate.get("amount"):
            notes.append(estimated_note(Decimal(str(estimate["amount"])), estimate.get("currency")))
        original = send.options.get("retry_of")
        if isinstance(original, int):
            first = await self.store.get_send(original)
            notes.append(retry_of_note(first.channel_id, first.parent_ts))
        retry = await self.store.thread_action(send.id, RETRY_FAILED)
        if retry is not None and retry.state == "done" and retry.result_send_id:
            again = await self.store.get_send(retry.result_send_id)
            notes.append(
                retried_as_note(
                    retry.user_id,
                    int(retry.detail.get("recipients", 0)),
                    again.channel_id,
                    again.parent_ts,
                )
            )
        resend = await self.store.thread_action(send.id, RESEND_SMS)
        if resend is not None and resend.state == "done":
            notes.append(resent_note(resend.user_id, int(resend.detail.get("recipients", 0))))
        export = await self.store.thread_action(send.id, EXPORT_CSV)
        if export is not None and export.state == "done":
            notes.append(exported_note(export.user_id))
        return notes


def notice_text(notice: SenderNotice) -> str:
    """A tracking notice in the words of render/private.py."""
    if isinstance(notice, Refused):
        code = notice.code if notice.code is not None else BsgCode.UNKNOWN
        explanation = explain_bsg_code(notice.code) if notice.code is not None else None
        return refusal_text(code, notice.description, explanation, notice.msisdns)
    if isinstance(notice, NeverSent):
        return never_sent_text(notice.recipients)
    if isinstance(notice, PartlyNeverSent):
        return partly_never_sent_text(notice.msisdns)
    if isinstance(notice, Unconfirmed):
        return unconfirmed_text(notice.recipients)
    raise TypeError(f"not a sender notice: {notice!r}")
