"""Reading BSG's HTTP answers: JSON or a BsgError, validated into the loose answer models,
with the API key scrubbed from everything an error or a log line repeats."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.bsg.answers import (
    CreateAnswer,
    CreateEntry,
    CreateMessageAnswer,
    error_code,
    flatten_errors,
    is_bsg_code,
)
from bot.domain.errors import BsgCode, BsgNotFound, BsgProtocolError, BsgRefused, BsgUnavailable
from bot.domain.models import BsgErrorInfo, Recipient, RecipientOutcome
from bot.domain.redact import scrub

logger = logging.getLogger(__name__)

_BODY_SNIPPET = 200
_M = TypeVar("_M", bound=BaseModel)
_NOT_JSON = object()


class AnswerReader:
    """Turns BSG's answers into data, domain values or BsgErrors; knows the key to hide."""

    def __init__(self, secret: str):
        self._secret = secret

    def parse_create(
        self, data: Any, batch: Sequence[Recipient]
    ) -> tuple[list[RecipientOutcome], Decimal | None, str | None, BsgErrorInfo | None]:
        """One batch's answer as outcomes, its total, currency and a whole-message refusal."""
        path = "/viber/create"
        refusal: BsgErrorInfo | None = None
        if isinstance(data, dict) and "result" in data:
            answer = self.validate(CreateAnswer, data, path)
            entries, total, currency = answer.result, answer.total_price, answer.currency
        elif isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            items = [self.validate(CreateMessageAnswer, item, path) for item in data]
            entries, total, currency = [], None, None
            for item in items:
                if item.error:
                    if refusal is None:
                        refusal = self.error_info(item.error, item.description)
                    continue
                entries.extend(item.messages)
                if item.total_price is not None:
                    total = item.total_price if total is None else total + item.total_price
                currency = currency or item.currency
            if refusal is not None and not entries:
                raise BsgRefused(refusal.code, refusal.description)
        else:
            raise self.protocol_error(path, f"not a create answer: {self.snippet(data)}")

        said = {entry.reference: entry for entry in entries if entry.reference}
        if len(said) < len(entries):
            logger.warning(
                "BSG create answer has %d entries without a reference", len(entries) - len(said)
            )
        outcomes = [
            self.outcome(r.reference, said.get(r.reference), currency, refusal) for r in batch
        ]
        if total is None:
            priced = [o.price for o in outcomes if o.price is not None]
            total = sum(priced, Decimal(0)) if priced else None
        if currency is None:
            currency = next((o.currency for o in outcomes if o.currency), None)
        return outcomes, total, currency, refusal

    def outcome(
        self,
        reference: str,
        entry: CreateEntry | None,
        currency: str | None,
        refusal: BsgErrorInfo | None = None,
    ) -> RecipientOutcome:
        """What a create's answer says of one recipient: accepted (with BSG's id, or
        unconfirmed without one: only a later look-up by reference can tell), refused on its
        own, or not mentioned (refused with the message when BSG refused one, else unknown)."""
        if entry is None:
            return RecipientOutcome(reference=reference, error=refusal, unconfirmed=refusal is None)
        if entry.error:
            return RecipientOutcome(
                reference=reference, error=self.error_info(entry.error, entry.description)
            )
        return RecipientOutcome(
            reference=reference,
            bsg_id=entry.id,
            price=entry.price,
            currency=entry.currency or currency,
            unconfirmed=entry.id is None,
        )

    def error_info(self, code: int, description: str | None) -> BsgErrorInfo:
        return BsgErrorInfo(code=code, description=self.scrub(description or ""))

    def validate(self, model: type[_M], data: Any, path: str) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            problem = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in problem.get("loc", ()))
            raise self.protocol_error(
                path, f"unexpected answer ({where}: {problem.get('msg')}): {self.snippet(data)}"
            ) from None

    def interpret(
        self, response: httpx.Response, method: str, path: str, not_found_on_404: bool
    ) -> Any:
        status = response.status_code
        data: Any
        if response.content.strip():
            try:
                data = json.loads(response.content, parse_float=Decimal)
            except ValueError:
                data = _NOT_JSON
        else:
            data = None
        if 200 <= status < 300 and isinstance(data, dict) and "error" not in data:
            code = data.get("code")
            if isinstance(code, int) and 400 <= code < 600 and "message" in data:
                # Some deployments put the HTTP error in a 200 body: read it as that status.
                status = code
                if status == 429 or status >= 500:
                    raise BsgUnavailable(f"code {status} in the body of {method} {path}")
        if 200 <= status < 300:
            if data is _NOT_JSON or data is None:
                raise self.protocol_error(
                    path,
                    f"HTTP {status} with a body that is not JSON: {self.snippet(response.text)}",
                )
            if isinstance(data, dict) and "error" in data:
                self.raise_for_code(data, path, status)
            return data

        if isinstance(data, dict):
            message = self.scrub(str(data.get("message") or data.get("errorDescription") or ""))
            if "error" in data:
                self.raise_for_code(data, path, status)
            code = data.get("code")
            if status in (401, 403):
                raise BsgRefused(
                    code if is_bsg_code(code) else BsgCode.INVALID_KEY,
                    message or f"HTTP {status}",
                    http_status=status,
                )
            if status == 422 or "errors" in data:
                details = self.scrub(flatten_errors(data.get("errors")))
                description = "; ".join(part for part in (message, details) if part)
                raise BsgRefused(
                    code if is_bsg_code(code) else BsgCode.INVALID_PARAMETERS,
                    description or f"HTTP {status}",
                    http_status=status,
                )
            if status == 404 and not_found_on_404:
                raise BsgNotFound(BsgCode.NOT_FOUND, message or "HTTP 404", http_status=status)
            if status == 400:
                raise BsgRefused(
                    code if is_bsg_code(code) else BsgCode.INVALID_PARAMETERS,
                    message or "HTTP 400",
                    http_status=status,
                )
        elif data is None and status == 404 and not_found_on_404:
            raise BsgNotFound(BsgCode.NOT_FOUND, "HTTP 404", http_status=status)
        elif status in (401, 403):
            raise BsgRefused(BsgCode.INVALID_KEY, f"HTTP {status}", http_status=status)
        raise self.protocol_error(
            path, f"{method} answered HTTP {status}: {self.snippet(response.text)}"
        )

    def raise_for_code(self, data: dict[str, Any], path: str, status: int) -> None:
        try:
            code = error_code(data["error"])
        except ValueError:
            raise self.protocol_error(
                path, f"unreadable error code: {self.snippet(data)}"
            ) from None
        if code == 0:
            return
        description = data.get("errorDescription") or data.get("message") or ""
        description = self.scrub(str(description))
        if code == BsgCode.NOT_FOUND:
            raise BsgNotFound(code, description, http_status=status)
        raise BsgRefused(code, description, http_status=status)

    def scrub(self, text: str) -> str:
        return scrub(text, [self._secret])

    def snippet(self, data: Any) -> str:
        text = self.scrub(data if isinstance(data, str) else json.dumps(data, default=str))
        if len(text) > _BODY_SNIPPET:
            text = text[:_BODY_SNIPPET] + "…"
        return text

    def protocol_error(self, path: str, problem: str) -> BsgProtocolError:
        return BsgProtocolError(f"BSG {path}: {self.scrub(problem)}")

    def not_a_status(self, path: str, data: Any) -> BsgProtocolError:
        return self.protocol_error(path, f"not a status answer: {self.snippet(data)}")
