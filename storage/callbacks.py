"""The delivery-callback tables: the token secret kept in the database, and raw callback bodies."""

from __future__ import annotations

import secrets as secret_source
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

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


def callback_secret(db: Database, now: datetime) -> str:
    """The stored secret, generated on first use (the first one stored is kept)."""
    db.execute(
        "INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        [CALLBACK_SECRET, secret_source.token_urlsafe(32), now.isoformat()],
    )
    db.conn.commit()
    row = db.execute("SELECT value FROM secrets WHERE name = ?", [CALLBACK_SECRET]).fetchone()
    return row[0]


def stored_callback_secret(db: Database) -> str | None:
    row = db.execute("SELECT value FROM secrets WHERE name = ?", [CALLBACK_SECRET]).fetchone()
    return row[0] if row else None


def add_callback_bodies(db: Database, bodies: list[CallbackBody]) -> None:
    db.conn.executemany(
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


def callback_bodies(db: Database, message_id: int, limit: int = 50) -> list[CallbackBody]:
    rows = db.execute(
        "SELECT message_id, received_at, source, content_type, body, truncated, parsed_status "
        "FROM callbacks WHERE message_id = ? ORDER BY id DESC LIMIT ?",
        [message_id, limit],
    ).fetchall()
    return [
        CallbackBody(
            message_id=r[0],
            received_at=datetime.fromisoformat(r[1]),
            source=r[2],
            content_type=r[3],
            body=r[4] or "",
            truncated=bool(r[5]),
            parsed_status=r[6],
        )
        for r in reversed(rows)
    ]
