"""Tracking the SMS that resend_sms sent: GET /sms/{id} (or by reference when unconfirmed),
changes recorded on the message and told in the send's thread."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.domain.errors import BsgError, BsgNotFound
from bot.domain.models import Channel, DeliveryStatus
from bot.slack.render.replies import ReplyEvent, reply_line, summary_reply

if TYPE_CHECKING:
    from bot.slack.thread_actions.service import ThreadActions

SMS_FINAL = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.UNDELIVERABLE,
        DeliveryStatus.REJECTED,
        DeliveryStatus.EXPIRED,
        DeliveryStatus.DELETED,
        DeliveryStatus.REFUSED,
        DeliveryStatus.NOT_SENT,
    }
)
SMS_VALIDITY = timedelta(hours=72)  # BSG's default SMS validity


async def track_sms(actions: ThreadActions, *, tick: datetime | None = None) -> int:
    """One sweep over resent SMS: poll the due ones, look up unconfirmed ones by
    reference, record changes on the message and reply in the thread. Returns changes.

    `tick`: the tick of the Viber sweep this runs beside (default: now); due means due by
    it, and next looks are counted from it (see Poller.sweep)."""
    now = actions.clock()
    tick = now if tick is None else tick
    due = await actions.store.due_sms_resends(tick)
    grace = now - timedelta(seconds=actions.settings.reconcile_grace)
    lost = await actions.store.unconfirmed_sms_resends(grace)
    if not due and not lost:
        return 0
    limit = asyncio.Semaphore(actions.settings.poll_concurrency)

    async def look(row, by_reference: bool):
        async with limit:
            try:
                if by_reference:
                    return row, await actions.bsg.sms_status_by_reference(row.reference)
                return row, await actions.bsg.sms_status(row.bsg_id or "")
            except BsgError as error:
                return row, error

    results = await asyncio.gather(*(look(r, False) for r in due), *(look(r, True) for r in lost))
    now = actions.clock()
    events: dict[int, list[ReplyEvent]] = {}
    async with actions.store.atomic():
        for row, seen in results:
            if isinstance(seen, BsgNotFound) and row.bsg_id is None:
                await actions.store.update_sms_resend(
                    row.id, status=DeliveryStatus.NOT_SENT, final=True, next_poll_at=None
                )
                continue
            if isinstance(seen, BsgError):
                quiet = (now - row.created_at).total_seconds()
                await actions.store.update_sms_resend(
                    row.id, next_poll_at=tick + timedelta(seconds=actions.policy.delay(quiet))
                )
                continue
            status = seen.status
            final = status in SMS_FINAL
            if not final and now - row.created_at > SMS_VALIDITY:
                status, final = DeliveryStatus.EXPIRED, True
            quiet = (now - row.created_at).total_seconds()
            changes = {
                "bsg_id": seen.bsg_id or row.bsg_id,
                "final": final,
                "next_poll_at": None
                if final
                else tick + timedelta(seconds=actions.policy.delay(quiet)),
            }
            if status != row.status:
                changes.update(
                    status=status,
                    last_change_at=now,
                    price=seen.price if seen.price is not None else row.price,
                    currency=seen.currency or row.currency,
                )
                await actions.store.record_resent_sms(
                    row.message_id, status, seen.price, seen.currency, now
                )
                if final:
                    events.setdefault(row.send_id, []).append(
                        ReplyEvent(
                            msisdn=row.msisdn,
                            channel=Channel.SMS,
                            status=status,
                            at=seen.time_dr or now,
                            price=seen.price,
                            currency=seen.currency,
                            mask=actions.settings.mask_numbers,
                        )
                    )
            await actions.store.update_sms_resend(row.id, **changes)
        for send_id, told in events.items():
            send = await actions.store.get_send(send_id)
            if len(told) > actions.settings.summary_threshold:
                texts = [summary_reply(told, actions.settings.mask_numbers)]
            else:
                texts = [reply_line(e) for e in told]
            for text in texts:
                await actions.reply(send, text, now)
            await actions.update_parent(send, now)
    if events:
        actions.wake_outbox()
    return sum(len(v) for v in events.values())
