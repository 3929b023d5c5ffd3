"""The status_events table: every observed change of a message's status, in order."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.domain.models import Channel, DeliveryStatus, StatusEvent
from storage import sql
from storage.backend import Connection
from storage.records import dec, ts


async def add(
    db: Connection,
    message_id: int,
    channel: Channel,
    status: DeliveryStatus,
    raw: str | None,
    now: datetime,
    provider_time: datetime | None,
    price: Decimal | None,
    currency: str | None,
) -> StatusEvent:
    row = {
        "message_id": message_id,
        "channel": channel.value,
        "status": status.value,
        "raw_status": raw,
        "observed_at": ts(now),
        "provider_time": ts(provider_time),
        "price": dec(price),
        "currency": currency,
    }
    event_id = await sql.insert(db, "status_events", row)
    return StatusEvent.model_validate(dict(row, id=event_id))


async def of_message(db: Connection, message_id: int) -> list[StatusEvent]:
    rows = await sql.select(db, "status_events", "message_id = ?", [message_id])
    return [StatusEvent.model_validate(dict(row)) for row in rows]
