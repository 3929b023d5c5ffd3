"""The async BSG REST client: builds BSG's request bodies and parses every published answer."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import quote

import aiohttp
import httpx
import httpx_aiohttp
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bot.domain.errors import BsgCode, BsgNotFound, BsgProtocolError, BsgRefused, BsgUnavailable
from bot.domain.limits import BSG_CODE_MAX, SMS_BATCH_MAX
from bot.domain.models import (
    Balance,
    BsgErrorInfo,
    CreateRequest,
    CreateResult,
    DeliveryStatus,
    MessageContent,
    MessageStatus,
    PricePreview,
    Recipient,
    RecipientOutcome,
    SmsStatus,
)
from bot.domain.redact import scrub
from bot.domain.retry_after import parse_retry_after

logger = logging.getLogger(__name__)

_BODY_SNIPPET = 200
CallbackUrl = Callable[[str], str]  # a recipient's reference -> its delivery-callback URL

# ---------------------------------------------------------------- request bodies


def _bsg_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        # A naive send time is taken as UTC, the zone BSG expects.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_create_body(
    content: MessageContent,
    recipients: Sequence[Recipient],
    tariff: int = 0,
    callback_url: CallbackUrl | None = None,
) -> dict[str, Any]:
    """BSG's `/viber/create` body for one batch; unset options are left out so defaults apply.

    Recipients with the same text (and SMS text) share one `messages[]` item; a personal text
    (CSV) gives its recipients an item of their own; items keep the order of first appearance.
    With `callback_url` (reference -> URL) every recipient is a `messages[]` item of its own,
    because BSG takes `callback_url` per item and each recipient's URL names that recipient.
    """
    default_sms = content.sms.text if content.sms is not None else None
    groups: dict[tuple[str, str | None, str | None], list[Recipient]] = {}
    for recipient in recipients:
        own = recipient.reference if callback_url is not None else None
        key = (recipient.text or content.text, recipient.sms_text or default_sms, own)
        groups.setdefault(key, []).append(recipient)
    body: dict[str, Any] = {}
    if content.validity is not None:
        body["validity"] = content.validity
    body["tariff"] = tariff
    body["messages"] = [
        _create_message(
            content,
            group,
            text,
            sms_text,
            callback_url(group[0].reference) if callback_url else None,
        )
        for (text, sms_text, _), group in groups.items()
    ]
    return body


def _create_message(
    content: MessageContent,
    recipients: Sequence[Recipient],
    text: str,
    sms_text: str | None,
    callback_url: str | None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "to": [{"msisdn": r.msisdn, "reference": r.reference} for r in recipients],
        "text": text,
        "alpha_name": content.sender,
        "is_promotional": content.promotional,
    }
    if callback_url is not None:
        message["callback_url"] = callback_url
    if content.send_at is not None:
        message["scheduledDatetime"] = _bsg_time(content.send_at)
    viber: dict[str, Any] = {}
    if content.image_url is not None:
        viber["img"] = content.image_url
    if content.button_caption is not None:
        viber["caption"] = content.button_caption
    if content.button_url is not None:
        viber["action"] = content.button_url
    if content.sms is not None:
        viber["alt_route"] = {"originator": content.sms.originator, "text": sms_text}
        if callback_url is not None:
            viber["alt_route"]["callback_url"] = callback_url
    if viber:
        message["options"] = {"viber": viber}
    return message


def build_sms_body(
    *,
    originator: str,
    text: str,
    recipients: Sequence[Recipient],
    validity_hours: int | None = None,
) -> dict[str, Any]:
    """BSG's `/sms/create` body (`destination: phones`) for one batch of recipients."""
    body: dict[str, Any] = {
        "destination": "phones",
        "phones": [{"msisdn": r.msisdn, "reference": r.reference} for r in recipients],
        "originator": originator,
        "body": text,
    }
    if validity_hours is not None:
        body["validity"] = validity_hours
    return body


def build_sms_price_body(*, originator: str, text: str, msisdns: Sequence[str]) -> dict[str, Any]:
    """BSG's `/sms/price` body (`destination: phones`): what sending would cost, nothing sent."""
    return {
        "destination": "phones",
        "phones": [{"msisdn": m} for m in msisdns],
        "originator": originator,
        "body": text,
    }


