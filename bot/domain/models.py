"""Domain models shared by every layer: outgoing messages, BSG answers, stored rows. The
statuses are in bot.domain.statuses, re-exported here where every layer imports them from."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import limits
from bot.domain.statuses import FAILURE_STATUSES as FAILURE_STATUSES
from bot.domain.statuses import PENDING_STATUSES as PENDING_STATUSES
from bot.domain.statuses import Channel as Channel
from bot.domain.statuses import DeliveryStatus as DeliveryStatus
from bot.domain.statuses import OutboxKind as OutboxKind
from bot.domain.statuses import OutboxState as OutboxState

# ---------------------------------------------------------------- outgoing


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Recipient(_Strict):
    """One phone number (digits only, international) and the reference generated for it."""

    msisdn: str = Field(
        pattern=rf"^[0-9]{{{limits.MSISDN_MIN_DIGITS},{limits.MSISDN_MAX_DIGITS}}}$"
    )
    reference: str = Field(pattern=rf"^[A-Za-z0-9_]{{1,{limits.REFERENCE_MAX}}}$")
    # This recipient's own text (and SMS text), when it differs from the content's.
    text: str | None = Field(default=None, min_length=1, max_length=limits.TEXT_MAX)
    sms_text: str | None = Field(default=None, min_length=1, max_length=limits.SMS_TEXT_MAX)


class SmsFallback(_Strict):
    """BSG's `alt_route`: the SMS sent when Viber cannot deliver."""

    originator: str = Field(min_length=limits.SMS_SENDER_MIN, max_length=limits.SMS_SENDER_MAX)
    text: str = Field(min_length=1, max_length=limits.SMS_TEXT_MAX)


class MessageContent(_Strict):
    """What a send says and how: everything but the recipients."""

    text: str = Field(min_length=1, max_length=limits.TEXT_MAX)
    sender: str = Field(min_length=1, max_length=limits.SENDER_MAX)
    promotional: bool = False
    image_url: str | None = None
    button_caption: str | None = None
    button_url: str | None = None
    sms: SmsFallback | None = None
    send_at: datetime | None = None
    validity: int | None = Field(default=None, ge=limits.VALIDITY_MIN, le=limits.VALIDITY_MAX)


@dataclass(frozen=True)
class Composed:
    """A send that passed every check: digits-only numbers and strict content."""

    msisdns: tuple[str, ...]
    content: MessageContent
    # msisdn -> (text, SMS text) for recipients whose text is their own (CSV personal text).
    personal: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    collapsed: int = 0  # numbers given more than once, sent once
    lists: Mapping[str, int] = field(default_factory=dict)  # @lists used -> size


class CreateRequest(_Strict):
    """One logical send to BSG (the client splits it into batches)."""

    content: MessageContent
    recipients: tuple[Recipient, ...] = Field(min_length=1)
    tariff: int = Field(default=0, ge=limits.TARIFF_MIN, le=limits.TARIFF_MAX)


# ---------------------------------------------------------------- BSG answers


class BsgErrorInfo(_Strict):
    """A refusal as BSG stated it."""

    code: int
    description: str = ""


class RecipientOutcome(_Strict):
    """What BSG said about one recipient of a create request."""

    reference: str
    bsg_id: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    error: BsgErrorInfo | None = None
    # True when BSG's answer never arrived (timeouts, 5xx after retries): state unknown.
    unconfirmed: bool = False

    @property
    def accepted(self) -> bool:
        return self.error is None and not self.unconfirmed and self.bsg_id is not None


class CreateResult(_Strict):
    """BSG's answer to a (possibly batched) create."""

    outcomes: tuple[RecipientOutcome, ...]
    total_price: Decimal | None = None
    currency: str | None = None
    request_errors: tuple[BsgErrorInfo, ...] = ()


class SmsStatus(_Strict):
    """The SMS fallback's own lifecycle, from `alt_route` / `alt_route_messages`."""

    bsg_id: str | None = None
    status: DeliveryStatus = DeliveryStatus.UNKNOWN
    raw_status: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    time_in: datetime | None = None
    time_sent: datetime | None = None
    time_dr: datetime | None = None


class MessageStatus(_Strict):
    """BSG's answer to a status query for one message."""

    bsg_id: str | None = None
    msisdn: str | None = None
    reference: str | None = None
    status: DeliveryStatus = DeliveryStatus.UNKNOWN
    raw_status: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    time_in: datetime | None = None
    time_sent: datetime | None = None
    time_dr: datetime | None = None
    sms: SmsStatus | None = None


class Balance(_Strict):
    amount: Decimal
    currency: str | None = None
    limit: Decimal | None = None


