"""The send service: access checks, storing a send before BSG, the create call and recording
its outcome (recovery is mixed in from bot/tracking/recovery.py).

One subject, over 400 lines: a send from its submission to BSG's answer being stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.bsg.client import BsgClient
from bot.bsg.requests import build_create_body
from bot.clock import Clock
from bot.domain.errors import (
    AccessDenied,
    AllOptedOut,
    BsgCode,
    BsgError,
    BsgRefused,
    Denial,
    QuotaExceeded,
)
from bot.domain.models import (
    Composed,
    CreateRequest,
    DeliveryStatus,
    Recipient,
    RecipientOutcome,
    Send,
    SendOutcome,
    StoredMessage,
)
from bot.domain.policy import PollPolicy
from bot.metrics import Metrics
from bot.settings import Settings
from bot.tracking.audiences import OptOutSplit, split_among
from bot.tracking.listener import (
    NeverSent,
    Refused,
    SenderNotice,
    SendListener,
    Unconfirmed,
)
from bot.tracking.recovery import Reconciliation
from bot.tracking.stored import content_of, refusal_info
from storage.store import Acceptance, NewRecipient, NewSend, Store, Submission

log = logging.getLogger(__name__)


def new_reference() -> str:
    """A fresh idempotency key for one recipient: 32 hex characters, as BSG allows."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Origin:
    """Where a submission came from in Slack (Slack types stop here)."""

    team_id: str | None
    channel_id: str
    user_id: str
    source: str  # command | modal
    dedupe_key: str | None
    response_url: str | None = None


