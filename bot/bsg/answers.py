"""BSG's answers, read tolerantly: loose models for every published shape, and domain values."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from bot.domain.limits import BSG_CODE_MAX
from bot.domain.models import (
    DeliveryStatus,
    MessageStatus,
    SmsStatus,
)

logger = logging.getLogger(__name__)


def error_code(value: object) -> int:
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


_Code = Annotated[int, BeforeValidator(error_code)]
_Money = Annotated[Decimal | None, BeforeValidator(_money)]
_Time = Annotated[datetime | None, BeforeValidator(_time)]
_Text = Annotated[str | None, BeforeValidator(_text)]
_DESCRIPTION = AliasChoices("errorDescription", "error_description", "description", "message")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, frozen=True)


class CreateEntry(_Loose):
    error: _Code = 0
    description: str | None = Field(None, validation_alias=_DESCRIPTION)
    reference: _Text = None
    id: _Text = None
    price: _Money = None
    currency: _Text = None


class _Totalled(_Loose):
    """An answer that states what the whole request costs."""

    total_price: _Money = Field(None, validation_alias=AliasChoices("total_price", "totalprice"))
    currency: _Text = None


class CreateAnswer(_Totalled):
    """`{"result": [...], "total_price", "currency"}`."""

    result: list[CreateEntry]


class CreateMessageAnswer(_Totalled):
    """One item of `[{"error": "0", "messages": [...]}]`."""

    error: _Code = 0
    description: str | None = Field(None, validation_alias=_DESCRIPTION)
    messages: Annotated[list[CreateEntry], BeforeValidator(_entries)] = []


class _Leg(_Loose):
    """What BSG says of one delivery: its status, price and times."""

    status: _Text = None
    price: _Money = None
    currency: _Text = None
    time_in: _Time = None
    time_sent: _Time = None
    time_dr: _Time = None


class SmsRoute(_Leg):
    """An `alt_route` or `alt_route_messages` entry."""

    channel: _Text = None
    id: _Text = None


_Routes = Annotated[list[SmsRoute], BeforeValidator(_entries)]


class StatusAnswer(_Leg):
    id: _Text = None
    msisdn: _Text = None
    reference: _Text = None
    price: _Money = Field(None, validation_alias=AliasChoices("price", "total_price"))
    alt_route: _Routes = []
    alt_route_messages: _Routes = []


class BalanceAnswer(_Loose):
    amount: _Money = Field(None, validation_alias=AliasChoices("amount", "balance"))
    currency: _Text = None
    limit: _Money = Field(None, validation_alias=AliasChoices("limit", "credit_limit"))


class PriceAnswer(_Totalled):
    """`{"error": 0, "totalprice", "currency"}`: a cost preview, nothing sent."""


class SmsCreateAnswer(_Totalled):
    """`{"result": {...}}` (one phone) or `{"task_id", "result": [...], "total_price"}`."""

    result: Annotated[list[CreateEntry], BeforeValidator(_entries)]


class SmsStatusAnswer(_Leg):
    id: _Text = None
    msisdn: _Text = None
    reference: _Text = None


def _latest(routes: list[SmsRoute]) -> SmsRoute | None:
    """The newest entry: latest time if any is given, else the last one listed."""
    if not routes:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return max(
        enumerate(routes),
        key=lambda item: (max(item[1].time_dr or floor, item[1].time_in or floor), item[0]),
    )[1]


def _is_sms(route: SmsRoute) -> bool:
    return route.channel is None or route.channel.lower() == "sms"


def sms_status_of(answer: StatusAnswer) -> SmsStatus | None:
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


def flatten_errors(errors: object) -> str:
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


def is_bsg_code(value: object) -> bool:
    # BSG codes are small; HTTP-style codes (401, 500) in a `code` field are not BSG's.
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= BSG_CODE_MAX


def message_status(answer: StatusAnswer) -> MessageStatus:
    """A status answer (`/viber/{id}`, `/viber/reference/{ref}`) as the domain's MessageStatus."""
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
        sms=sms_status_of(answer),
    )


def sms_message_status(answer: SmsStatusAnswer) -> SmsStatus:
    """An SMS status answer (`/sms/{id}`, `/sms/reference/{ref}`) as an SmsStatus."""
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
