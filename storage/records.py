"""Values the Store takes and returns besides domain models, and how they are stored as text."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from bot.domain.errors import StorageError
from bot.domain.models import (
    DeliveryStatus,
    MessageStatus,
    PolledMessage,
    Send,
    StatusEvent,
    StoredMessage,
)
from storage.backend import Row
from storage.timestamps import ts as ts  # re-exported for the table modules

Record = TypeVar("Record")


def dec(value: Decimal | None) -> str | None:
    """A Decimal as text: exact, on every backend."""
    return None if value is None else str(value)


def parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def from_row(record: type[Record], row: Row, **read: Any) -> Record:
    """A record dataclass from a row of its table: each field is the column of its name, unless
    `read` gives what the column reads as (a datetime, parsed JSON, a Decimal, a bool)."""
    names = [column.name for column in fields(record)]
    return record(**{name: read[name] if name in read else row[name] for name in names})


class DuplicateSubmission(StorageError):
    """A send with the same de-duplication key is already stored."""

    def __init__(self, send: Send):
        self.send = send
        super().__init__(f"send {send.id} already holds this submission")


class NotFound(StorageError):
    """No row with that id."""


class Conflict(StorageError):
    """A unique key another process wrote first (replicas on one database race for it)."""


@dataclass(frozen=True)
class NewSend:
    """What a submission stores before BSG is called."""

    channel_id: str
    user_id: str
    text: str
    sender: str
    team_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    source: str = "command"
    dedupe_key: str | None = None
    response_url: str | None = None
    send_at: datetime | None = None
    validity: int | None = None


@dataclass(frozen=True)
class NewRecipient:
    msisdn: str
    reference: str
    # What this recipient is sent when it differs from the send's text (CSV personal text).
    text: str | None = None
    sms_text: str | None = None


@dataclass(frozen=True)
class OutboxItem:
    """One Slack post waiting to be made (or made)."""

    id: int
    send_id: int | None
    channel_id: str
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    in_flight: bool
    next_attempt_at: datetime | None
    created_at: datetime
    posted_ts: str | None
    last_error: str | None = None


@dataclass(frozen=True)
class Change:
    """A status change recorded by a poll, for the notifier."""

    message: StoredMessage
    event: StatusEvent
    previous: DeliveryStatus | None  # the status on the same channel before this change


@dataclass(frozen=True, slots=True)
class Poll:
    """One look at a message for `Store.record_polls`: what BSG said (None: no answer that
    counts) and what the poll policy decided."""

    message: PolledMessage
    seen: MessageStatus | None
    next_poll_at: datetime | None
    final: bool
    forced_status: DeliveryStatus | None = None


@dataclass(frozen=True)
class SweepRecord:
    started_at: datetime
    finished_at: datetime | None
    checked: int
    changed: int
    errors: int
    last_error: str | None


@dataclass(frozen=True)
class Acceptance:
    """BSG took one message of a create: what `Store.record_acceptances` writes for it."""

    message_id: int
    bsg_id: str
    price: Decimal | None
    currency: str | None
    next_poll_at: datetime
    expires_at: datetime
    status: DeliveryStatus = DeliveryStatus.SENT
