"""The audit table: who did what, when, and how it ended."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage import sql
from storage.backend import Connection
from storage.records import ts


async def add(
    db: Connection,
    *,
    action: str,
    outcome: str,
    now: datetime,
    user_id: str | None,
    channel_id: str | None,
    team_id: str | None,
    send_id: int | None,
    detail: dict[str, Any] | None,
) -> None:
    await sql.insert(
        db,
        "audit",
        {
            "at": ts(now),
            "team_id": team_id,
            "user_id": user_id,
            "channel_id": channel_id,
            "action": action,
            "outcome": outcome,
            "detail": json.dumps(detail or {}, default=str),
            "send_id": send_id,
        },
    )


async def log(db: Connection, limit: int) -> list[dict[str, Any]]:
    rows = await sql.select(db, "audit", order_by="id desc", limit=limit)
    return [dict(dict(row), detail=json.loads(row["detail"] or "{}")) for row in rows]