# ---------------------------------------------------------------- loose answers


def _error_code(value: object) -> int:
    """BSG's `error` field: 0, "0", absent/null/"" all mean no error."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError("error code is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = value.strip() or "0"
    try:
        code = Decimal(value)  # type: ignore[arg-type]
        if code == code.to_integral_value():
            return int(code)
    except (ArithmeticError, TypeError, ValueError):
        pass
    # Words or fractions: an answer nobody published.
    raise ValueError(f"error code {str(value)[:20]!r} is not a whole number")


def _money(value: object) -> object:
    """Prices come as numbers or strings; anything unreadable is treated as unknown."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        return None
    return amount if amount.is_finite() else None


def _time(value: object) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS` (no zone: UTC) or ISO 8601; zero or unreadable times are unknown."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or text.startswith("0000"):
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _entries(value: object) -> object:
    """A list of objects; null means none and a lone object means one."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return value


def _text(value: object) -> object:
    if isinstance(value, str):
        return value.strip() or None
    return value


_Code = Annotated[int, BeforeValidator(_error_code)]
_Money = Annotated[Decimal | None, BeforeValidator(_money)]
_Time = Annotated[datetime | None, BeforeValidator(_time)]
_Text = Annotated[str | None, BeforeValidator(_text)]
_DESCRIPTION = AliasChoices("errorDescription", "error_description", "description", "message")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


class _CreateEntry(_Loose):
    error: _Code = 0
    description: str | None = Field(None, validation_alias=_DESCRIPTION)
    reference: _Text = None
    id: _Text = None
    price: _Money = None
    currency: _Text = None


class _CreateAnswer(_Loose):
    """`{"result": [...], "total_price", "currency"}`."""

    result: list[_CreateEntry]
    total_price: _Money = Field(None, validation_alias=AliasChoices("total_price", "totalprice"))
    currency: _Text = None


class _CreateMessageAnswer(_Loose):
    """One item of `[{"error": "0", "messages": [...]}]`."""

    error: _Code = 0
    description: str | None = Field(None, validation_alias=_DESCRIPTION)
    messages: Annotated[list[_CreateEntry], BeforeValidator(_entries)] = []
    total_price: _Money = Field(None, validation_alias=AliasChoices("total_price", "totalprice"))
    currency: _Text = None


class _SmsRoute(_Loose):
    """An `alt_route` or `alt_route_messages` entry."""

    channel: _Text = None
    id: _Text = None
    status: _Text = None
    price: _Money = None
    currency: _Text = None
    time_in: _Time = None
    time_sent: _Time = None
    time_dr: _Time = None


_Routes = Annotated[list[_SmsRoute], BeforeValidator(_entries)]


class _StatusAnswer(_Loose):
    id: _Text = None
    msisdn: _Text = None
    reference: _Text = None
    status: _Text = None
    price: _Money = Field(None, validation_alias=AliasChoices("price", "total_price"))
    currency: _Text = None
    time_in: _Time = None
    time_sent: _Time = None
    time_dr: _Time = None
    alt_route: _Routes = []
    alt_route_messages: _Routes = []


class _BalanceAnswer(_Loose):
    amount: _Money = Field(None, validation_alias=AliasChoices("amount", "balance"))
    currency: _Text = None
    limit: _Money = Field(None, validation_alias=AliasChoices("limit", "credit_limit"))


class _PriceAnswer(_Loose):
    total_price: _Money = Field(None, validation_alias=AliasChoices("totalprice", "total_price"))
    currency: _Text = None


class _SmsCreateAnswer(_Loose):
    """`{"result": {...}}` (one phone) or `{"task_id", "result": [...], "total_price"}`."""

    result: Annotated[list[_CreateEntry], BeforeValidator(_entries)]
    total_price: _Money = Field(None, validation_alias=AliasChoices("total_price", "totalprice"))
    currency: _Text = None


class _SmsStatusAnswer(_Loose):
    id: _Text = None
    msisdn: _Text = None
    reference: _Text = None
    status: _Text = None
    price: _Money = None
    currency: _Text = None
    time_in: _Time = None
    time_sent: _Time = None
    time_dr: _Time = None


def _latest(routes: list[_SmsRoute]) -> _SmsRoute | None:
    """The newest entry: latest time if any is given, else the last one listed."""
    if not routes:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return max(
        enumerate(routes),
        key=lambda item: (max(item[1].time_dr or floor, item[1].time_in or floor), item[0]),
    )[1]


def _is_sms(route: _SmsRoute) -> bool:
    return route.channel is None or route.channel.lower() == "sms"


def _sms_status(answer: _StatusAnswer) -> SmsStatus | None:
    """`alt_route` and `alt_route_messages` merged; the detailed entry wins where both speak."""
    route = _latest([r for r in answer.alt_route if _is_sms(r)])
    detail = _latest([r for r in answer.alt_route_messages if _is_sms(r)])
    if detail is None:
        detail, route = route, None
    if detail is None:
        return None
    if route is not None and route.id and detail.id and route.id != detail.id:
        # Two different SMS: the detailed list is the one that tells the story.
        route = None

    def pick(field: str) -> Any:
        value = getattr(detail, field)
        if value is None and route is not None:
            value = getattr(route, field)
        return value

    raw = pick("status")
    return SmsStatus(
        bsg_id=pick("id"),
        status=DeliveryStatus.parse(raw),
        raw_status=raw,
        price=pick("price"),
        currency=pick("currency"),
        time_in=pick("time_in"),
        time_sent=pick("time_sent"),
        time_dr=pick("time_dr"),
    )


def _flatten_errors(errors: object) -> str:
    """Laravel's `{"field": ["problem", ...]}` as one line."""
    if isinstance(errors, dict):
        parts = []
        for field, problems in errors.items():
            if isinstance(problems, list):
                problems = "; ".join(str(p) for p in problems)
            parts.append(f"{field}: {problems}")
        return "; ".join(parts)
    if isinstance(errors, list):
        return "; ".join(str(e) for e in errors)
    return str(errors) if errors else ""


def _is_bsg_code(value: object) -> bool:
    # BSG codes are small; HTTP-style codes (401, 500) in a `code` field are not BSG's.
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= BSG_CODE_MAX


class _Retryable(Exception):
    """A failure worth retrying: timeout, connection error, HTTP 429 or 5xx.

    `dropped`: the server closed a kept-alive connection under the request, a routine event
    with a pool of idle connections; its retry is logged at INFO, not as a failure.
    """

    def __init__(self, reason: str, retry_after: float | None = None, *, dropped: bool = False):
        self.reason = reason
        self.retry_after = retry_after
        self.dropped = dropped
        super().__init__(reason)


def _describe(error: httpx.HTTPError) -> str:
    """The failure's name for logs and errors. httpx-aiohttp maps every aiohttp connection
    error to ConnectTimeout, so name the cause where it says more."""
    cause = error.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError):
        return "ConnectError"
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return "RemoteProtocolError"
    if isinstance(cause, aiohttp.ClientOSError):
        return "ReadError"
    return type(error).__name__


def _dropped(error: BaseException) -> bool:
    """A kept-alive connection the server had closed or reset (httpx's words for it, or
    aiohttp's beneath httpx-aiohttp's ConnectTimeout)."""
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return True
    cause = error.__cause__
    return isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)


_M = TypeVar("_M", bound=BaseModel)
_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_NOT_JSON = object()


# ---------------------------------------------------------------- the transport

TRANSPORTS = ("aiohttp", "httpx")


def make_transport(
    kind: str = "aiohttp", *, max_connections: int = 100
) -> httpx.AsyncBaseTransport:
    """The connection pool under BsgClient's `httpx.AsyncClient`.

    "aiohttp" is httpx-aiohttp's transport (kept by an httpx maintainer): aiohttp's pool, which
    costs a fraction of httpcore's CPU per request at the poller's concurrency (see
    benchmarks/poll_sweep.py --transport). "httpx" is httpx's own AsyncHTTPTransport.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    if kind == "aiohttp":
        return httpx_aiohttp.AiohttpTransport(limits=limits, trust_env=False)
    if kind == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    raise ValueError(f"unknown BSG transport {kind!r}: one of {', '.join(TRANSPORTS)}")


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing. BSG's API is keyed by a header and sets no cookie worth
    sending back, while httpx would read every answer's cookies through urllib's request
    model (about a tenth of the CPU of a status check)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    """httpx.AsyncClient that neither keeps nor sends cookies (see _NoCookies)."""

    _no_cookies = _NoCookies()

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the BSG client keeps no cookies")


# ---------------------------------------------------------------- the client


class BsgClient:
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
        callback_url: CallbackUrl | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self._secret = api_key.get_secret_value()
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
        self._http = _CookielessClient(
            base_url=self.base_url,
            transport=self._transport,
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            headers={
                "X-API-KEY": self._secret,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            trust_env=False,
        )
        self._backoff = wait_exponential_jitter(multiplier=backoff, max=backoff_max, jitter=backoff)
        # Requests answered only after a retry (a dropped connection, a 5xx, a timeout).
        self.retried = 0
        self._send_retrying = retry(
            stop=stop_after_attempt(retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )(self._send)

    def __repr__(self) -> str:
        return (
            f"BsgClient(base_url={self.base_url!r}, batch_size={self.batch_size}, "
            f"retries={self.retries})"
        )

    async def aclose(self) -> None:
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
                return await self._call("POST", "/viber/create", body)

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
                batch_outcomes, batch_total, batch_currency, refusal = self._parse_create(
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
        answer = self._validate(_BalanceAnswer, await self._call("GET", path), path)
        if answer.amount is None:
            raise self._protocol_error(path, "the balance answer has no amount")
        return Balance(amount=answer.amount, currency=answer.currency, limit=answer.limit)

    async def price_preview(self, request: CreateRequest) -> PricePreview:
        """What BSG would charge for the whole request (nothing is sent)."""
        path = "/viber/price"
        body = build_create_body(request.content, request.recipients, request.tariff)
        answer = self._validate(_PriceAnswer, await self._call("POST", path, body), path)
        if answer.total_price is None:
            raise self._protocol_error(path, "the price answer has no total price")
        return PricePreview(total_price=answer.total_price, currency=answer.currency)

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
            answer = self._validate(_PriceAnswer, await self._call("POST", path, body), path)
            if answer.total_price is None:
                raise self._protocol_error(path, "the price answer has no total price")
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
            answer = self._validate(_SmsCreateAnswer, data, path)
            said = {e.reference: e for e in answer.result if e.reference}
            if len(batch) == 1 and len(answer.result) == 1 and not said:
                said = {batch[0].reference: answer.result[0]}
            for recipient in batch:
                entry = said.get(recipient.reference)
                if entry is None:
                    outcomes.append(
                        RecipientOutcome(reference=recipient.reference, unconfirmed=True)
                    )
                elif entry.error:
                    outcomes.append(
                        RecipientOutcome(
                            reference=recipient.reference,
                            error=self._error_info(entry.error, entry.description),
                        )
                    )
                else:
                    outcomes.append(
                        RecipientOutcome(
                            reference=recipient.reference,
                            bsg_id=entry.id,
                            price=entry.price,
                            currency=entry.currency or answer.currency,
                            unconfirmed=entry.id is None,
                        )
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
            raise self._protocol_error(path, f"not a status answer: {self._snippet(data)}")
        answer = self._validate(_SmsStatusAnswer, data, path)
        return SmsStatus(
            bsg_id=answer.id,
            status=DeliveryStatus.parse(answer.status),
            raw_status=answer.status,
            price=answer.price,
            currency=answer.currency,
            time_in=answer.time_in,
            time_sent=answer.time_sent,
            time_dr=answer.time_dr,
        )

    # ------------------------------------------------------------ parsing

    async def _status(self, path: str) -> MessageStatus:
        data = await self._call("GET", path, not_found_on_404=True)
        if not isinstance(data, dict) or not data.keys() & {"status", "id", "reference", "msisdn"}:
            raise self._protocol_error(path, f"not a status answer: {self._snippet(data)}")
        answer = self._validate(_StatusAnswer, data, path)
        return MessageStatus(
            bsg_id=answer.id,
            msisdn=answer.msisdn,
            reference=answer.reference,
            status=DeliveryStatus.parse(answer.status),
            raw_status=answer.status,
            price=answer.price,
            currency=answer.currency,
            time_in=answer.time_in,
            time_sent=answer.time_sent,
            time_dr=answer.time_dr,
            sms=_sms_status(answer),
        )

    def _parse_create(
        self, data: Any, batch: Sequence[Recipient]
    ) -> tuple[list[RecipientOutcome], Decimal | None, str | None, BsgErrorInfo | None]:
        """One batch's answer as outcomes, its total, currency and a whole-message refusal."""
        path = "/viber/create"
        refusal: BsgErrorInfo | None = None
        if isinstance(data, dict) and "result" in data:
            answer = self._validate(_CreateAnswer, data, path)
            entries, total, currency = answer.result, answer.total_price, answer.currency
        elif isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            items = [self._validate(_CreateMessageAnswer, item, path) for item in data]
            entries, total, currency = [], None, None
            for item in items:
                if item.error:
                    if refusal is None:
                        refusal = self._error_info(item.error, item.description)
                    continue
                entries.extend(item.messages)
                if item.total_price is not None:
                    total = item.total_price if total is None else total + item.total_price
                currency = currency or item.currency
            if refusal is not None and not entries:
                raise BsgRefused(refusal.code, refusal.description)
        else:
            raise self._protocol_error(path, f"not a create answer: {self._snippet(data)}")

        said = {entry.reference: entry for entry in entries if entry.reference}
        if len(said) < len(entries):
            logger.warning(
                "BSG create answer has %d entries without a reference", len(entries) - len(said)
            )
        outcomes = []
        for recipient in batch:
            entry = said.get(recipient.reference)
            if entry is None:
                # Not mentioned: refused with the message if BSG refused one, else unknown.
                outcomes.append(
                    RecipientOutcome(
                        reference=recipient.reference, error=refusal, unconfirmed=refusal is None
                    )
                )
            elif entry.error:
                outcomes.append(
                    RecipientOutcome(
                        reference=recipient.reference,
                        error=self._error_info(entry.error, entry.description),
                    )
                )
            else:
                outcomes.append(
                    RecipientOutcome(
                        reference=recipient.reference,
                        bsg_id=entry.id,
                        price=entry.price,
                        currency=entry.currency or currency,
                        # Accepted without an id: only a later look-up by reference can tell.
                        unconfirmed=entry.id is None,
                    )
                )
        if total is None:
            priced = [o.price for o in outcomes if o.price is not None]
            total = sum(priced, Decimal(0)) if priced else None
        if currency is None:
            currency = next((o.currency for o in outcomes if o.currency), None)
        return outcomes, total, currency, refusal

    def _error_info(self, code: int, description: str | None) -> BsgErrorInfo:
        return BsgErrorInfo(code=code, description=self._scrub(description or ""))

    def _validate(self, model: type[_M], data: Any, path: str) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            problem = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in problem.get("loc", ()))
            raise self._protocol_error(
                path, f"unexpected answer ({where}: {problem.get('msg')}): {self._snippet(data)}"
            ) from None

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
        except _Retryable as error:
            raise BsgUnavailable(error.reason, retry_after=error.retry_after) from None
        return self._interpret(response, method, path, not_found_on_404)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        started = time.perf_counter()
        try:
            # An absolute URL: httpx parses it once instead of merging it with base_url.
            response = await self._http.request(method, self.base_url + path, json=body)
        except _TRANSIENT_ERRORS as error:
            name = _describe(error)
            logger.debug(
                "BSG %s %s -> %s after %.3fs", method, path, name, time.perf_counter() - started
            )
            raise _Retryable(f"{name} on {method} {path}", dropped=_dropped(error)) from None
        except httpx.HTTPError as error:
            raise BsgUnavailable(
                f"{_describe(error)} on {method} {path}: {self._scrub(str(error))}"
            ) from None
        status = response.status_code
        logger.debug(
            "BSG %s %s -> %d in %.3fs", method, path, status, time.perf_counter() - started
        )
        if status == 429 or status >= 500:
            raise _Retryable(
                f"HTTP {status} on {method} {path}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return response

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            return min(error.retry_after, self._retry_after_max)
        if isinstance(error, _Retryable) and error.dropped and state.attempt_number == 1:
            return 0.0  # a closed idle connection says nothing about BSG: go again at once
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = error.reason if isinstance(error, _Retryable) else type(error).__name__
        pause = state.next_action.sleep if state.next_action else 0.0
        if state.attempt_number == 1:
            self.retried += 1
        # A dropped connection is routine (a pool may hold several); if every try meets one,
        # the caller reports BSG unavailable, as a warning.
        dropped = isinstance(error, _Retryable) and error.dropped
        logger.log(
            logging.INFO if dropped else logging.WARNING,
            "BSG call failed (%s), attempt %d of %d; retrying in %.2fs",
            reason,
            state.attempt_number,
            self.retries + 1,
            pause,
        )

    def _interpret(
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
                raise self._protocol_error(
                    path,
                    f"HTTP {status} with a body that is not JSON: {self._snippet(response.text)}",
                )
            if isinstance(data, dict) and "error" in data:
                self._raise_for_code(data, path, status)
            return data

        if isinstance(data, dict):
            message = self._scrub(str(data.get("message") or data.get("errorDescription") or ""))
            if "error" in data:
                self._raise_for_code(data, path, status)
            code = data.get("code")
            if status in (401, 403):
                raise BsgRefused(
                    code if _is_bsg_code(code) else BsgCode.INVALID_KEY,
                    message or f"HTTP {status}",
                    http_status=status,
                )
            if status == 422 or "errors" in data:
                details = self._scrub(_flatten_errors(data.get("errors")))
                description = "; ".join(part for part in (message, details) if part)
                raise BsgRefused(
                    code if _is_bsg_code(code) else BsgCode.INVALID_PARAMETERS,
                    description or f"HTTP {status}",
                    http_status=status,
                )
            if status == 404 and not_found_on_404:
                raise BsgNotFound(BsgCode.NOT_FOUND, message or "HTTP 404", http_status=status)
            if status == 400:
                raise BsgRefused(
                    code if _is_bsg_code(code) else BsgCode.INVALID_PARAMETERS,
                    message or "HTTP 400",
                    http_status=status,
                )
        elif data is None and status == 404 and not_found_on_404:
            raise BsgNotFound(BsgCode.NOT_FOUND, "HTTP 404", http_status=status)
        elif status in (401, 403):
            raise BsgRefused(BsgCode.INVALID_KEY, f"HTTP {status}", http_status=status)
        raise self._protocol_error(
            path, f"{method} answered HTTP {status}: {self._snippet(response.text)}"
        )

    def _raise_for_code(self, data: dict[str, Any], path: str, status: int) -> None:
        try:
            code = _error_code(data["error"])
        except ValueError:
            raise self._protocol_error(
                path, f"unreadable error code: {self._snippet(data)}"
            ) from None
        if code == 0:
            return
        description = data.get("errorDescription") or data.get("message") or ""
        description = self._scrub(str(description))
        if code == BsgCode.NOT_FOUND:
            raise BsgNotFound(code, description, http_status=status)
        raise BsgRefused(code, description, http_status=status)

    # ------------------------------------------------------------ secrets

    def _scrub(self, text: str) -> str:
        return scrub(text, [self._secret])

    def _snippet(self, data: Any) -> str:
        text = self._scrub(data if isinstance(data, str) else json.dumps(data, default=str))
        if len(text) > _BODY_SNIPPET:
            text = text[:_BODY_SNIPPET] + "…"
        return text

    def _protocol_error(self, path: str, problem: str) -> BsgProtocolError:
        return BsgProtocolError(f"BSG {path}: {self._scrub(problem)}")
