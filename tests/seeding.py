"""Stored test data: a send whose messages BSG accepted, through the Store's own verbs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.domain.models import Send, StoredMessage
from storage.store import NewRecipient, NewSend


async def accepted_send(
    store: Any,  # storage.store.Store
    send: NewSend,
    recipients: Sequence[NewRecipient],
    *,
    now: datetime,
    due_at: datetime,
    spread: timedelta = timedelta(0),
    expires_at: datetime | None = None,
    bsg_id: str = "bsg-{id}",
    price: Decimal = Decimal("0.0200000"),
    currency: str = "EUR",
) -> tuple[Send, list[StoredMessage]]:
    """Store `send` at `now` and record each of its messages as BSG accepted it: a BSG id
    (`bsg_id` formatted with the message's `id` and its index `i`), a price, its first poll at
    `due_at` (each next message `spread` later) and its expiry (a day after `now` unless
    given). Returns the send and its messages as stored after the acceptance."""
    stored, messages = await store.add_send(send, list(recipients), now=now)
    for i, message in enumerate(messages):
        await store.record_acceptance(
            message.id,
            bsg_id=bsg_id.format(id=message.id, i=i),
            price=price,
            currency=currency,
            now=now,
            next_poll_at=due_at + i * spread,
            expires_at=expires_at or now + timedelta(days=1),
        )
    return stored, await store.send_messages(stored.id)