class PricePreview(_Strict):
    total_price: Decimal
    currency: str | None = None


# ---------------------------------------------------------------- stored rows


class SendOutcome(enum.StrEnum):
    PENDING = "pending"  # stored, BSG not yet answered
    SENT = "sent"  # every recipient accepted
    PARTIAL = "partial"  # some recipients refused
    REFUSED = "refused"  # BSG refused the whole send
    NOT_SENT = "not_sent"  # reconciliation proved nothing went out


class Send(BaseModel):
    """One submission from Slack (one row in `sends`)."""

    id: int
    team_id: str | None
    channel_id: str
    user_id: str
    text: str
    sender: str
    options: dict[str, Any] = {}
    request_json: str | None = None
    created_at: datetime
    outcome: SendOutcome
    error_code: int | None = None
    error_description: str | None = None
    parent_ts: str | None = None
    source: str = "command"
    dedupe_key: str | None = None
    response_url: str | None = None
    send_at: datetime | None = None
    validity: int | None = None
    last_checked_at: datetime | None = None


@dataclass(slots=True)
class StoredMessage:
    """One recipient of a send (one row in `messages`).

    A slotted dataclass, built by `from_row` without a validation pass: the poller loads
    thousands a sweep, and the database already holds them in the shape written here."""

    id: int
    send_id: int
    reference: str
    msisdn: str
    status: DeliveryStatus
    created_at: datetime
    bsg_id: str | None = None
    raw_status: str | None = None
    error_code: int | None = None
    error_description: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    sms_id: str | None = None
    sms_status: DeliveryStatus | None = None
    sms_price: Decimal | None = None
    sms_currency: str | None = None
    time_in: datetime | None = None
    time_sent: datetime | None = None
    time_dr: datetime | None = None
    next_poll_at: datetime | None = None
    last_polled_at: datetime | None = None
    last_change_at: datetime | None = None
    expires_at: datetime | None = None
    poll_count: int = 0
    final: bool = False
    # What this recipient was sent, when it differs from the send's text (CSV personal text).
    text: str | None = None
    sms_text: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredMessage:
        """A `messages` row (times as ISO text or datetimes, prices as text or numbers)."""
        sms_status = row["sms_status"]
        error_code = row["error_code"]
        return cls(
            row["id"],
            row["send_id"],
            row["reference"],
            row["msisdn"],
            DeliveryStatus(row["status"]),
            _moment(row["created_at"]),  # type: ignore[arg-type]
            row["bsg_id"],
            row["raw_status"],
            None if error_code is None else int(error_code),
            row["error_description"],
            _amount(row["price"]),
            row["currency"],
            row["sms_id"],
            None if sms_status is None else DeliveryStatus(sms_status),
            _amount(row["sms_price"]),
            row["sms_currency"],
            _moment(row["time_in"]),
            _moment(row["time_sent"]),
            _moment(row["time_dr"]),
            _moment(row["next_poll_at"]),
            _moment(row["last_polled_at"]),
            _moment(row["last_change_at"]),
            _moment(row["expires_at"]),
            int(row["poll_count"] or 0),
            bool(row["final"]),
            row["text"],
            row["sms_text"],
        )


def _moment(value: object) -> datetime | None:
    if value.__class__ is str:  # as stored (storage.timestamps.ts)
        return _fromisoformat(value)  # type: ignore[arg-type]
    if value is None or isinstance(value, datetime):
        return value
    return _fromisoformat(str(value))


_fromisoformat = datetime.fromisoformat


def _amount(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def count_statuses(statuses: Iterable[DeliveryStatus | None]) -> dict[DeliveryStatus, int]:
    """How many of each status (None, e.g. no SMS, is not counted): the one tally."""
    return dict(Counter(status for status in statuses if status is not None))


def total_cost(messages: list[StoredMessage]) -> tuple[Decimal | None, str | None]:
    """What a send cost so far, Viber and SMS together (None when BSG priced nothing yet)."""
    total = Decimal(0)
    currency: str | None = None
    priced = False
    for m in messages:
        for price, cur in ((m.price, m.currency), (m.sms_price, m.sms_currency or m.currency)):
            if price is not None:
                total += price
                priced = True
                currency = currency or cur
    return (total if priced else None), currency


class StatusEvent(BaseModel):
    """One observed change of a message's (or its SMS fallback's) status."""

    id: int
    message_id: int
    channel: Channel
    status: DeliveryStatus
    raw_status: str | None = None
    observed_at: datetime
    provider_time: datetime | None = None
    price: Decimal | None = None
    currency: str | None = None
