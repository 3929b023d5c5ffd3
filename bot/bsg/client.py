"""The async BSG REST client: one connection pool, retries, and every call BSG publishes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.bsg.answers import (
    BalanceAnswer,
    PriceAnswer,
    StatusAnswer,
    message_status,
)
from bot.bsg.coalesce import CreateCoalescer
from bot.bsg.reader import AnswerReader
from bot.bsg.requests import CallbackUrl, build_create_body
from bot.bsg.sms import SmsCalls
from bot.bsg.transport import (
    TRANSIENT_ERRORS,
    CookielessClient,
    Retryable,
    describe,
    dropped,
    make_transport,
)
from bot.domain.errors import BsgProtocolError, BsgRefused, BsgUnavailable
from bot.domain.limits import CREATE_LINGER
from bot.domain.models import (
    Balance,
    BsgErrorInfo,
    CreateRequest,
    CreateResult,
    MessageStatus,
    PricePreview,
    Recipient,
    RecipientOutcome,
)
from bot.domain.retry_after import parse_retry_after

logger = logging.getLogger(__name__)


class BsgClient(SmsCalls):
    """One connection pool to BSG's REST API; safe to share between concurrent tasks."""

    def __init__(
        self,
        *,
        api_key: SecretStr,
        base_url: str,
        timeout: float = 10.0,
        batch_size: int = 50,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: float = 0.5,
        backoff_max: float = 10.0,
        retry_after_max: float = 30.0,
        create_concurrency: int = 4,
        create_linger: float = CREATE_LINGER,
        callback_url: CallbackUrl | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self._secret = api_key.get_secret_value()
        self._answers = AnswerReader(self._secret)
        self.base_url = base_url.rstrip("/")
        self.batch_size = batch_size
        self.retries = retries
        if create_concurrency < 1:
            raise ValueError("create_concurrency must be at least 1")
        # Batches of one create under way at once (each keeps its own same-body retries).
        self.create_concurrency = create_concurrency
        self._retry_after_max = retry_after_max
        # Set when delivery callbacks are on: every create names each recipient's callback URL.
        self.callback_url = callback_url
        self._transport = transport if transport is not None else make_transport()
        self._http = CookielessClient(
            base_url=self.base_url,
            transport=self._transport,
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            # Content-Type only where there is a body: httpx sets `application/json` for `json=`.
            headers={"X-API-KEY": self._secret, "Accept": "application/json"},
            trust_env=False,
        )
        # Every header costs CPU on every request (httpx normalises it, httpx-aiohttp converts
        # it to aiohttp's), so httpx's defaults that buy nothing go. Accept-Encoding stays
        # (compressed create answers); Connection: keep-alive is HTTP/1.1's default anyway;
        # aiohttp names itself in a User-Agent of its own, so httpx's would only replace it.
        # Accept: application/json stays: it asks for errors as JSON rather than HTML pages.
        del self._http.headers["Connection"]
        del self._http.headers["User-Agent"]
        self._backoff = wait_exponential_jitter(multiplier=backoff, max=backoff_max, jitter=backoff)
        # Requests answered only after a retry (a dropped connection, a 5xx, a timeout).
        self.retried = 0
        self._stop = stop_after_attempt(retries + 1)
        self._retry_on = retry_if_exception_type(Retryable)
        # Batches of different sends share a create when they meet (bot/bsg/coalesce.py).
        self._creates = CreateCoalescer(self._post_create, limit=batch_size, linger=create_linger)

    def __repr__(self) -> str:
        return (
            f"BsgClient(base_url={self.base_url!r}, batch_size={self.batch_size}, "
            f"retries={self.retries})"
        )

    async def aclose(self) -> None:
        await self._creates.aclose()
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ public calls

    async def create(self, request: CreateRequest) -> CreateResult:
        """Send in batches; every recipient gets an outcome (accepted, refused or unconfirmed).

        Raises BsgRefused only when BSG refused every batch whole, and BsgProtocolError only
        when no batch got an answer in any published shape.
        """
        outcomes: list[RecipientOutcome] = []
        request_errors: list[BsgErrorInfo] = []
        refusals: list[BsgRefused] = []
        garbled: list[BsgProtocolError] = []
        total: Decimal | None = None
        currency: str | None = None
        recipients: Sequence[Recipient] = request.recipients
        if any(r.text or r.sms_text for r in recipients):
            # Personal texts: recipients sharing a text go into the same batches, so that they
            # share `messages[]` items (stable sort: order within a text is kept).
            recipients = sorted(recipients, key=lambda r: (r.text or "", r.sms_text or ""))
        batches = [
            recipients[start : start + self.batch_size]
            for start in range(0, len(recipients), self.batch_size)
        ]
        # Up to `create_concurrency` batches are under way at once; their answers are read
        # in batch order below, so outcomes come out as if the batches had gone one by one.
        limit = asyncio.Semaphore(self.create_concurrency)

        async def post(batch: Sequence[Recipient]) -> Any:
            async with limit:
                body = build_create_body(request.content, batch, request.tariff, self.callback_url)
                return await self._creates.create(body, [r.reference for r in batch])

        tasks = [asyncio.ensure_future(post(batch)) for batch in batches]
        try:
            await asyncio.wait(tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        for number, (batch, task) in enumerate(zip(batches, tasks, strict=True), start=1):
            try:
                data = task.result()
                batch_outcomes, batch_total, batch_currency, refusal = self._answers.parse_create(
                    data, batch
                )
            except BsgUnavailable as error:
                logger.warning(
                    "BSG create batch %d/%d unconfirmed (%d recipients): %s",
                    number,
                    len(batches),
                    len(batch),
                    error.reason,
                )
                outcomes.extend(
                    RecipientOutcome(reference=r.reference, unconfirmed=True) for r in batch
                )
                continue
            except BsgRefused as error:
                refusals.append(error)
                info = BsgErrorInfo(code=error.code, description=error.description)
                request_errors.append(info)
                outcomes.extend(RecipientOutcome(reference=r.reference, error=info) for r in batch)
                logger.warning(
                    "BSG refused create batch %d/%d whole: code %d",
                    number,
                    len(batches),
                    error.code,
                )
                continue
            except BsgProtocolError as error:
                garbled.append(error)
                outcomes.extend(
                    RecipientOutcome(reference=r.reference, unconfirmed=True) for r in batch
                )
                logger.error("BSG create batch %d/%d: %s", number, len(batches), error)
                continue
            if refusal is not None:
                request_errors.append(refusal)
            outcomes.extend(batch_outcomes)
            if batch_total is not None:
                total = batch_total if total is None else total + batch_total
            currency = currency or batch_currency
        if refusals and len(refusals) == len(batches):
            raise refusals[0]
        if garbled and len(garbled) == len(batches):
            raise garbled[0]
        return CreateResult(
            outcomes=tuple(outcomes),
            total_price=total,
            currency=currency,
            request_errors=tuple(request_errors),
        )

    async def status_by_id(self, bsg_id: str) -> MessageStatus:
        """The message's status by BSG's id; BsgNotFound when BSG has no such message."""
        return await self._status(f"/viber/{quote(str(bsg_id), safe='')}")

    async def status_by_reference(self, reference: str) -> MessageStatus:
        """The message's status by our reference; BsgNotFound when BSG has no such message."""
        return await self._status(f"/viber/reference/{quote(reference, safe='')}")

    async def balance(self) -> Balance:
        path = "/common/balance"
        answer = self._answers.validate(BalanceAnswer, await self._call("GET", path), path)
        if answer.amount is None:
            raise self._answers.protocol_error(path, "the balance answer has no amount")
        return Balance(amount=answer.amount, currency=answer.currency, limit=answer.limit)

    async def price_preview(self, request: CreateRequest) -> PricePreview:
        """What BSG would charge for the whole request (nothing is sent)."""
        path = "/viber/price"
        body = build_create_body(request.content, request.recipients, request.tariff)
        answer = self._answers.validate(PriceAnswer, await self._call("POST", path, body), path)
        if answer.total_price is None:
            raise self._answers.protocol_error(path, "the price answer has no total price")
        return PricePreview(total_price=answer.total_price, currency=answer.currency)

    async def _post_create(self, body: dict[str, Any]) -> Any:
        return await self._call("POST", "/viber/create", body)

    # ------------------------------------------------------------ parsing

    async def _status(self, path: str) -> MessageStatus:
        data = await self._call("GET", path, not_found_on_404=True)
        if not isinstance(data, dict) or not data.keys() & {"status", "id", "reference", "msisdn"}:
            raise self._answers.not_a_status(path, data)
        answer = self._answers.validate(StatusAnswer, data, path)
        return message_status(answer)

    # ------------------------------------------------------------ transport

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        not_found_on_404: bool = False,
    ) -> Any:
        """The answer's JSON once BSG gave one; BSG errors raised as BsgError subclasses."""
        try:
            response = await self._send_retrying(method, path, body)
        except Retryable as error:
            raise BsgUnavailable(error.reason, retry_after=error.retry_after) from None
        return self._answers.interpret(response, method, path, not_found_on_404)

    async def _send_retrying(
        self, method: str, path: str, body: dict[str, Any] | None
    ) -> httpx.Response:
        """`_send`, tried again on a Retryable failure (the last one is raised). A fresh
        AsyncRetrying per call, iterated: it costs ~8 us less a call than the `@retry`
        decorator, which copies its Retrying object on every call."""
        async for attempt in AsyncRetrying(
            stop=self._stop,
            wait=self._wait,
            retry=self._retry_on,
            before_sleep=self._log_retry,
            reraise=True,
        ):
            with attempt:
                return await self._send(method, path, body)
        raise AssertionError("tenacity returns the answer or raises the last failure")

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        started = time.perf_counter()
        try:
            # An absolute URL: httpx parses it once instead of merging it with base_url.
            response = await self._http.request(method, self.base_url + path, json=body)
        except TRANSIENT_ERRORS as error:
            name = describe(error)
            logger.debug(
                "BSG %s %s -> %s after %.3fs", method, path, name, time.perf_counter() - started
            )
            raise Retryable(f"{name} on {method} {path}", dropped=dropped(error)) from None
        except httpx.HTTPError as error:
            raise BsgUnavailable(
                f"{describe(error)} on {method} {path}: {self._answers.scrub(str(error))}"
            ) from None
        status = response.status_code
        logger.debug(
            "BSG %s %s -> %d in %.3fs", method, path, status, time.perf_counter() - started
        )
        if status == 429 or status >= 500:
            raise Retryable(
                f"HTTP {status} on {method} {path}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return response

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            return min(error.retry_after, self._retry_after_max)
        if isinstance(error, Retryable) and error.dropped and state.attempt_number == 1:
            return 0.0  # a closed idle connection says nothing about BSG: go again at once
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = error.reason if isinstance(error, Retryable) else type(error).__name__
        pause = state.next_action.sleep if state.next_action else 0.0
        if state.attempt_number == 1:
            self.retried += 1
        # A dropped connection is routine (a pool may hold several); if every try meets one,
        # the caller reports BSG unavailable, as a warning.
        dropped = isinstance(error, Retryable) and error.dropped
        logger.log(
            logging.INFO if dropped else logging.WARNING,
            "BSG call failed (%s), attempt %d of %d; retrying in %.2fs",
            reason,
            state.attempt_number,
            self.retries + 1,
            pause,
        )

    # ------------------------------------------------------------ secrets
