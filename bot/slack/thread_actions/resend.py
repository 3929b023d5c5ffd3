"""The card's resend_sms: the undelivered recipients sent an SMS through BSG's /sms."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.domain.errors import BsgError, BsgRefused
from bot.domain.models import DeliveryStatus, Recipient, Send
from bot.slack.render.bsg_errors import explain_bsg_code
from bot.slack.render.thread_actions import RESEND_SMS, announce, sms_refused
from bot.slack.thread_actions.results import ActionResult
from bot.tracking.sending import new_reference

if TYPE_CHECKING:
    from bot.slack.thread_actions.service import ThreadActions

log = logging.getLogger("bot.slack.thread_actions")  # the card actions' one logger

REFERENCE_TAKEN = 43


async def resend_sms(
    actions: ThreadActions, send: Send, user_id: str, estimate: tuple[Decimal | None, str | None]
) -> ActionResult:
    """SMS the recipients nothing reached (once); BSG's refusals are told in the thread."""
    originator, text = actions.sms_route(send)
    await actions.authorize(send, user_id, RESEND_SMS)
    now = actions.clock()
    async with actions.store.atomic():
        claim, chosen = await actions.claim_recipients(send, RESEND_SMS, user_id, now)
        rows = await actions.store.add_sms_resends(
            send.id, [(m.id, m.msisdn, new_reference()) for m in chosen], now=now
        )
        await actions.store.finish_thread_action(
            claim, state="done", now=now, detail={"recipients": len(rows)}
        )
        await actions.reply(send, announce(RESEND_SMS, user_id, len(rows), *estimate), now)
        await actions.update_parent(send, now)
        await actions.audit(send, RESEND_SMS, user_id, "submitted", recipients=len(rows))
    actions.wake_outbox()
    try:
        result = await actions.bsg.sms_create(
            originator=originator,
            text=text,
            recipients=[Recipient(msisdn=r.msisdn, reference=r.reference) for r in rows],
        )
    except BsgRefused as refusal:
        async with actions.store.atomic():
            for row in rows:
                await _refuse(actions, row.id, refusal.code, refusal.description, now)
            await actions.reply(
                send,
                sms_refused(len(rows), refusal.code, explain_bsg_code(refusal.code)),
                actions.clock(),
            )
        actions.wake_outbox()
        return ActionResult(RESEND_SMS, 0)
    except BsgError as error:
        # Unanswered: the rows keep their references; the tracker looks them up later.
        log.warning("send %s: SMS resend unconfirmed: %s", send.id, error)
        return ActionResult(RESEND_SMS, len(rows))
    now = actions.clock()
    by_ref = {o.reference: o for o in result.outcomes}
    refused = 0
    async with actions.store.atomic():
        for row in rows:
            outcome = by_ref.get(row.reference)
            if outcome is None or outcome.unconfirmed:
                continue
            if outcome.accepted:
                await actions.store.update_sms_resend(
                    row.id,
                    bsg_id=outcome.bsg_id,
                    status=DeliveryStatus.SENT,
                    price=outcome.price,
                    currency=outcome.currency,
                    last_change_at=now,
                    next_poll_at=now + timedelta(seconds=actions.settings.poll_interval),
                )
            elif outcome.error is not None and outcome.error.code == REFERENCE_TAKEN:
                # BSG holds this reference already (an answer lost before): looked up later.
                continue
            elif outcome.error is not None:
                refused += 1
                await _refuse(actions, row.id, outcome.error.code, outcome.error.description, now)
        if refused:
            first = next(
                o.error
                for o in result.outcomes
                if o.error is not None and o.error.code != REFERENCE_TAKEN
            )
            await actions.reply(
                send, sms_refused(refused, first.code, explain_bsg_code(first.code)), now
            )
    actions.wake_outbox()
    return ActionResult(RESEND_SMS, len(rows) - refused)


async def _refuse(
    actions: ThreadActions, row_id: int, code: int, description: str, now: datetime
) -> None:
    """The resent SMS was refused by BSG: final, with BSG's code."""
    await actions.store.update_sms_resend(
        row_id,
        status=DeliveryStatus.REFUSED,
        error_code=code,
        error_description=description,
        final=True,
        next_poll_at=None,
        last_change_at=now,
    )
