"""StoredMessage.from_row, DueMessage.from_values: each column lands in its field, as stored."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from bot.domain.models import DUE_COLUMNS, DeliveryStatus, DueMessage, StoredMessage

MOMENTS = ("created_at", "time_in", "time_sent", "time_dr", "next_poll_at", "last_polled_at")
MOMENTS += ("last_change_at", "expires_at")


def _every_column() -> tuple[dict[str, object], dict[str, object]]:
    """A `messages` row with every column filled, each value its own, and the fields it reads
    as."""
    row: dict[str, object] = {}
    expected: dict[str, object] = {}
    for number, field in enumerate(dataclasses.fields(StoredMessage)):
        name = field.name
        if name in MOMENTS:
            moment = datetime(2026, 1, 1, 12, number, tzinfo=UTC)
            row[name], expected[name] = moment.isoformat(timespec="microseconds"), moment
        elif name in ("price", "sms_price"):
            row[name], expected[name] = f"0.0{number}", Decimal(f"0.0{number}")
        elif name == "status":
            row[name], expected[name] = "delivered", DeliveryStatus.DELIVERED
        elif name == "sms_status":
            row[name], expected[name] = "read", DeliveryStatus.READ
        elif name in ("id", "send_id", "error_code", "poll_count"):
            row[name] = expected[name] = 1000 + number
        elif name == "final":
            row[name], expected[name] = 1, True
        else:
            row[name] = expected[name] = f"{name}-{number}"
    row["lease_owner"] = "replica-1"  # PostgreSQL's extra columns are left aside
    return row, expected


def _nulls_and_other_values() -> dict[str, object]:
    """A row with every nullable column NULL and values other backends return."""
    moment = datetime(2026, 1, 1, 12, tzinfo=UTC)
    row = {f.name: None for f in dataclasses.fields(StoredMessage)}
    row |= {"id": 1, "send_id": 2, "reference": "r", "msisdn": "380972920283"}
    row |= {"status": "sent", "created_at": moment, "price": 0.5, "poll_count": None}
    row |= {"final": False, "error_code": "45"}
    return row


def test_every_column_reaches_the_field_of_its_name():
    row, expected = _every_column()
    message = StoredMessage.from_row(row)
    assert {f.name: getattr(message, f.name) for f in dataclasses.fields(message)} == expected


def test_nulls_and_values_other_backends_return():
    moment = datetime(2026, 1, 1, 12, tzinfo=UTC)
    message = StoredMessage.from_row(_nulls_and_other_values())
    assert message.created_at == moment and message.next_poll_at is None
    assert message.price == Decimal("0.5") and message.sms_status is None
    assert message.poll_count == 0 and message.final is False and message.error_code == 45


def test_a_due_message_reads_its_columns_as_a_whole_row_does():
    """DueMessage.from_values takes DUE_COLUMNS' values and makes of each what
    StoredMessage.from_row makes of the same column: filled, NULL or as other backends
    return them."""
    moment = datetime(2026, 1, 1, 12, tzinfo=UTC)
    for row in (_every_column()[0], _nulls_and_other_values()):
        due = DueMessage.from_values([row[name] for name in DUE_COLUMNS])
        whole = StoredMessage.from_row(row)
        for name in DUE_COLUMNS:
            assert getattr(due, name) == getattr(whole, name), name
            assert type(getattr(due, name)) is type(getattr(whole, name)), name
    assert [f.name for f in dataclasses.fields(DueMessage)] == list(DUE_COLUMNS)
    assert set(DUE_COLUMNS) < {f.name for f in dataclasses.fields(StoredMessage)}
    assert due.created_at == moment and due.expires_at is None and due.sms_status is None
