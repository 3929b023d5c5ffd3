"""The Store: every read and write viber-bot makes to SQLite, as verbs returning domain models."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from bot.domain.errors import StorageError
from bot.domain.models import (
    Channel,
    DeliveryStatus,
    MessageStatus,
    Send,
    SendOutcome,
    StatusEvent,
    StoredMessage,
)
from storage import callbacks as callback_table
from storage.actions import ActionVerbs
from storage.callbacks import CallbackBody
from storage.lists import ListEdit, ListMember, ListsTable
from storage.optouts import OptOut, OptOutsTable
from storage.schema import migrations
from storage.timestamps import ts


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class DuplicateSubmission(StorageError):
    """A send with the same de-duplication key is already stored."""

    def __init__(self, send: Send):
        self.send = send
        super().__init__(f"send {send.id} already holds this submission")


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


@dataclass(frozen=True)
class SweepRecord:
    started_at: datetime
    finished_at: datetime | None
    checked: int
    changed: int
    errors: int
    last_error: str | None


@functools.cache
def _update_sql(table: str, columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"[{name}] = ?" for name in columns)
    return f"UPDATE [{table}] SET {assignments} WHERE id = ?"


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(f"[{name}]" for name in columns)
    return f"INSERT INTO [{table}] ({names}) VALUES ({', '.join('?' for _ in columns)})"


def _message_filter(
    status: DeliveryStatus | None, since: datetime | None
) -> tuple[str | None, list[Any]]:
    """The WHERE clause (or None) and parameters for listing messages."""
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(status.value)
    if since is not None:
        where.append("created_at >= ?")
        params.append(ts(since))
    return (" AND ".join(where) or None), params


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Store(ActionVerbs):
    """SQLite through sqlite-utils. One instance per process; not shared between threads."""

    def __init__(self, db: Database):
        self.db = db
        self._lists = ListsTable(db)
        self._optouts = OptOutsTable(db)

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if absent) and migrate; a corrupt or unwritable file is never replaced."""
        target = Path(path)
        if target.is_dir():
            raise StorageError(f"VIBER_BOT_DB: {target} is a directory, not a database file")
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(str(target), timeout=5.0)
            db = Database(conn)
            conn.execute("PRAGMA busy_timeout = 5000")
            # Before anything writes: a damaged page past the first tables would otherwise
            # pass start-up and fail mid-sweep. quick_check reads every page (~0.3 s / 150 MB).
            verdict = conn.execute("PRAGMA quick_check(1)").fetchone()
            if verdict is None or verdict[0] != "ok":
                problem = " ".join(str(verdict[0]).split()) if verdict else "no answer"
                raise sqlite3.DatabaseError(f"database disk image is malformed ({problem})")
            db.enable_wal()
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
            conn.execute("SELECT count(*) FROM sends").fetchone()
        except sqlite3.DatabaseError as error:
            if conn is not None:
                conn.close()
            reason = " ".join(str(error).split())  # one line, whatever SQLite said
            raise StorageError(f"VIBER_BOT_DB: cannot use {target}: {reason}") from None
        return cls(db)

    @classmethod
    def memory(cls) -> Store:
        db = Database(memory=True)
        db.conn.execute("PRAGMA foreign_keys = ON")
        migrations.apply(db)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction (nested calls become savepoints)."""
        conn = self.db.conn
        if not conn.in_transaction:
            with self.db.atomic():
                yield
            return
        # One savepoint name for every level (SQLite matches the innermost): a fixed statement
        # is prepared once, where sqlite-utils' random names are parsed on every call.
        conn.execute("SAVEPOINT store")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO SAVEPOINT store")
                conn.execute("RELEASE SAVEPOINT store")
            raise
        else:
            conn.execute("RELEASE SAVEPOINT store")

    def ping(self) -> None:
        self.db.conn.execute("SELECT 1").fetchone()

    # ------------------------------------------------------------ sends

    def add_send(
        self, new: NewSend, recipients: Sequence[NewRecipient], *, now: datetime
    ) -> tuple[Send, list[StoredMessage]]:
        """Store a submission and one message row per recipient, before BSG is called."""
        with self.atomic():
            if new.dedupe_key is not None:
                existing = self.find_send_by_dedupe(new.dedupe_key)
                if existing is not None:
                    raise DuplicateSubmission(existing)
            row = {
                "team_id": new.team_id,
                "channel_id": new.channel_id,
                "user_id": new.user_id,
                "text": new.text,
                "sender": new.sender,
                "options": json.dumps(new.options, sort_keys=True, default=str),
                "created_at": ts(now),
                "outcome": SendOutcome.PENDING.value,
                "source": new.source,
                "dedupe_key": new.dedupe_key,
                "response_url": new.response_url,
                "send_at": ts(new.send_at),
                "validity": new.validity,
            }
            send_id = self._insert("sends", row)
            self._insert_many(
                "messages",
                [
                    {
                        "send_id": send_id,
                        "reference": r.reference,
                        "msisdn": r.msisdn,
                        "status": DeliveryStatus.PENDING.value,
                        "created_at": ts(now),
                        "poll_count": 0,
                        "final": 0,
                        "text": r.text,
                        "sms_text": r.sms_text,
                    }
                    for r in recipients
                ],
            )
        return self.get_send(send_id), self.send_messages(send_id)

    def set_request_json(self, send_id: int, request_json: str) -> None:
        with self.atomic():
            self._update("sends", send_id, {"request_json": request_json})

    def get_send(self, send_id: int) -> Send:
        return self._send(self._get("sends", send_id))

    def find_send_by_dedupe(self, key: str) -> Send | None:
        rows = list(self._select("sends", "dedupe_key = ?", [key], limit=1))
        return self._send(rows[0]) if rows else None

    def set_send_outcome(
        self,
        send_id: int,
        outcome: SendOutcome,
        *,
        error_code: int | None = None,
        error_description: str | None = None,
    ) -> None:
        with self.atomic():
            self._update(
                "sends",
                send_id,
                {
                    "outcome": outcome.value,
                    "error_code": error_code,
                    "error_description": error_description,
                },
            )

    def set_parent_ts(self, send_id: int, parent_ts: str) -> None:
        with self.atomic():
            self._update("sends", send_id, {"parent_ts": parent_ts})

    def touch_send(self, send_ids: Sequence[int], now: datetime) -> None:
        with self.atomic():
            for send_id in send_ids:
                self._update("sends", send_id, {"last_checked_at": ts(now)})

    def recent_sends(self, limit: int = 10) -> list[Send]:
        rows = self._select("sends", order_by="id desc", limit=limit)
        return [self._send(row) for row in rows]

    def sends_since(self, since: datetime | None = None) -> Iterator[Send]:
        if since is None:
            rows = self._stream("sends", order_by="id")
        else:
            rows = self._stream("sends", "created_at >= ?", [ts(since)], order_by="id")
        for row in rows:
            yield self._send(row)

    def send_messages(self, send_id: int) -> list[StoredMessage]:
        rows = self._select("messages", "send_id = ?", [send_id], order_by="id")
        return [self._message(row) for row in rows]

    def status_counts(self, send_id: int) -> dict[DeliveryStatus, int]:
        sql = "SELECT status, count(*) FROM messages WHERE send_id = ? GROUP BY status"
        return {
            DeliveryStatus(status): count
            for status, count in self.db.execute(sql, [send_id]).fetchall()
        }

    # ------------------------------------------------------------ messages

    def get_message(self, message_id: int) -> StoredMessage:
        return self._message(self._get("messages", message_id))

    def find_message(self, token: str) -> StoredMessage | None:
        """A message by BSG id or by reference."""
        rows = list(
            self._select(
                "messages",
                "bsg_id = ? OR reference = ?",
                [token, token],
                order_by="id desc",
                limit=1,
            )
        )
        return self._message(rows[0]) if rows else None

    def record_acceptance(
        self,
        message_id: int,
        *,
        bsg_id: str,
        price: Decimal | None,
        currency: str | None,
        now: datetime,
        next_poll_at: datetime,
        expires_at: datetime,
        status: DeliveryStatus = DeliveryStatus.SENT,
    ) -> None:
        """BSG took the message: it has an id and joins the poller's schedule."""
        with self.atomic():
            self._update(
                "messages",
                message_id,
                {
                    "bsg_id": bsg_id,
                    "price": _dec(price),
                    "currency": currency,
                    "status": status.value,
                    "raw_status": None,
                    "next_poll_at": ts(next_poll_at),
                    "expires_at": ts(expires_at),
                    "last_change_at": ts(now),
                },
            )
            self._event(message_id, Channel.VIBER, status, None, now, None, price, currency)

    def record_refusal(
        self,
        message_id: int,
        *,
        status: DeliveryStatus,
        code: int | None,
        description: str | None,
        now: datetime,
    ) -> None:
        """BSG refused the message (or never took it): final, never polled."""
        with self.atomic():
            self._update(
                "messages",
                message_id,
                {
                    "status": status.value,
                    "error_code": code,
                    "error_description": description,
                    "final": 1,
                    "next_poll_at": None,
                    "last_change_at": ts(now),
                },
            )
            self._event(message_id, Channel.VIBER, status, None, now, None, None, None)

    def due_for_poll(self, now: datetime, limit: int = 1000) -> list[StoredMessage]:
        """Messages whose next look is due, oldest due first (uses the final/next_poll_at index)."""
        rows = self.db.query(
            "SELECT * FROM messages WHERE final = 0 AND next_poll_at <= ? "
            "ORDER BY next_poll_at LIMIT ?",
            [ts(now), limit],
        )
        return [self._message(row) for row in rows]

    def count_due(self, now: datetime) -> int:
        sql = "SELECT count(*) FROM messages WHERE final = 0 AND next_poll_at <= ?"
        return self.db.execute(sql, [ts(now)]).fetchone()[0]

    def unconfirmed(self, created_before: datetime) -> list[StoredMessage]:
        """Messages BSG's answer never confirmed (no id yet), older than the cutoff."""
        rows = self.db.query(
            "SELECT * FROM messages WHERE final = 0 AND bsg_id IS NULL AND status = ? "
            "AND created_at <= ? ORDER BY id",
            [DeliveryStatus.PENDING.value, ts(created_before)],
        )
        return [self._message(row) for row in rows]

    def record_poll(
        self,
        message: StoredMessage,
        seen: MessageStatus | None,
        *,
        now: datetime,
        next_poll_at: datetime | None,
        final: bool,
        forced_status: DeliveryStatus | None = None,
    ) -> list[Change]:
        """Store what a poll saw; returns the changes (one status_event each)."""
        update: dict[str, Any] = {
            "last_polled_at": ts(now),
            "poll_count": message.poll_count + 1,
            "next_poll_at": None if final else ts(next_poll_at),
            "final": 1 if final else 0,
        }
        new_status = forced_status
        raw = None
        if seen is not None:
            new_status = new_status or seen.status
            raw = seen.raw_status
            for key in ("time_in", "time_sent", "time_dr"):
                if getattr(seen, key) is not None:
                    update[key] = ts(getattr(seen, key))
            if seen.price is not None:
                update["price"] = _dec(seen.price)
                update["currency"] = seen.currency or message.currency
            if seen.bsg_id and not message.bsg_id:
                update["bsg_id"] = seen.bsg_id
        viber_changed = new_status is not None and new_status != message.status
        if new_status is not None and (viber_changed or (raw and raw != message.raw_status)):
            update["status"] = new_status.value
            update["raw_status"] = raw
        sms = seen.sms if seen is not None else None
        sms_changed = sms is not None and sms.status != message.sms_status
        if sms is not None:
            update["sms_id"] = sms.bsg_id or message.sms_id
            if sms.price is not None:
                update["sms_price"] = _dec(sms.price)
                update["sms_currency"] = sms.currency or seen.currency
            if sms_changed:
                update["sms_status"] = sms.status.value
        if not (viber_changed or sms_changed):
            # Most polls see nothing new: one statement, no savepoint inside the sweep's
            # transaction (outside one, still committed like every other write).
            if self.db.conn.in_transaction:
                self._update("messages", message.id, update)
            else:
                with self.atomic():
                    self._update("messages", message.id, update)
            return []
        update["last_change_at"] = ts(now)
        with self.atomic():
            events: list[StatusEvent] = []
            if viber_changed:
                events.append(
                    self._event(
                        message.id,
                        Channel.VIBER,
                        new_status,
                        raw,
                        now,
                        seen.time_dr if seen is not None else None,
                        seen.price if seen else None,
                        seen.currency if seen else None,
                    )
                )
            if sms_changed:
                events.append(
                    self._event(
                        message.id,
                        Channel.SMS,
                        sms.status,
                        sms.raw_status,
                        now,
                        sms.time_dr,
                        sms.price,
                        sms.currency,
                    )
                )
            self._update("messages", message.id, update)
        fresh = self.get_message(message.id)
        return [
            Change(
                fresh,
                event,
                message.status if event.channel == Channel.VIBER else message.sms_status,
            )
            for event in events
        ]

    def reschedule(self, message_id: int, next_poll_at: datetime) -> None:
        """Put off a message's next look (after BSG failed to answer)."""
        with self.atomic():
            self._update("messages", message_id, {"next_poll_at": ts(next_poll_at)})

    def history(self, message_id: int) -> list[StatusEvent]:
        rows = self._select("status_events", "message_id = ?", [message_id], order_by="id")
        return [StatusEvent.model_validate(row) for row in rows]

    def messages(
        self,
        *,
        status: DeliveryStatus | None = None,
        since: datetime | None = None,
        latest: int | None = None,
    ) -> Iterator[StoredMessage]:
        """Messages in id order; with `latest`, only the newest that many (still in id order)."""
        clause, params = _message_filter(status, since)
        if latest:
            newest = self._select("messages", clause, params, order_by="id desc", limit=latest)
            rows: Iterable[dict[str, Any]] = reversed(newest)
        else:
            rows = self._stream("messages", clause, params, order_by="id")
        for row in rows:
            yield self._message(row)

    def count_messages(
        self, *, status: DeliveryStatus | None = None, since: datetime | None = None
    ) -> int:
        clause, params = _message_filter(status, since)
        return self.db["messages"].count_where(clause or "1", params)

    # ------------------------------------------------------------ outbox

    def enqueue(
        self,
        *,
        channel_id: str,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        send_id: int | None = None,
    ) -> int:
        """Queue a Slack post; call inside the transaction that made the change it announces."""
        with self.atomic():
            return self._insert(
                "outbox",
                {
                    "send_id": send_id,
                    "channel_id": channel_id,
                    "kind": kind,
                    "payload": json.dumps(payload, default=str),
                    "state": "pending",
                    "attempts": 0,
                    "created_at": ts(now),
                    "next_attempt_at": ts(now),
                },
            )

    def has_pending(self, send_id: int, kind: str) -> bool:
        """A row of this kind is queued and not yet under way (one in flight may be stale)."""
        row = self.db.execute(
            "SELECT 1 FROM outbox WHERE send_id = ? AND kind = ? AND state = 'pending' "
            "AND in_flight = 0 LIMIT 1",
            [send_id, kind],
        ).fetchone()
        return row is not None

    def has_outbox(self, send_id: int, kind: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM outbox WHERE send_id = ? AND kind = ? LIMIT 1", [send_id, kind]
        ).fetchone()
        return row is not None

    def last_parent_render(self, send_id: int) -> datetime | None:
        """When the parent message was last queued for posting or updating."""
        row = self.db.execute(
            "SELECT max(created_at) FROM outbox WHERE send_id = ? AND kind IN ('parent', 'update')",
            [send_id],
        ).fetchone()
        return _parse_dt(row[0]) if row else None

    def pending_outbox(self, limit: int = 500) -> list[OutboxItem]:
        """The next post of each lane, in id order: the oldest pending row per channel (posts
        in a channel go in order) and every pending private answer (they need no order)."""
        rows = self._select(
            "outbox",
            "state = 'pending' AND (kind = 'ephemeral' OR id IN ("
            "SELECT min(id) FROM outbox WHERE state = 'pending' AND kind != 'ephemeral' "
            "GROUP BY channel_id))",
            limit=limit,
        )
        return [self._outbox(row) for row in rows]

    def get_outbox(self, item_id: int) -> OutboxItem:
        return self._outbox(self._get("outbox", item_id))

    def outbox_attempt(self, item_id: int) -> None:
        """Mark a post as under way before it is made, so a crash mid-post is known on restart."""
        with self.atomic():
            self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, in_flight = 1 WHERE id = ?", [item_id]
            )

    def outbox_done(self, item_id: int, posted_ts: str | None) -> None:
        with self.atomic():
            self._update(
                "outbox",
                item_id,
                {"state": "done", "posted_ts": posted_ts, "last_error": None, "in_flight": 0},
            )

    def outbox_retry_later(self, item_id: int, *, at: datetime, error: str) -> None:
        """Slack answered (not ok): the post certainly did not land; try again at `at`."""
        with self.atomic():
            self._update(
                "outbox", item_id, {"next_attempt_at": ts(at), "last_error": error, "in_flight": 0}
            )

    def outbox_uncertain(self, item_id: int, *, at: datetime, error: str) -> None:
        """No answer from Slack: the post may have landed; look for it before posting again."""
        with self.atomic():
            self._update(
                "outbox", item_id, {"next_attempt_at": ts(at), "last_error": error, "in_flight": 1}
            )

    def outbox_dead(self, item_id: int, error: str) -> None:
        with self.atomic():
            self._update("outbox", item_id, {"state": "dead", "last_error": error, "in_flight": 0})

    def outbox_failed(self, item_id: int, *, at: datetime, error: str, count: bool = True) -> int:
        """A try that failed for a reason of ours (not Slack's): counted as an attempt (unless
        `count` is False: it was counted when the post was marked under way), tried again at
        `at`; in_flight stays as it was, since the post may have landed before the failure.
        Returns the attempts so far."""
        with self.atomic():
            self.db.execute(
                "UPDATE outbox SET attempts = attempts + ?, next_attempt_at = ?, last_error = ? "
                "WHERE id = ?",
                [1 if count else 0, ts(at), error, item_id],
            )
            row = self.db.execute("SELECT attempts FROM outbox WHERE id = ?", [item_id]).fetchone()
        return int(row[0]) if row else 0

    def outbox_dead_count(self) -> int:
        """Rows set aside as dead: posts that will never be made."""
        return int(
            self.db.execute("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()[0]
        )

    def outbox_dead_rows(self, limit: int = 5) -> list[OutboxItem]:
        """The latest rows set aside as dead, newest first."""
        rows = self._select("outbox", "state = 'dead'", order_by="id DESC", limit=limit)
        return [self._outbox(row) for row in rows]

    def outbox_depth(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]

    def outbox_items(self, send_id: int | None = None) -> list[OutboxItem]:
        if send_id is None:
            rows = self._select("outbox", order_by="id")
        else:
            rows = self._select("outbox", "send_id = ?", [send_id], order_by="id")
        return [self._outbox(row) for row in rows]

    # ------------------------------------------------------------ audit & quota

    def audit(
        self,
        *,
        action: str,
        outcome: str,
        now: datetime,
        user_id: str | None = None,
        channel_id: str | None = None,
        team_id: str | None = None,
        send_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self.atomic():
            self._insert(
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

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._select("audit", order_by="id desc", limit=limit)
        return [dict(row, detail=json.loads(row["detail"] or "{}")) for row in rows]

    def recipients_sent_by(self, user_id: str, since: datetime) -> int:
        """Recipients a user submitted since a moment (refused and not-sent ones excluded)."""
        sql = (
            "SELECT count(*) FROM messages m JOIN sends s ON s.id = m.send_id "
            "WHERE s.user_id = ? AND s.created_at >= ? AND m.status NOT IN (?, ?)"
        )
        params = [
            user_id,
            ts(since),
            DeliveryStatus.REFUSED.value,
            DeliveryStatus.NOT_SENT.value,
        ]
        return self.db.execute(sql, params).fetchone()[0]

    # ------------------------------------------------------------ lists (storage/lists.py)

    def list_add(
        self, name: str, msisdns: Sequence[str], *, user_id: str | None, now: datetime
    ) -> ListEdit:
        """Add numbers to a list (created if new), audited in the same transaction."""
        with self.atomic():
            edit = self._lists.add(name, msisdns, user_id=user_id, now=now)
            self._audit_audience("list_add", user_id, now, list=name, added=edit.changed)
        return edit

    def list_remove(
        self, name: str, msisdns: Sequence[str], *, user_id: str | None, now: datetime
    ) -> ListEdit | None:
        """Remove numbers from a list; None when there is no such list."""
        with self.atomic():
            edit = self._lists.remove(name, msisdns)
            if edit is not None:
                self._audit_audience("list_remove", user_id, now, list=name, removed=edit.changed)
        return edit

    def list_delete(self, name: str, *, user_id: str | None, now: datetime) -> int | None:
        """Delete a list; the size it had, or None when there is no such list."""
        with self.atomic():
            size = self._lists.delete(name)
            if size is not None:
                self._audit_audience("list_delete", user_id, now, list=name, size=size)
        return size

    def list_members(self, name: str) -> list[ListMember] | None:
        return self._lists.members(name)

    def list_numbers(self, names: Sequence[str]) -> dict[str, list[str]]:
        """The numbers of each named list that exists (unknown names left out)."""
        return self._lists.numbers(names)

    def list_sizes(self) -> list[tuple[str, int]]:
        return self._lists.sizes()

    # ------------------------------------------------------------ opt-outs (storage/optouts.py)

    def opt_out(
        self,
        msisdns: Sequence[str],
        *,
        user_id: str | None,
        reason: str | None,
        now: datetime,
        source: str = "command",
    ) -> int:
        """Opt numbers out (audited with who, when and why); how many were not out already."""
        with self.atomic():
            added = self._optouts.add(
                msisdns, user_id=user_id, reason=reason, source=source, now=now
            )
            self._audit_audience(
                "optout",
                user_id,
                now,
                numbers=len(msisdns),
                added=added,
                reason=reason,
                source=source,
            )
        return added

    def opt_in(self, msisdns: Sequence[str], *, user_id: str | None, now: datetime) -> int:
        """Take numbers off the opt-out list (audited); how many were on it."""
        with self.atomic():
            removed = self._optouts.remove(msisdns)
            self._audit_audience("optin", user_id, now, numbers=len(msisdns), removed=removed)
        return removed

    def opted_out_among(self, msisdns: Iterable[str]) -> set[str]:
        """Which of these numbers are opted out (read inside the send's transaction)."""
        return self._optouts.among(msisdns)

    def optout_count(self) -> int:
        return self._optouts.count()

    def latest_optouts(self, limit: int = 20) -> list[OptOut]:
        return self._optouts.latest(limit)

    def every_optout(self) -> Iterator[OptOut]:
        return self._optouts.every()

    def _audit_audience(
        self, action: str, user_id: str | None, now: datetime, **detail: object
    ) -> None:
        self.audit(action=action, outcome="done", now=now, user_id=user_id, detail=detail)

    # ------------------------------------------------------------ sweeps

    def record_sweep(
        self,
        *,
        started_at: datetime,
        finished_at: datetime,
        checked: int,
        changed: int,
        errors: int,
        last_error: str | None,
    ) -> None:
        with self.atomic():
            self._insert(
                "sweeps",
                {
                    "started_at": ts(started_at),
                    "finished_at": ts(finished_at),
                    "checked": checked,
                    "changed": changed,
                    "errors": errors,
                    "last_error": last_error,
                },
            )
            # Keep the table small: the last thousand sweeps are plenty for health.
            self.db.execute("DELETE FROM sweeps WHERE id <= (SELECT max(id) FROM sweeps) - 1000")

    # ------------------------------------------------------------ delivery callbacks

    def callback_secret(self, now: datetime) -> str:
        """The callback tokens' secret kept in the database, generated once on first use."""
        return callback_table.callback_secret(self.db, now)

    def stored_callback_secret(self) -> str | None:
        """The secret kept in the database, or None before the bot made one."""
        return callback_table.stored_callback_secret(self.db)

    def message_by_reference(self, reference: str) -> StoredMessage | None:
        rows = self._select("messages", "reference = ?", [reference], limit=1)
        return self._message(rows[0]) if rows else None

    def add_callback_bodies(self, bodies: list[CallbackBody]) -> None:
        with self.atomic():
            callback_table.add_callback_bodies(self.db, bodies)

    def callback_bodies(self, message_id: int, limit: int = 50) -> list[CallbackBody]:
        """The latest callbacks received for a message, oldest first."""
        return callback_table.callback_bodies(self.db, message_id, limit)

    def recent_sweeps(self, limit: int = 10) -> list[SweepRecord]:
        rows = self._select("sweeps", order_by="id desc", limit=limit)
        return [
            SweepRecord(
                started_at=datetime.fromisoformat(row["started_at"]),
                finished_at=_parse_dt(row["finished_at"]),
                checked=row["checked"],
                changed=row["changed"],
                errors=row["errors"],
                last_error=row["last_error"],
            )
            for row in rows
        ]

    # ------------------------------------------------------------ rows -> models

    def _event(
        self,
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
            "price": _dec(price),
            "currency": currency,
        }
        event_id = self._insert("status_events", row)
        return StatusEvent.model_validate(dict(row, id=event_id))

    # sqlite-utils' Table.get/update/insert read the table's schema (and update re-reads the
    # row) on every call: most of a sweep's write time. The poller's path uses plain SQL.

    def _get(self, table: str, row_id: int) -> dict[str, Any]:
        cursor = self.db.execute(f"SELECT * FROM [{table}] WHERE id = ?", [row_id])
        row = cursor.fetchone()
        if row is None:
            raise NotFoundError
        return dict(zip([c[0] for c in cursor.description], row, strict=True))

    def _update(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        sql = _update_sql(table, tuple(values))
        if self.db.execute(sql, [*values.values(), row_id]).rowcount == 0:
            raise NotFoundError

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        cursor = self.db.execute(_insert_sql(table, tuple(row)), list(row.values()))
        return cursor.lastrowid or 0

    def _insert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            columns = tuple(rows[0])
            self.db.conn.executemany(
                _insert_sql(table, columns), [[row[c] for c in columns] for row in rows]
            )

    def _select(
        self,
        table: str,
        where: str | None = None,
        params: Sequence[Any] = (),
        *,
        order_by: str = "id",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows as dicts, in plain SQL (sqlite-utils re-reads the schema on every call)."""
        return list(self._stream(table, where, params, order_by=order_by, limit=limit))

    def _stream(
        self,
        table: str,
        where: str | None = None,
        params: Sequence[Any] = (),
        *,
        order_by: str = "id",
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Like _select, one row at a time (exports of every message stay small in memory)."""
        sql = f"SELECT * FROM [{table}]"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cursor = self.db.execute(sql, list(params))
        names = [c[0] for c in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    @staticmethod
    def _send(row: dict[str, Any]) -> Send:
        return Send.model_validate(dict(row, options=json.loads(row["options"] or "{}")))

    @staticmethod
    def _message(row: dict[str, Any]) -> StoredMessage:
        return StoredMessage.model_validate(row)

    @staticmethod
    def _outbox(row: dict[str, Any]) -> OutboxItem:
        return OutboxItem(
            id=row["id"],
            send_id=row["send_id"],
            channel_id=row["channel_id"],
            kind=row["kind"],
            payload=json.loads(row["payload"]),
            state=row["state"],
            attempts=row["attempts"],
            in_flight=bool(row["in_flight"]),
            next_attempt_at=_parse_dt(row["next_attempt_at"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            posted_ts=row["posted_ts"],
            last_error=row.get("last_error"),
        )
