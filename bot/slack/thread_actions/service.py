"""The card actions' service: who may use them, what each would reach and cost, the claim that
makes each run once, and the dispatch to retry, resend and export."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from slack_sdk.web.async_client import AsyncWebClient

from bot.bsg.client import BsgClient
from bot.clock import Clock
from bot.domain.errors import AccessDenied, BsgError
from bot.domain.models import (
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
from bot.slack.render.thread_actions import EXPORT_CSV, RESEND_SMS, RETRY_FAILED
from bot.slack.thread_actions.export import export_csv
from bot.slack.thread_actions.resend import resend_sms
from bot.slack.thread_actions.results import ActionRefused, ActionResult
from bot.slack.thread_actions.retry import retry_failed
from bot.slack.thread_actions.sms_tracking import track_sms
from bot.tracking.sending import Origin, SendService, content_of
from storage.actions import ThreadAction
from storage.store import Store

log = logging.getLogger("bot.slack.thread_actions")  # the card actions' one logger

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
SMS_TEXT_MAX = 765
EXPORT_STALE = 300.0  # seconds: an export claim older than this never finished


async def _none_opted_out(msisdns: Sequence[str]) -> Iterable[str]:
    return ()


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
        await self.audit(send, action, user_id, "denied")

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

    async def reply(self, send: Send, text: str, now: datetime) -> None:
        """Queue a reply in the send's thread (in the caller's transaction)."""
        await self.store.enqueue(
            channel_id=send.channel_id,
            kind=OutboxKind.REPLY,
            payload={"send_id": send.id, "text": text},
            now=now,
            send_id=send.id,
        )

    async def update_parent(self, send: Send, now: datetime) -> None:
        """Queue the card's re-render (in the caller's transaction)."""
        await self.notifier.queue_parent_update(send, now=now)

    async def audit(
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
            await self.audit(send, action, user_id, "denied")
            raise ActionRefused("not allowed")
        if action == RETRY_FAILED:
            return await retry_failed(self, send, user_id, estimate)
        if action == RESEND_SMS:
            return await resend_sms(self, send, user_id, estimate)
        return await export_csv(self, send, user_id)

    async def authorize(self, send: Send, user_id: str, action: str) -> None:
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

    async def claim(self, send: Send, action: str, user_id: str, now: datetime) -> int:
        """The action's one use on this send; ActionRefused("already") when it was taken."""
        claim = await self.store.claim_thread_action(send.id, action, user_id=user_id, now=now)
        if claim is None:
            raise ActionRefused("already")
        return claim.id

    async def claim_recipients(
        self, send: Send, action: str, user_id: str, now: datetime
    ) -> tuple[int, list[StoredMessage]]:
        """Inside the action's transaction: its one use on this send and the recipients it
        reaches now; ActionRefused("nothing") (the claim given back) when there are none."""
        claim = await self.claim(send, action, user_id, now)
        chosen = await self.candidates(send.id, action)
        if not chosen:
            await self.store.release_thread_action(claim)
            raise ActionRefused("nothing")
        return claim, chosen

    async def track_sms(self, *, tick: datetime | None = None) -> int:
        """One sweep over resent SMS (`sms_tracking.track_sms`). Returns the changes."""
        return await track_sms(self, tick=tick)
