"""The delivery-callback tables: the token secret kept in the database, and raw callback bodies."""

from __future__ import annotations

import secrets as secret_source
from dataclasses import dataclass
from datetime import datetime

from storage.backend import Connection
from storage.records import from_row

CALLBACK_SECRET = "callback_secret"


@dataclass(frozen=True)
class CallbackBody:
    """One callback BSG made for a message, as received (capped), for diagnosis."""

    message_id: int
    received_at: datetime
    source: str | None
    content_type: str | None
    body: str
    truncated: bool
    parsed_status: str | None = None


async def callback_secret(db: Connection, now: datetime) -> str:
    """The stored secret, generated on first use (the first one stored is kept)."""
    await db.execute(
        "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        [CALLBACK_SECRET, secret_source.token_urlsafe(32), now.isoformat()],
    )
    row = await db.fetchone("SELECT value FROM secrets WHERE name = ?", [CALLBACK_SECRET])
    assert row is not None
    return row["value"]


async def stored_callback_secret(db: Connection) -> str | None:
    row = await db.fetchone("SELECT value FROM secrets WHERE name = ?", [CALLBACK_SECRET])
    return row["value"] if row else None


async def add_callback_bodies(db: Connection, bodies: list[CallbackBody]) -> None:
    await db.executemany(
        "INSERT INTO callbacks (message_id, received_at, source, content_type, body, truncated,"
        " parsed_status) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                b.message_id,
                b.received_at.isoformat(),
                b.source,
                b.content_type,
                b.body,
                1 if b.truncated else 0,
                b.parsed_status,
            )
            for b in bodies
        ],
    )


async def callback_bodies(db: Connection, message_id: int, limit: int = 50) -> list[CallbackBody]:
    rows = await db.fetchall(
        "SELECT message_id, received_at, source, content_type, body, truncated, parsed_status "
        "FROM callbacks WHERE message_id = ? ORDER BY id DESC LIMIT ?",
        [message_id, limit],
    )
    return [
        from_row(
            CallbackBody,
            r,
            received_at=datetime.fromisoformat(r["received_at"]),
            body=r["body"] or "",
            truncated=bool(r["truncated"]),
        )
        for r in reversed(rows)
    ]
