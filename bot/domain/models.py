"""Domain models shared by every layer: outgoing messages, BSG answers, stored rows. The
statuses are in bot.domain.statuses, re-exported here where every layer imports them from."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
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

    A slotted dataclass, built by `from_row` or `from_values` without a validation pass: the
    poller loads thousands a sweep, and the database already holds them in the shape written
    here."""

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
        return cls.from_values([row[name] for name in MESSAGE_COLUMNS])

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> StoredMessage:
        """A `messages` row as its values in MESSAGE_COLUMNS' order, read as `from_row` reads
        them. Positional: no mapping is made per row (a sweep or a page loads thousands)."""
        (
            id_,
            send_id,
            reference,
            msisdn,
            status,
            created_at,
            bsg_id,
            raw_status,
            error_code,
            error_description,
            price,
            currency,
            sms_id,
            sms_status,
            sms_price,
            sms_currency,
            time_in,
            time_sent,
            time_dr,
            next_poll_at,
            last_polled_at,
            last_change_at,
            expires_at,
            poll_count,
            final,
            text,
            sms_text,
        ) = values
        return cls(
            id_,
            send_id,
            reference,
            msisdn,
            _status(status),
            _moment(created_at),  # type: ignore[arg-type]
            bsg_id,
            raw_status,
            None if error_code is None else int(error_code),
            error_description,
            None if price is None else _amount(price),
            currency,
            sms_id,
            None if sms_status is None else _status(sms_status),
            None if sms_price is None else _amount(sms_price),
            sms_currency,
            None if time_in is None else _moment(time_in),
            None if time_sent is None else _moment(time_sent),
            None if time_dr is None else _moment(time_dr),
            None if next_poll_at is None else _moment(next_poll_at),
            None if last_polled_at is None else _moment(last_polled_at),
            None if last_change_at is None else _moment(last_change_at),
            None if expires_at is None else _moment(expires_at),
            poll_count if poll_count.__class__ is int else int(poll_count or 0),
            bool(final),
            text,
            sms_text,
        )


# The `messages` columns StoredMessage is made of, in its field order: what a query selects
# for `StoredMessage.from_values` (PostgreSQL's table has more, the replicas' leases).
MESSAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(StoredMessage))


@dataclass(slots=True)
class DueMessage:
    """A due message as a poll reads it (`Store.due_for_poll`, a replica's `claim_due`): the
    fields of its `messages` row that BSG's answer is asked for, judged and recorded against,
    each equal to the StoredMessage field of its name. The rest of the row is never read by a
    poll, so never selected (a sweep claims up to 50,000, and each column read costs ~0.1 ms
    a 1,000 rows): the number, texts, prices, BSG's times, the schedule the query orders by,
    and what a poll's UPDATE keeps or counts in SQL (currency, SMS id, poll count)."""

    id: int
    send_id: int
    status: DeliveryStatus
    created_at: datetime
    bsg_id: str | None = None
    raw_status: str | None = None
    sms_status: DeliveryStatus | None = None
    last_change_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> DueMessage:
        """A `messages` row as its values in DUE_COLUMNS' order, read as
        `StoredMessage.from_values` reads them."""
        (
            id_,
            send_id,
            status,
            created_at,
            bsg_id,
            raw_status,
            sms_status,
            last_change_at,
            expires_at,
        ) = values
        # The times as both backends store them (ISO text) are parsed here, not through
        # _moment: a call less per time, ~0.1 ms a 1,000 rows.
        return cls(
            id_,
            send_id,
            _status(status),
            _fromisoformat(created_at) if created_at.__class__ is str else _moment(created_at),  # type: ignore[arg-type]
            bsg_id,
            raw_status,
            None if sms_status is None else _status(sms_status),
            (
                _fromisoformat(last_change_at)
                if last_change_at.__class__ is str
                else _moment(last_change_at)
            ),
            _fromisoformat(expires_at) if expires_at.__class__ is str else _moment(expires_at),
        )


# The `messages` columns DueMessage is made of, in its field order (what the due query and a
# replica's claim select).
DUE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DueMessage))

# A message a poll is about: a whole row (a callback's look; the sweep alone, which loads pages
# by id) or a due one as claimed. Each has every field a poll reads, under the same name.
PolledMessage = StoredMessage | DueMessage

_STATUSES: dict[object, DeliveryStatus] = {status.value: status for status in DeliveryStatus}


def _status(value: object) -> DeliveryStatus:
    # A dict look-up: the enum's own call costs ~0.3 us, a third of a row's reading.
    found = _STATUSES.get(value)
    return DeliveryStatus(value) if found is None else found


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
