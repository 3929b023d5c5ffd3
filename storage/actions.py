"""Verbs for the review step, quick-send confirmations, thread actions and SMS resends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.domain.models import DeliveryStatus
from storage.backend import Row
from storage.records import dec, from_row, parse_dt, ts


@dataclass(frozen=True)
class PendingDraft:
    """A send waiting for its go-ahead (`drafts`): the review step or a quick-send confirm."""

    id: int
    token: str
    kind: str  # review | quick
    user_id: str
    channel_id: str
    team_id: str | None
    view_id: str | None
    payload: dict[str, Any]
    state: str  # pending | sent | back
    created_at: datetime
    used_at: datetime | None
    send_id: int | None


@dataclass(frozen=True)
class ThreadAction:
    """The one use of an action on a send's parent card (`thread_actions`)."""

    id: int
    send_id: int
    action: str
    user_id: str
    state: str  # claimed | done | failed
    created_at: datetime
    finished_at: datetime | None
    result_send_id: int | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class SmsResend:
    """One SMS sent through BSG's SMS API by resend_sms (`sms_resends`)."""

    id: int
    send_id: int
    message_id: int
    reference: str
    msisdn: str
    bsg_id: str | None
    status: DeliveryStatus
    price: Decimal | None
    currency: str | None
    error_code: int | None
    error_description: str | None
    created_at: datetime
    next_poll_at: datetime | None
    final: bool


