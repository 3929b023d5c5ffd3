"""The send estimate: who a draft would reach, its SMS segments, and what BSG would charge."""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.bsg.client import BsgClient
from bot.domain.errors import BsgError, InputError
from bot.domain.limits import SENDER_MAX, SMS_SENDER_MAX, SMS_SENDER_MIN
from bot.domain.models import CreateRequest, MessageContent, PricePreview, Recipient
from bot.domain.phones import parse_numbers
from bot.domain.segments import SmsSegments, count_segments
from bot.settings import Settings
from bot.slack.compose import Draft

log = logging.getLogger(__name__)

INVALID_NAMED = 5  # invalid tokens the estimate names; the rest are counted
PRICE_CACHE_SIZE = 256


class PriceState(enum.StrEnum):
    NOT_ASKED = "not_asked"  # nothing to price yet (no valid number or no text)
    CHECKING = "checking"  # asked, answer not in yet
    OK = "ok"
    UNAVAILABLE = "unavailable"  # BSG slow, down or refusing: the estimate says so


@dataclass(frozen=True)
class Estimate:
    """What a draft would do if sent now: counts, SMS segments, prices (None = unknown)."""

    msisdns: tuple[str, ...] = ()  # what would reach BSG: valid, each once, not opted out
    invalid: tuple[str, ...] = ()  # tokens as typed
    duplicates: int = 0
    opted_out: int = 0
    sms: SmsSegments | None = None  # the fallback text's segments, when there is one
    price_state: PriceState = PriceState.NOT_ASKED
    viber_price: Decimal | None = None
    sms_price: Decimal | None = None  # every recipient by SMS
    currency: str | None = None
    problem: str | None = None  # why the price is unavailable (for the log and the person)
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        return len(self.msisdns)

    @property
    def cost(self) -> Decimal | None:
        """What VIBER_BOT_REVIEW_COST is compared with: the worst case when it is known."""
        return self.worst_case if self.worst_case is not None else self.viber_price

    @property
    def worst_case(self) -> Decimal | None:
        """Viber for everyone, plus SMS for everyone when a fallback is set."""
        if self.viber_price is None:
            return None
        if self.sms is None:
            return self.viber_price
        if self.sms_price is None:
            return None
        return self.viber_price + self.sms_price


@dataclass(frozen=True)
class _Priced:
    viber: PricePreview
    sms: PricePreview | None


def _sms_originator(draft: Draft, settings: Settings) -> str | None:
    sender = (draft.sender or "").strip() or settings.default_sender
    originator = (draft.sms_sender or "").strip() or sender
    if not SMS_SENDER_MIN <= len(originator) <= SMS_SENDER_MAX:
        return None
    return originator


