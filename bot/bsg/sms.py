"""BSG's SMS API calls (`/sms/create`, `/sms/price`, `/sms/{id}`), part of BsgClient."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from bot.bsg.answers import PriceAnswer, SmsCreateAnswer, SmsStatusAnswer, sms_message_status
from bot.bsg.reader import AnswerReader
from bot.bsg.requests import build_sms_body, build_sms_price_body
from bot.domain.errors import BsgCode, BsgNotFound, BsgRefused, BsgUnavailable
from bot.domain.limits import SMS_BATCH_MAX
from bot.domain.models import (
    BsgErrorInfo,
    CreateResult,
    PricePreview,
    Recipient,
    RecipientOutcome,
    SmsStatus,
)

logger = logging.getLogger("bot.bsg.client")  # one logger for every BsgClient call


class SmsCalls:
    """The SMS half of BsgClient; it relies on the client's `_call`, `_answers` and
    `batch_size`."""

    batch_size: int
    _answers: AnswerReader

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        not_found_on_404: bool = False,
    ) -> Any:
        raise NotImplementedError

    async def sms_price(
        self, *, originator: str, text: str, msisdns: Sequence[str]
    ) -> PricePreview:
        """What BSG would charge to send `text` by SMS to every number (nothing is sent)."""
        path = "/sms/price"
        total = Decimal(0)
        currency: str | None = None
        for start in range(0, len(msisdns), SMS_BATCH_MAX):
            body = build_sms_price_body(
                originator=originator, text=text, msisdns=msisdns[start : start + SMS_BATCH_MAX]
            )
            answer = self._answers.validate(PriceAnswer, await self._call("POST", path, body), path)
            if answer.total_price is None:
                raise self._answers.protocol_error(path, "the price answer has no total price")
            total += answer.total_price
            currency = currency or answer.currency
        return PricePreview(total_price=total, currency=currency)

    async def sms_create(
        self,
        *,
        originator: str,
        text: str,
        recipients: Sequence[Recipient],
        validity_hours: int | None = None,
    ) -> CreateResult:
        """Send an SMS (BSG's SMS API) to each recipient under its own reference.

        Like `create`: every recipient gets an outcome; a batch BSG did not answer comes back
        unconfirmed (its references are known, so it can be looked up, never re-sent blindly).
        """
        path = "/sms/create"
        outcomes: list[RecipientOutcome] = []
        errors: list[BsgErrorInfo] = []
        total: Decimal | None = None
        currency: str | None = None
        for start in range(0, len(recipients), self.batch_size):
            batch = recipients[start : start + self.batch_size]
            body = build_sms_body(
                originator=originator, text=text, recipients=batch, validity_hours=validity_hours
            )
            try:
                data = await self._call("POST", path, body)
            except BsgUnavailable as error:
                logger.warning("BSG SMS create unconfirmed (%d recipients): %s", len(batch), error)
                outcomes.extend(
                    RecipientOutcome(reference=r.reference, unconfirmed=True) for r in batch
                )
                continue
            except BsgRefused as refusal:
                info = BsgErrorInfo(code=refusal.code, description=refusal.description)
                errors.append(info)
                outcomes.extend(RecipientOutcome(reference=r.reference, error=info) for r in batch)
                continue
            answer = self._answers.validate(SmsCreateAnswer, data, path)
            said = {e.reference: e for e in answer.result if e.reference}
            if len(batch) == 1 and len(answer.result) == 1 and not said:
                said = {batch[0].reference: answer.result[0]}
            outcomes.extend(
                self._answers.outcome(r.reference, said.get(r.reference), answer.currency)
                for r in batch
            )
            if answer.total_price is not None:
                total = answer.total_price if total is None else total + answer.total_price
            currency = currency or answer.currency
        batches = -(-len(recipients) // self.batch_size)
        if errors and len(errors) == batches:
            # Refused whole, every batch: the caller tells the person BSG's reason.
            raise BsgRefused(errors[0].code, errors[0].description)
        return CreateResult(
            outcomes=tuple(outcomes),
            total_price=total,
            currency=currency,
            request_errors=tuple(errors),
        )

    async def sms_status(self, bsg_id: str) -> SmsStatus:
        """An SMS's status by BSG's id (`/sms/{id}`); BsgNotFound when BSG has no such SMS."""
        return await self._sms_status(f"/sms/{quote(str(bsg_id), safe='')}")

    async def sms_status_by_reference(self, reference: str) -> SmsStatus:
        """An SMS's status by our reference; BsgNotFound when BSG has no such SMS."""
        return await self._sms_status(f"/sms/reference/{quote(reference, safe='')}")

    async def _sms_status(self, path: str) -> SmsStatus:
        try:
            data = await self._call("GET", path, not_found_on_404=True)
        except BsgRefused as refusal:
            if refusal.code == BsgCode.SMS_NOT_FOUND and not isinstance(refusal, BsgNotFound):
                raise BsgNotFound(refusal.code, refusal.description) from None
            raise
        if not isinstance(data, dict) or not data.keys() & {"status", "id", "reference"}:
            raise self._answers.not_a_status(path, data)
        answer = self._answers.validate(SmsStatusAnswer, data, path)
        return sms_message_status(answer)