class ActionVerbs:
    """Mixed into the Store: its transactions (`_write`) and reads (`_read`)."""

    _write: Any  # () -> an async context manager yielding a Connection
    _read: Any
    atomic: Any

    # ------------------------------------------------------------ drafts

    async def add_draft(
        self,
        *,
        token: str,
        kind: str,
        user_id: str,
        channel_id: str,
        team_id: str | None,
        view_id: str | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> PendingDraft:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO drafts (token, kind, user_id, channel_id, team_id, view_id, payload, "
                "state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                [token, kind, user_id, channel_id, team_id, view_id, json.dumps(payload), ts(now)],
            )
        found = await self.get_draft(token)
        assert found is not None
        return found

    async def get_draft(self, token: str) -> PendingDraft | None:
        async with self._read() as db:
            row = await db.fetchone("SELECT * FROM drafts WHERE token = ?", [token])
        if row is None:
            return None
        return from_row(
            PendingDraft,
            row,
            payload=json.loads(row["payload"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            used_at=parse_dt(row["used_at"]),
        )

    async def claim_draft(
        self, token: str, *, state: str, now: datetime, created_after: datetime
    ) -> bool:
        """Move a pending draft on (to `sent` or `back`) once; False when it was used or is
        older than `created_after`. Call inside the transaction that acts on it."""
        async with self._write() as db:
            changed = await db.execute(
                "UPDATE drafts SET state = ?, used_at = ? "
                "WHERE token = ? AND state = 'pending' AND created_at >= ?",
                [state, ts(now), token, ts(created_after)],
            )
        return changed == 1

    async def set_draft_send(self, token: str, send_id: int) -> None:
        async with self._write() as db:
            await db.execute("UPDATE drafts SET send_id = ? WHERE token = ?", [send_id, token])

    # ------------------------------------------------------------ thread actions

    async def claim_thread_action(
        self, send_id: int, action: str, *, user_id: str, now: datetime
    ) -> ThreadAction | None:
        """The claim that lets an action act once per send; None when it was claimed before."""
        async with self._write() as db:
            # The unique (send_id, action) index decides; portable, no driver's IntegrityError.
            claimed = await db.fetchone(
                "INSERT INTO thread_actions (send_id, action, user_id, state, created_at, "
                "detail) VALUES (?, ?, ?, 'claimed', ?, '{}') "
                "ON CONFLICT (send_id, action) DO NOTHING RETURNING id",
                [send_id, action, user_id, ts(now)],
            )
        if claimed is None:
            return None
        return await self.thread_action(send_id, action)

    async def thread_action(self, send_id: int, action: str) -> ThreadAction | None:
        async with self._read() as db:
            row = await db.fetchone(
                "SELECT * FROM thread_actions WHERE send_id = ? AND action = ?", [send_id, action]
            )
        if row is None:
            return None
        return from_row(
            ThreadAction,
            row,
            created_at=datetime.fromisoformat(row["created_at"]),
            finished_at=parse_dt(row["finished_at"]),
            detail=json.loads(row["detail"] or "{}"),
        )

    async def finish_thread_action(
        self,
        action_id: int,
        *,
        state: str,
        now: datetime,
        result_send_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE thread_actions SET state = ?, finished_at = ?, "
                "result_send_id = coalesce(?, result_send_id), detail = ? WHERE id = ?",
                [state, ts(now), result_send_id, json.dumps(detail or {}, default=str), action_id],
            )

    async def release_thread_action(self, action_id: int) -> None:
        """Forget a claim whose action did nothing (it may be used again)."""
        async with self._write() as db:
            await db.execute("DELETE FROM thread_actions WHERE id = ?", [action_id])

    # ------------------------------------------------------------ SMS resends

    async def add_sms_resends(
        self, send_id: int, rows: Sequence[tuple[int, str, str]], *, now: datetime
    ) -> list[SmsResend]:
        """Store (message_id, msisdn, reference) rows before BSG's SMS API is called."""
        async with self._write() as db:
            await db.executemany(
                "INSERT INTO sms_resends (send_id, message_id, msisdn, reference, status, "
                "created_at, final) VALUES (?, ?, ?, ?, ?, ?, 0)",
                [
                    (send_id, message_id, msisdn, reference, DeliveryStatus.PENDING.value, ts(now))
                    for message_id, msisdn, reference in rows
                ],
            )
        return await self.sms_resends(send_id)

    async def _resends(self, sql: str, params: Sequence[Any]) -> list[SmsResend]:
        async with self._read() as db:
            rows = await db.fetchall(sql, list(params))
        return [self._sms_resend(row) for row in rows]

    async def sms_resends(self, send_id: int) -> list[SmsResend]:
        return await self._resends(
            "SELECT * FROM sms_resends WHERE send_id = ? ORDER BY id", [send_id]
        )

    async def due_sms_resends(self, now: datetime, limit: int = 1000) -> list[SmsResend]:
        return await self._resends(
            "SELECT * FROM sms_resends WHERE final = 0 AND next_poll_at IS NOT NULL "
            "AND next_poll_at <= ? ORDER BY next_poll_at LIMIT ?",
            [ts(now), int(limit)],
        )

    async def unconfirmed_sms_resends(self, before: datetime) -> list[SmsResend]:
        """Rows BSG never confirmed (no id), stored before `before`: looked up by reference."""
        return await self._resends(
            "SELECT * FROM sms_resends WHERE final = 0 AND bsg_id IS NULL AND status = ? "
            "AND created_at <= ? ORDER BY id",
            [DeliveryStatus.PENDING.value, ts(before)],
        )

    async def update_sms_resend(self, resend_id: int, **values: Any) -> None:
        """Set columns of one row (datetimes, Decimals and statuses stored as text)."""
        stored = {}
        for name, value in values.items():
            if isinstance(value, datetime):
                value = ts(value)
            elif isinstance(value, Decimal):
                value = dec(value)
            elif isinstance(value, DeliveryStatus):
                value = value.value
            elif isinstance(value, bool):
                value = int(value)
            stored[name] = value
        assignments = ", ".join(f"{name} = ?" for name in stored)
        async with self._write() as db:
            await db.execute(
                f"UPDATE sms_resends SET {assignments} WHERE id = ?", [*stored.values(), resend_id]
            )

    @staticmethod
    def _sms_resend(row: Row) -> SmsResend:
        return from_row(
            SmsResend,
            row,
            status=DeliveryStatus(row["status"]),
            price=None if row["price"] is None else Decimal(row["price"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            next_poll_at=parse_dt(row["next_poll_at"]),
            final=bool(row["final"]),
        )

    # ------------------------------------------------------------ send options and SMS legs

    async def set_send_option(self, send_id: int, key: str, value: Any) -> None:
        """Add one key to a send's options (links between a retry and its original)."""
        async with self.atomic() as db:
            row = await db.fetchone("SELECT options FROM sends WHERE id = ?", [send_id])
            options = json.loads(row["options"] or "{}") if row else {}
            options[key] = value
            await db.execute(
                "UPDATE sends SET options = ? WHERE id = ?",
                [json.dumps(options, sort_keys=True, default=str), send_id],
            )

    async def record_resent_sms(
        self,
        message_id: int,
        status: DeliveryStatus,
        price: Decimal | None,
        currency: str | None,
        now: datetime,
    ) -> None:
        """A resent SMS's new status on its message (the card's SMS column) and its history."""
        async with self.atomic() as db:
            await db.execute(
                "UPDATE messages SET sms_status = ?, sms_price = coalesce(?, sms_price), "
                "sms_currency = coalesce(?, sms_currency) WHERE id = ?",
                [status.value, dec(price), currency, message_id],
            )
            await db.execute(
                "INSERT INTO status_events (message_id, channel, status, observed_at, price, "
                "currency) VALUES (?, 'sms', ?, ?, ?, ?)",
                [message_id, status.value, ts(now), dec(price), currency],
            )