class EstimateService:
    """Counts at once from the typed draft; prices from BSG, cached, bounded in time."""

    def __init__(
        self,
        *,
        bsg: BsgClient,
        settings: Settings,
        opted_out: Callable[[Sequence[str]], Iterable[str]] | None = None,
    ):
        self.bsg = bsg
        self.settings = settings
        # Which of these numbers are opted out (issue 13 supplies the store's check).
        self._opted_out = opted_out or (lambda msisdns: ())
        self._cache: OrderedDict[str, tuple[float, _Priced | None, str | None]] = OrderedDict()
        self._asking: dict[str, asyncio.Task[tuple[_Priced | None, str | None]]] = {}

    @property
    def asking(self) -> bool:
        """True while a price question to BSG is under way."""
        return bool(self._asking)

    # ------------------------------------------------------------ counts (no I/O)

    def count(self, draft: Draft) -> Estimate:
        """Valid, invalid, duplicate and opted-out numbers, and the SMS segments."""
        raw = draft.recipients or ""
        try:
            parsed = parse_numbers(raw, default_region=self.settings.default_region)
        except InputError:
            return Estimate(problem="That is far too much text for a list of numbers.")
        opted = set(self._opted_out(parsed.valid))
        msisdns = tuple(m for m in parsed.valid if m not in opted)
        sms_text = (draft.sms_text or "").strip()
        return Estimate(
            msisdns=msisdns,
            invalid=tuple(parsed.invalid),
            duplicates=parsed.duplicates,
            opted_out=len(opted),
            sms=count_segments(sms_text) if sms_text else None,
        )

    # ------------------------------------------------------------ prices (BSG)

    def _content(self, draft: Draft) -> MessageContent | None:
        text = (draft.text or "").strip()
        sender = (draft.sender or "").strip() or self.settings.default_sender
        if not text or len(sender) > SENDER_MAX or len(text) > 1000:
            return None
        image = (draft.image_url or "").strip() or None
        caption = (draft.button_caption or "").strip() or None
        action = (draft.button_url or "").strip() or None
        if (caption is None) != (action is None) or (image and not caption):
            # BSG refuses half a button; price the plain message rather than nothing.
            image = caption = action = None
        return MessageContent(
            text=text,
            sender=sender,
            promotional=draft.promotional,
            image_url=image,
            button_caption=caption,
            button_url=action,
        )

    def _key(
        self, content: MessageContent, msisdns: Sequence[str], sms: tuple[str, str] | None
    ) -> str:
        digest = hashlib.sha256()
        digest.update(content.model_dump_json().encode())
        digest.update(repr(sms).encode())
        for msisdn in msisdns:
            digest.update(msisdn.encode() + b",")
        return digest.hexdigest()

    def would_price(self, estimate: Estimate, draft: Draft) -> bool:
        """True when the draft has enough (a number, a text) to ask BSG for a price."""
        return self._question(estimate, draft) is not None

    def cached(self, estimate: Estimate, draft: Draft) -> Estimate | None:
        """The priced estimate when BSG's answer for this exact draft is still fresh."""
        asked = self._question(estimate, draft)
        if asked is None:
            return None
        key, _, _ = asked
        hit = self._cache_get(key)
        return None if hit is None else self._apply(estimate, *hit)

    async def needs_review(
        self, counted: Estimate, draft: Draft, *, budget: float | None = None
    ) -> tuple[bool, Estimate]:
        """Whether this send goes through the review step (VIBER_BOT_REVIEW_ABOVE and
        VIBER_BOT_REVIEW_COST), and the estimate as far as it is known."""
        settings = self.settings
        estimate = self.cached(counted, draft) or counted
        if counted.valid > settings.review_above:
            return True, estimate
        if settings.review_cost is None:
            return False, estimate
        if estimate.price_state is not PriceState.OK:
            estimate = await self.price(counted, draft, budget=budget)
        if estimate.price_state is not PriceState.OK or estimate.cost is None:
            return True, estimate  # the cost cannot be told: the person looks first
        return estimate.cost > settings.review_cost, estimate

    async def price(
        self, estimate: Estimate, draft: Draft, *, budget: float | None = None
    ) -> Estimate:
        """`estimate` with BSG's prices, or marked unavailable; never raises, never waits
        longer than VIBER_BOT_ESTIMATE_TIMEOUT (or `budget` seconds)."""
        asked = self._question(estimate, draft)
        if asked is None:
            return estimate
        key, content, sms = asked
        hit = self._cache_get(key)
        if hit is not None:
            return self._apply(estimate, *hit)
        task = self._asking.get(key)
        if task is None:
            # Changes typed while BSG answers share one question per distinct draft.
            task = asyncio.ensure_future(self._ask(content, estimate.msisdns, sms))
            self._asking[key] = task
            task.add_done_callback(lambda _: self._asking.pop(key, None))
        try:
            priced, problem = await asyncio.wait_for(
                asyncio.shield(task), budget or self.settings.estimate_timeout
            )
        except TimeoutError:
            return replace(
                estimate, price_state=PriceState.UNAVAILABLE, problem="BSG did not answer in time"
            )
        self._cache_put(key, priced, problem)
        return self._apply(estimate, priced, problem)

    def _question(
        self, estimate: Estimate, draft: Draft
    ) -> tuple[str, MessageContent, tuple[str, str] | None] | None:
        if not estimate.msisdns:
            return None
        content = self._content(draft)
        if content is None:
            return None
        sms = None
        if estimate.sms is not None:
            originator = _sms_originator(draft, self.settings)
            if originator is not None:
                sms = (originator, (draft.sms_text or "").strip()[:765])
        return self._key(content, estimate.msisdns, sms), content, sms

    async def _ask(
        self, content: MessageContent, msisdns: Sequence[str], sms: tuple[str, str] | None
    ) -> tuple[_Priced | None, str | None]:
        size = self.settings.bsg_batch_size
        batches = [msisdns[i : i + size] for i in range(0, len(msisdns), size)]

        async def viber(batch: Sequence[str]) -> PricePreview:
            # References are optional in a price check; placeholders keep the body valid.
            recipients = tuple(
                Recipient(msisdn=m, reference=f"price{n}") for n, m in enumerate(batch)
            )
            return await self.bsg.price_preview(
                CreateRequest(content=content, recipients=recipients)
            )

        try:
            viber_parts = await asyncio.gather(*(viber(b) for b in batches))
            sms_part = None
            if sms is not None:
                sms_part = await self.bsg.sms_price(
                    originator=sms[0], text=sms[1], msisdns=list(msisdns)
                )
        except BsgError as error:
            log.info("estimate: BSG price unavailable: %s", error)
            return None, str(error)
        total = sum((p.total_price for p in viber_parts), Decimal(0))
        currency = next((p.currency for p in viber_parts if p.currency), None)
        return _Priced(PricePreview(total_price=total, currency=currency), sms_part), None

    @staticmethod
    def _apply(estimate: Estimate, priced: _Priced | None, problem: str | None) -> Estimate:
        if priced is None:
            return replace(estimate, price_state=PriceState.UNAVAILABLE, problem=problem)
        return replace(
            estimate,
            price_state=PriceState.OK,
            viber_price=priced.viber.total_price,
            sms_price=priced.sms.total_price if priced.sms is not None else None,
            currency=priced.viber.currency or (priced.sms.currency if priced.sms else None),
        )

    def _cache_get(self, key: str) -> tuple[_Priced | None, str | None] | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        at, priced, problem = hit
        # A failure is remembered briefly (BSG down: no question per keystroke), a price longer.
        ttl = self.settings.estimate_cache if priced is not None else 10.0
        if time.monotonic() - at > ttl:
            self._cache.pop(key, None)
            return None
        self._cache.move_to_end(key)
        return priced, problem

    def _cache_put(self, key: str, priced: _Priced | None, problem: str | None) -> None:
        self._cache[key] = (time.monotonic(), priced, problem)
        self._cache.move_to_end(key)
        while len(self._cache) > PRICE_CACHE_SIZE:
            self._cache.popitem(last=False)
