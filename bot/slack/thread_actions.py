"""The parent card's actions: retry_failed, resend_sms and export_csv, each once per send, and
the tracking of the SMS that resend_sms sends (GET /sms/{id}, replies in the send's thread)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bsg.client import BsgClient
from bot.clock import Clock
from bot.domain.errors import AccessDenied, BsgError, BsgNotFound, BsgRefused
from bot.domain.models import (
    Channel,
    Composed,
    CreateRequest,
    DeliveryStatus,
    OutboxKind,
    Recipient,
    Send,
    StoredMessage,
)
from bot.domain.policy import PollPolicy
from bot.settings import Settings
from bot.slack.notifier import Notifier
from bot.slack.render import private
from bot.slack.render.bsg_errors import explain_bsg_code
from bot.slack.render.replies import ReplyEvent, reply_line, summary_reply
from bot.slack.render.thread_actions import (
    EXPORT_CSV,
    RESEND_SMS,
    RETRY_FAILED,
    announce,
    recipients_csv,
    sms_refused,
)
from bot.tracking.sending import Origin, SendService, content_of, new_reference
from storage.actions import ThreadAction
from storage.store import Store

log = logging.getLogger(__name__)

# Viber and SMS both ended like this: the recipient is worth a retry (issue 14).
RETRYABLE = frozenset(
    {
        DeliveryStatus.FAILED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.EXPIRED,
        DeliveryStatus.REJECTED,
    }
)
DELIVERED = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.READ})
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
SMS_TEXT_MAX = 765
EXPORT_STALE = 300.0  # seconds: an export claim older than this never finished
REFERENCE_TAKEN = 43
SMS_VALIDITY = timedelta(hours=72)  # BSG's default SMS validity


async def _none_opted_out(msisdns: Sequence[str]) -> Iterable[str]:
    return ()


class ActionRefused(Exception):
    """The action cannot run for this send; the message says why, for the person."""


@dataclass(frozen=True)
class ActionResult:
    action: str
    count: int
    send_id: int | None = None  # the retry's new send


class ThreadActions:
    """What the card's buttons do; Slack wording comes from render.thread_actions."""

    def __init__(
        self,
        *,
        store: Store,
        bsg: BsgClient,
        sending: SendService,
        slack: AsyncWebClient,
        settings: Settings,
        clock: Clock,
        policy: PollPolicy,
        notifier: Notifier,
        wake_outbox: Callable[[], None] = lambda: None,
        opted_out: Callable[[Sequence[str]], Awaitable[Iterable[str]]] | None = None,
    ):
        self.store = store
        self.bsg = bsg
        self.sending = sending
        self.slack = slack
        self.settings = settings
        self.clock = clock
        self.policy = policy
        self.notifier = notifier
        self.wake_outbox = wake_outbox
        # Opted-out numbers never reach BSG from an action (issue 13 supplies the check).
        self._opted_out = opted_out or _none_opted_out

    # ------------------------------------------------------------ who and what

    def may_use(self, user_id: str, send: Send) -> bool:
        """The sender, or someone on VIBER_BOT_ALLOWED_USERS."""
        return user_id == send.user_id or user_id in self.settings.allowed_users

    async def audit_denied(self, send: Send, action: str, user_id: str) -> None:
        await self._audit(send, action, user_id, "denied")

    async def tell(self, send: Send, user_id: str, text: str) -> None:
        """A private answer to `user_id` in the send's channel (through the outbox)."""
        async with self.store.atomic():
            await self.notifier.tell_privately(send, text, now=self.clock(), user_id=user_id)
        self.wake_outbox()

    async def candidates(self, send_id: int, action: str) -> list[StoredMessage]:
        """The recipients the action would reach now (opted-out numbers left out)."""
        messages = await self.store.send_messages(send_id)
        if action == EXPORT_CSV:
            return messages
        if action == RETRY_FAILED:
            chosen = [
                m
                for m in messages
                if m.status in RETRYABLE and (m.sms_status is None or m.sms_status in RETRYABLE)
            ]
        else:
            already = {r.message_id for r in await self.store.sms_resends(send_id)}
            chosen = [
                m
                for m in messages
                if m.final
                and m.status not in DELIVERED
                and m.sms_status not in DELIVERED
                and m.id not in already
            ]
        opted = set(await self._opted_out([m.msisdn for m in chosen]))
        return [m for m in chosen if m.msisdn not in opted]

    def sms_route(self, send: Send) -> tuple[str, str]:
        """(originator, text) of a resend: the send's SMS fallback, else its sender and text."""
        content = content_of(send)
        if content.sms is not None:
            return content.sms.originator, content.sms.text
        if not 3 <= len(content.sender) <= 15:
            raise ActionRefused(
                f"the sender name '{content.sender}' is not a valid SMS sender (3 to 15 "
                "characters), and this send has no SMS fallback to take one from"
            )
        if len(content.text) > SMS_TEXT_MAX:
            raise ActionRefused(
                f"the text is {len(content.text)} characters; an SMS holds at most {SMS_TEXT_MAX}"
            )
        return content.sender, content.text

    async def estimate(
        self, send: Send, action: str, messages: Sequence[StoredMessage]
    ) -> tuple[Decimal | None, str | None]:
        """BSG's price for doing it, or (None, None) when BSG does not answer in time."""
        if action == EXPORT_CSV or not messages:
            return None, None
        try:
            async with asyncio.timeout(self.settings.estimate_timeout):
                if action == RETRY_FAILED:
                    preview = await self.bsg.price_preview(
                        CreateRequest(
                            content=content_of(send).model_copy(update={"send_at": None}),
                            recipients=tuple(
                                Recipient(msisdn=m.msisdn, reference=f"price{n}")
                                for n, m in enumerate(messages[: self.settings.bsg_batch_size])
                            ),
                        )
                    )
                    scale = Decimal(len(messages)) / min(
                        len(messages), self.settings.bsg_batch_size
                    )
                    return preview.total_price * scale, preview.currency
                originator, text = self.sms_route(send)
                preview = await self.bsg.sms_price(
                    originator=originator, text=text, msisdns=[m.msisdn for m in messages]
                )
                return preview.total_price, preview.currency
        except (BsgError, TimeoutError, ActionRefused) as error:
            log.info("thread action estimate unavailable: %s", error)
            return None, None

    # ------------------------------------------------------------ the actions

    async def _reply(self, send: Send, text: str, now: datetime) -> None:
        await self.store.enqueue(
            channel_id=send.channel_id,
            kind=OutboxKind.REPLY,
            payload={"send_id": send.id, "text": text},
            now=now,
            send_id=send.id,
        )

    async def _update_parent(self, send: Send, now: datetime) -> None:
        await self.notifier.queue_parent_update(send, now=now)

    async def _audit(
        self, send: Send, action: str, user_id: str, outcome: str, **detail: object
    ) -> None:
        await self.store.audit(
            action=action,
            outcome=outcome,
            now=self.clock(),
            user_id=user_id,
            channel_id=send.channel_id,
            team_id=send.team_id,
            send_id=send.id,
            detail=detail,
        )

    async def run(
        self, send_id: int, action: str, user_id: str, estimate: tuple[Decimal | None, str | None]
    ) -> ActionResult:
        """Do it, once: the claim, the stored rows and the announcement are one transaction
        made before BSG or Slack is called. Raises ActionRefused to say why not."""
        send = await self.store.get_send(send_id)
        if not self.may_use(user_id, send):
            await self._audit(send, action, user_id, "denied")
            raise ActionRefused("not allowed")
        if action == RETRY_FAILED:
            return await self._retry(send, user_id, estimate)
        if action == RESEND_SMS:
            return await self._resend(send, user_id, estimate)
        return await self._export(send, user_id)

    async def _authorize(self, send: Send, user_id: str, action: str) -> None:
        """The send rules hold for an action that sends (channel, limit, daily quota)."""
        origin = Origin(
            team_id=send.team_id,
            channel_id=send.channel_id,
            user_id=user_id,
            source=action,
            dedupe_key=None,
        )
        count = len(await self.candidates(send.id, action))
        if count:
            try:
                await self.sending.authorize(origin, count)
            except AccessDenied as denial:
                raise ActionRefused(private.denied(denial)) from None

    async def used(self, send_id: int, action: str) -> ThreadAction | None:
        """The action's earlier use on this send, if any. An export still only claimed after
        EXPORT_STALE seconds was cut short (a crash mid-upload): it sends nothing to BSG, so
        its claim is released and the export may run again."""
        found = await self.store.thread_action(send_id, action)
        if (
            found is not None
            and action == EXPORT_CSV
            and found.state == "claimed"
            and (self.clock() - found.created_at).total_seconds() > EXPORT_STALE
        ):
            log.info("send %s: an export cut short at %s is released", send_id, found.created_at)
            await self.store.release_thread_action(found.id)
            return None
        return found

    async def _claim(self, send: Send, action: str, user_id: str, now: datetime) -> int:
        claim = await self.store.claim_thread_action(send.id, action, user_id=user_id, now=now)
        if claim is None:
            raise ActionRefused("already")
        return claim.id

    async def _retry(
        self, send: Send, user_id: str, estimate: tuple[Decimal | None, str | None]
    ) -> ActionResult:
        await self._authorize(send, user_id, RETRY_FAILED)
        now = self.clock()
        async with self.store.atomic():
            claim = await self._claim(send, RETRY_FAILED, user_id, now)
            chosen = await self.candidates(send.id, RETRY_FAILED)
            if not chosen:
                await self.store.release_thread_action(claim)
                raise ActionRefused("nothing")
            # The original time is past: the retry goes now, with the same content.
            content = content_of(send).model_copy(update={"send_at": None})
            origin = Origin(
                team_id=send.team_id,
                channel_id=send.channel_id,
                user_id=user_id,
                source="retry",
                dedupe_key=f"retry:{send.id}",
            )
            # Each recipient of a CSV send gets again the text that was theirs.
            personal = {m.msisdn: (m.text, m.sms_text) for m in chosen if m.text or m.sms_text}
            retry = await self.sending.submit(
                Composed(
                    msisdns=tuple(m.msisdn for m in chosen), content=content, personal=personal
                ),
                origin,
            )
            await self.store.set_send_option(retry.id, "retry_of", send.id)
            await self.store.finish_thread_action(
                claim,
                state="done",
                now=now,
                result_send_id=retry.id,
                detail={"recipients": len(chosen)},
            )
            await self._reply(send, announce(RETRY_FAILED, user_id, len(chosen), *estimate), now)
            await self._audit(
                send, RETRY_FAILED, user_id, "submitted", recipients=len(chosen), retry=retry.id
            )
        self.wake_outbox()
        await self.sending.deliver(retry.id)
        # Queued behind the retry's own parent post (same channel, in order), so the original
        # card links to it once it is posted.
        async with self.store.atomic():
            await self._update_parent(send, self.clock())
        self.wake_outbox()
        return ActionResult(RETRY_FAILED, len(chosen), retry.id)

    async def _resend(
        self, send: Send, user_id: str, estimate: tuple[Decimal | None, str | None]
    ) -> ActionResult:
        originator, text = self.sms_route(send)
        await self._authorize(send, user_id, RESEND_SMS)
        now = self.clock()
        async with self.store.atomic():
            claim = await self._claim(send, RESEND_SMS, user_id, now)
            chosen = await self.candidates(send.id, RESEND_SMS)
            if not chosen:
                await self.store.release_thread_action(claim)
                raise ActionRefused("nothing")
            rows = await self.store.add_sms_resends(
                send.id, [(m.id, m.msisdn, new_reference()) for m in chosen], now=now
            )
            await self.store.finish_thread_action(
                claim, state="done", now=now, detail={"recipients": len(rows)}
            )
            await self._reply(send, announce(RESEND_SMS, user_id, len(rows), *estimate), now)
            await self._update_parent(send, now)
            await self._audit(send, RESEND_SMS, user_id, "submitted", recipients=len(rows))
        self.wake_outbox()
        try:
            result = await self.bsg.sms_create(
                originator=originator,
                text=text,
                recipients=[Recipient(msisdn=r.msisdn, reference=r.reference) for r in rows],
            )
        except BsgRefused as refusal:
            async with self.store.atomic():
                for row in rows:
                    await self._refuse(row.id, refusal.code, refusal.description, now)
                await self._reply(
                    send,
                    sms_refused(len(rows), refusal.code, explain_bsg_code(refusal.code)),
                    self.clock(),
                )
            self.wake_outbox()
            return ActionResult(RESEND_SMS, 0)
        except BsgError as error:
            # Unanswered: the rows keep their references; the tracker looks them up later.
            log.warning("send %s: SMS resend unconfirmed: %s", send.id, error)
            return ActionResult(RESEND_SMS, len(rows))
        now = self.clock()
        by_ref = {o.reference: o for o in result.outcomes}
        refused = 0
        async with self.store.atomic():
            for row in rows:
                outcome = by_ref.get(row.reference)
                if outcome is None or outcome.unconfirmed:
                    continue
                if outcome.accepted:
                    await self.store.update_sms_resend(
                        row.id,
                        bsg_id=outcome.bsg_id,
                        status=DeliveryStatus.SENT,
                        price=outcome.price,
                        currency=outcome.currency,
                        last_change_at=now,
                        next_poll_at=now + timedelta(seconds=self.settings.poll_interval),
                    )
                elif outcome.error is not None and outcome.error.code == REFERENCE_TAKEN:
                    # BSG holds this reference already (an answer lost before): looked up later.
                    continue
                elif outcome.error is not None:
                    refused += 1
                    await self._refuse(row.id, outcome.error.code, outcome.error.description, now)
            if refused:
                first = next(
                    o.error
                    for o in result.outcomes
                    if o.error is not None and o.error.code != REFERENCE_TAKEN
                )
                await self._reply(
                    send, sms_refused(refused, first.code, explain_bsg_code(first.code)), now
                )
        self.wake_outbox()
        return ActionResult(RESEND_SMS, len(rows) - refused)

    async def _refuse(self, row_id: int, code: int, description: str, now: datetime) -> None:
        await self.store.update_sms_resend(
            row_id,
            status=DeliveryStatus.REFUSED,
            error_code=code,
            error_description=description,
            final=True,
            next_poll_at=None,
            last_change_at=now,
        )

    async def _export(self, send: Send, user_id: str) -> ActionResult:
        now = self.clock()
        claim = await self._claim(send, EXPORT_CSV, user_id, now)
        messages = await self.store.send_messages(send.id)
        resent = {r.message_id: r.status.value for r in await self.store.sms_resends(send.id)}
        content = recipients_csv(messages, resent, mask=self.settings.mask_numbers)
        try:
            await self.slack.files_upload_v2(
                channel=send.channel_id,
                thread_ts=send.parent_ts,
                content=content,
                filename=f"viber-send-{send.id}.csv",
                title=f"Viber send {send.id}: {len(messages)} recipients",
                initial_comment=announce(EXPORT_CSV, user_id, len(messages), None, None),
            )
        except (SlackApiError, OSError, TimeoutError) as error:
            # Nothing reached the thread: the claim goes, so the button may be pressed again.
            await self.store.release_thread_action(claim)
            log.warning("send %s: CSV export failed: %s", send.id, error)
            raise ActionRefused("upload") from None
        async with self.store.atomic():
            await self.store.finish_thread_action(
                claim, state="done", now=self.clock(), detail={"rows": len(messages)}
            )
            await self._update_parent(send, self.clock())
            await self._audit(send, EXPORT_CSV, user_id, "done", rows=len(messages))
        self.wake_outbox()
        return ActionResult(EXPORT_CSV, len(messages))

    # ------------------------------------------------------------ SMS tracking

    async def track_sms(self) -> int:
        """One sweep over resent SMS: poll the due ones, look up unconfirmed ones by
        reference, record changes on the message and reply in the thread. Returns changes."""
        now = self.clock()
        due = await self.store.due_sms_resends(now)
        grace = now - timedelta(seconds=self.settings.reconcile_grace)
        lost = await self.store.unconfirmed_sms_resends(grace)
        if not due and not lost:
            return 0
        limit = asyncio.Semaphore(self.settings.poll_concurrency)

        async def look(row, by_reference: bool):
            async with limit:
                try:
                    if by_reference:
                        return row, await self.bsg.sms_status_by_reference(row.reference)
                    return row, await self.bsg.sms_status(row.bsg_id or "")
                except BsgError as error:
                    return row, error

        results = await asyncio.gather(
            *(look(r, False) for r in due), *(look(r, True) for r in lost)
        )
        now = self.clock()
        events: dict[int, list[ReplyEvent]] = {}
        async with self.store.atomic():
            for row, seen in results:
                if isinstance(seen, BsgNotFound) and row.bsg_id is None:
                    await self.store.update_sms_resend(
                        row.id, status=DeliveryStatus.NOT_SENT, final=True, next_poll_at=None
                    )
                    continue
                if isinstance(seen, BsgError):
                    quiet = (now - row.created_at).total_seconds()
                    await self.store.update_sms_resend(
                        row.id, next_poll_at=now + timedelta(seconds=self.policy.delay(quiet))
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
                    else now + timedelta(seconds=self.policy.delay(quiet)),
                }
                if status != row.status:
                    changes.update(
                        status=status,
                        last_change_at=now,
                        price=seen.price if seen.price is not None else row.price,
                        currency=seen.currency or row.currency,
                    )
                    await self.store.record_resent_sms(
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
                                mask=self.settings.mask_numbers,
                            )
                        )
                await self.store.update_sms_resend(row.id, **changes)
            for send_id, told in events.items():
                send = await self.store.get_send(send_id)
                if len(told) > self.settings.summary_threshold:
                    texts = [summary_reply(told, self.settings.mask_numbers)]
                else:
                    texts = [reply_line(e) for e in told]
                for text in texts:
                    await self._reply(send, text, now)
                await self._update_parent(send, now)
        if events:
            self.wake_outbox()
        return sum(len(v) for v in events.values())