class SendService(Reconciliation):
    """Everything between a validated submission and BSG's answer being stored."""

    def __init__(
        self,
        *,
        store: Store,
        bsg: BsgClient,
        settings: Settings,
        clock: Clock,
        policy: PollPolicy,
        metrics: Metrics,
        listener: SendListener,
        wake_outbox: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self.listener = listener
        self.bsg = bsg
        self.settings = settings
        self.clock = clock
        self.policy = policy
        self.metrics = metrics
        self.wake_outbox = wake_outbox
        self._in_flight: set[int] = set()
        # The deliveries under way (each a listener's work after its ack), for a clean stop.
        self._delivering: set[asyncio.Task[Any]] = set()
        # Unconfirmed messages stored before this moment were left by an earlier run.
        self.started_at = clock()
        # Set on a database other replicas share: one of them may be creating an unconfirmed
        # message right now, so only the reconcile grace makes it an earlier run's.
        self.shared_database = False

    # ------------------------------------------------------------ access

    async def authorize(self, origin: Origin, recipients: int) -> None:
        """Raise AccessDenied (audited) when this person, channel or quota may not send."""
        s = self.settings
        denial: AccessDenied | None = None
        if s.allowed_users and origin.user_id not in s.allowed_users:
            denial = AccessDenied(Denial.USER)
        elif s.allowed_channels and origin.channel_id not in s.allowed_channels:
            denial = AccessDenied(Denial.CHANNEL)
        elif origin.channel_id.startswith("D"):
            denial = AccessDenied(Denial.DIRECT_MESSAGE)
        elif recipients > s.max_recipients:
            denial = AccessDenied(Denial.TOO_MANY, recipients=recipients, limit=s.max_recipients)
        elif s.daily_quota is not None:
            now = self.clock()
            day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            used = await self.store.recipients_sent_by(origin.user_id, day_start)
            if used + recipients > s.daily_quota:
                denial = QuotaExceeded(
                    Denial.QUOTA, recipients=recipients, limit=s.daily_quota, used=used
                )
        if denial is None:
            return
        action = "quota" if denial.why is Denial.QUOTA else "refused"
        await self.store.audit(
            action=action,
            outcome="denied",
            now=self.clock(),
            user_id=origin.user_id,
            channel_id=origin.channel_id,
            team_id=origin.team_id,
            detail={"reason": denial.why.value, "recipients": recipients},
        )
        log.info(
            "send refused: user=%s channel=%s reason=%s",
            origin.user_id,
            origin.channel_id,
            denial.why.value,
        )
        raise denial

    # ------------------------------------------------------------ submit & deliver

    def read_denial(self, user_id: str, channel_id: str) -> Denial | None:
        """Why this person may not look messages up here (the send allow-lists), or None."""
        s = self.settings
        if s.allowed_users and user_id not in s.allowed_users:
            return Denial.USER
        if s.allowed_channels and channel_id not in s.allowed_channels:
            return Denial.CHANNEL
        return None

    async def submit(self, composed: Composed, origin: Origin) -> Send:
        """Store the send and one message per recipient with a fresh reference, before BSG.

        Opted-out numbers are left out, checked inside the transaction that stores the send
        (so an opt-out made while the modal was open counts); they are kept on the send to be
        listed on the parent. Raises AllOptedOut (audited) when nobody is left, and
        storage.store.DuplicateSubmission when the same submission was stored already.
        The whole transaction is one step (Store.add_submission): slash commands arriving
        together each wait for one short trip to the database, not for each other's statements.
        """
        now = self.clock()
        splits: list[OptOutSplit] = []

        def plan(opted_out: set[str]) -> Submission | None:
            split = split_among(composed.msisdns, opted_out)
            splits.append(split)
            return self._submission(composed, origin, split) if split.allowed else None

        send = await self.store.add_submission(composed.msisdns, plan, now=now)
        split = splits[-1]
        if send is None:
            await self.store.audit(
                action="send",
                outcome="opted_out",
                now=now,
                user_id=origin.user_id,
                channel_id=origin.channel_id,
                team_id=origin.team_id,
                detail={"recipients": len(split.opted_out), "source": origin.source},
            )
            log.info("send refused: every one of %d recipients opted out", len(split.opted_out))
            raise AllOptedOut(split.opted_out)
        count = len(split.allowed)
        self.metrics.recipients.inc(count)
        log.info(
            "send %s stored: user=%s channel=%s recipients=%d opted_out=%d",
            send.id,
            origin.user_id,
            origin.channel_id,
            count,
            len(split.opted_out),
        )
        return send

    def _submission(self, composed: Composed, origin: Origin, split: OptOutSplit) -> Submission:
        """What a submission stores: the send, a fresh reference per recipient, BSG's request
        body. Plain computation: it runs inside the storing transaction."""
        content = composed.content
        personal = composed.personal
        recipients = []
        for msisdn in split.allowed:
            text, sms_text = personal.get(msisdn, (None, None))
            recipients.append(NewRecipient(msisdn, new_reference(), text, sms_text))
        body = build_create_body(
            content,
            [
                Recipient(msisdn=r.msisdn, reference=r.reference, text=r.text, sms_text=r.sms_text)
                for r in recipients
            ],
            0,
            self.bsg.callback_url,
        )
        options: dict[str, object] = {"content": content.model_dump(mode="json")}
        if split.opted_out:
            options["opted_out"] = list(split.opted_out)
        if composed.collapsed:
            options["collapsed"] = composed.collapsed
        if composed.lists:
            options["lists"] = dict(composed.lists)
        if personal:
            options["personal"] = True
        return Submission(
            send=NewSend(
                team_id=origin.team_id,
                channel_id=origin.channel_id,
                user_id=origin.user_id,
                text=content.text,
                sender=content.sender,
                options=options,
                source=origin.source,
                dedupe_key=origin.dedupe_key,
                response_url=origin.response_url,
                send_at=content.send_at,
                validity=content.validity,
            ),
            recipients=recipients,
            request_json=json.dumps(body, ensure_ascii=False),
            audit_detail={
                "recipients": len(recipients),
                "source": origin.source,
                "opted_out": len(split.opted_out),
            },
        )

    async def deliver(self, send_id: int, *, submitted: Send | None = None) -> SendOutcome:
        """Call BSG for a stored send and record what it said. Never raises for BSG's failures.

        `submitted`: the send as submit() returned it (read in the step that stored it), so
        it is not read and parsed again on the event loop beside the acks of other commands."""
        self._in_flight.add(send_id)
        task = asyncio.current_task()
        if task is not None:
            self._delivering.add(task)
        try:
            return await self._deliver(send_id, submitted)
        finally:
            self._in_flight.discard(send_id)
            self._delivering.discard(task)  # type: ignore[arg-type]

    @property
    def delivering(self) -> int:
        """Sends whose create is under way in this process."""
        return len(self._in_flight)

    async def settle(self, grace: float) -> int:
        """Let the deliveries under way finish within `grace` seconds, then cancel the rest.

        A cancelled delivery loses nothing: its send and references were stored before BSG
        was asked, and the next start looks them up (and creates again, with the same
        references, only what BSG does not know). Returns how many were cut short."""
        under_way = self._delivering - {asyncio.current_task()}
        if not under_way:
            return 0
        _, late = await asyncio.wait(under_way, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=0.5)
            log.warning(
                "stop: %d delivery(ies) to BSG cut short; the next start looks them up",
                len(late),
            )
        return len(late)

    async def _deliver(self, send_id: int, submitted: Send | None) -> SendOutcome:
        send = submitted if submitted is not None else await self.store.get_send(send_id)
        messages = [
            m for m in await self.store.send_messages(send_id) if m.status == DeliveryStatus.PENDING
        ]
        if not messages:
            return send.outcome
        request = CreateRequest(
            content=content_of(send),
            recipients=tuple(
                Recipient(msisdn=m.msisdn, reference=m.reference, text=m.text, sms_text=m.sms_text)
                for m in messages
            ),
        )
        try:
            result = await self.bsg.create(request)
        except BsgRefused as refusal:
            self.metrics.bsg_errors.labels(code=str(refusal.code)).inc()
            whole_refusal = True
            outcomes = [
                RecipientOutcome(reference=m.reference, error=refusal_info(refusal))
                for m in messages
            ]
        except BsgError as error:
            # Unavailable or unreadable: BSG may or may not hold them. Reconciliation decides.
            self.metrics.bsg_errors.labels(code="unavailable").inc()
            log.warning("send %s: BSG did not answer the create: %s", send_id, error)
            await self._tell_unconfirmed(send)
            return SendOutcome.PENDING
        else:
            whole_refusal = False
            outcomes = list(result.outcomes)
        outcomes = await self._resolve_already_sent(outcomes)
        verdict = await self._record_outcomes(
            send, messages, outcomes, count_refusals=not whole_refusal
        )
        # A batch BSG did not answer comes back as unconfirmed outcomes, not as an error:
        # the sender hears about it all the same, and reconciliation settles it later.
        by_ref = {o.reference: o for o in outcomes}
        unconfirmed = sum(
            1 for m in messages if m.reference not in by_ref or by_ref[m.reference].unconfirmed
        )
        if unconfirmed:
            await self._tell_unconfirmed(send, unconfirmed if unconfirmed < len(messages) else None)
        return verdict

    async def _resolve_already_sent(
        self, outcomes: Sequence[RecipientOutcome]
    ) -> list[RecipientOutcome]:
        """Code 43 means BSG holds this reference already: it was sent. Look it up."""
        resolved = []
        for outcome in outcomes:
            if outcome.error is not None and outcome.error.code == BsgCode.ALREADY_EXISTS:
                try:
                    found = await self.bsg.status_by_reference(outcome.reference)
                except BsgError as error:
                    log.warning(
                        "reference %s: lookup after 43 failed: %s", outcome.reference, error
                    )
                    outcome = RecipientOutcome(reference=outcome.reference, unconfirmed=True)
                else:
                    outcome = RecipientOutcome(
                        reference=outcome.reference,
                        bsg_id=found.bsg_id,
                        price=found.price,
                        currency=found.currency,
                        unconfirmed=found.bsg_id is None,
                    )
            resolved.append(outcome)
        return resolved

    async def _record_outcomes(
        self,
        send: Send,
        messages: list[StoredMessage],
        outcomes: list[RecipientOutcome],
        *,
        count_refusals: bool = True,
        anchor: datetime | None = None,
    ) -> SendOutcome:
        """`anchor`: where the first look is counted from (a sweep's tick when recovery
        re-creates at a sweep's start; by default, now: a new message's first look comes one
        poll interval after BSG took it)."""
        now = self.clock()
        by_ref = {o.reference: o for o in outcomes}
        refused: list[tuple[StoredMessage, int, str]] = []
        accepted: list[Acceptance] = []

        async def record(store: Store) -> SendOutcome:
            for message in messages:
                outcome = by_ref.get(message.reference)
                if outcome is None or outcome.unconfirmed:
                    continue
                if outcome.accepted:
                    accepted.append(self._acceptance(send, message, outcome, now, anchor or now))
                elif outcome.error is not None:
                    code, description = outcome.error.code, outcome.error.description
                    if count_refusals:
                        self.metrics.bsg_errors.labels(code=str(code)).inc()
                    await store.record_refusal(
                        message.id,
                        status=DeliveryStatus.REFUSED,
                        code=code,
                        description=description,
                        now=now,
                    )
                    refused.append((message, code, description))
            # One statement for all of them: a 10,000-recipient send answers at once.
            await store.record_acceptances(accepted, now=now)
            return await self._settle(send.id, now, store=store)

        # One step: under a burst of sends each statement would wait for a turn of the loop
        # while holding the write lock.
        verdict = await self.store.in_one_step(record)
        self.metrics.sends.labels(outcome=verdict.value).inc()
        log.info(
            "send %s: BSG answered: outcome=%s refused=%d", send.id, verdict.value, len(refused)
        )
        self.wake_outbox()
        return verdict

    def _acceptance(
        self,
        send: Send,
        message: StoredMessage,
        outcome: RecipientOutcome,
        now: datetime,
        anchor: datetime,
    ) -> Acceptance:
        assert outcome.bsg_id is not None
        status = DeliveryStatus.SCHEDULED if send.send_at and send.send_at > now else None
        log.info(
            "message %s accepted: send=%s bsg_id=%s reference=%s",
            message.id,
            send.id,
            outcome.bsg_id,
            message.reference,
        )
        return Acceptance(
            message_id=message.id,
            bsg_id=outcome.bsg_id,
            price=outcome.price,
            currency=outcome.currency,
            next_poll_at=self.policy.first_poll(anchor, send.send_at),
            expires_at=self.policy.expires_at(now, send.send_at, send.validity),
            status=status or DeliveryStatus.SENT,
        )

    async def _accept(
        self,
        send: Send,
        message: StoredMessage,
        outcome: RecipientOutcome,
        now: datetime,
        anchor: datetime,
    ) -> None:
        """One acceptance found later (recovery adopting a message BSG holds), recorded as a
        create's answer records them."""
        acceptance = self._acceptance(send, message, outcome, now, anchor)
        await self.store.record_acceptances([acceptance], now=now)

    async def _settle(
        self, send_id: int, now: datetime, *, store: Store | None = None
    ) -> SendOutcome:
        """Set the send's outcome from its messages; queue the parent or the refusal. In a txn
        (`store`: one bound to the step it runs in, Store.in_one_step)."""
        return (await self._settle_sends([send_id], now, store=store))[send_id]

    async def _settle_sends(
        self, send_ids: Sequence[int], now: datetime, *, store: Store | None = None
    ) -> dict[int, SendOutcome]:
        """`_settle` for several sends in one txn: every outcome is stored before anything is
        queued, as queueing a parent update holds the update found queued on PostgreSQL
        (Store.has_pending) and nothing may be updated after that."""
        store = store or self.store
        listener = self.listener if store is self.store else self.listener.bound(store)
        outcomes = {send_id: SendOutcome.PENDING for send_id in send_ids}
        settled = [await self._store_outcome(store, send_id) for send_id in send_ids]
        for send, outcome, notice, detail in filter(None, settled):
            if notice is None:
                await listener.send_accepted(send, now=now)
            else:
                await listener.tell_sender(send, notice, now=now)
            await self._audit_outcome(store, send, outcome, now, **detail)
            outcomes[send.id] = outcome
        return outcomes

    async def _store_outcome(
        self, store: Store, send_id: int
    ) -> tuple[Send, SendOutcome, SenderNotice | None, dict[str, object]] | None:
        """Set the send's outcome from its messages; return the send, its outcome, what its
        sender is to be told (None: BSG took some, its parent tells) and the audit's detail.
        None while BSG has answered about none of it."""
        send = await store.get_send(send_id)
        messages = await store.send_messages(send_id)
        accepted = [m for m in messages if m.bsg_id is not None]
        pending = [m for m in messages if m.status == DeliveryStatus.PENDING]
        failed = [
            m for m in messages if m.status in (DeliveryStatus.REFUSED, DeliveryStatus.NOT_SENT)
        ]
        if pending and not accepted:
            return None
        if accepted:
            outcome = SendOutcome.PARTIAL if failed else SendOutcome.SENT
            await store.set_send_outcome(send_id, outcome)
            return send, outcome, None, {"accepted": len(accepted), "refused": len(failed)}
        # Nothing went out: tell the sender privately, post nothing in the channel.
        not_sent = all(m.status == DeliveryStatus.NOT_SENT for m in failed)
        outcome = SendOutcome.NOT_SENT if not_sent else SendOutcome.REFUSED
        first = next((m for m in failed if m.error_code is not None), None)
        code = first.error_code if first else None
        description = first.error_description if first else None
        await store.set_send_outcome(
            send_id, outcome, error_code=code, error_description=description
        )
        notice: SenderNotice
        if not_sent:
            notice = NeverSent(recipients=len(failed))
        else:
            notice = Refused(code, description, tuple(m.msisdn for m in failed))
        return send, outcome, notice, {"code": code, "description": description}

    async def _audit_outcome(
        self, store: Store, send: Send, outcome: SendOutcome, now: datetime, **detail: object
    ) -> None:
        await store.audit(
            action="send",
            outcome=outcome.value,
            now=now,
            user_id=send.user_id,
            channel_id=send.channel_id,
            team_id=send.team_id,
            send_id=send.id,
            detail=detail,
        )

    async def _tell_unconfirmed(self, send: Send, recipients: int | None = None) -> None:
        await self.listener.tell_sender(send, Unconfirmed(recipients), now=self.clock())
        self.wake_outbox()
