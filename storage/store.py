"""The Store: every read and write viber-bot makes, as async verbs returning domain models.

The SQL lives in one module per table (storage.sends, messages, history, outbox, audit,
sweeps), written once for every backend (storage.backend). This module is long by design and
has one subject, the facade: one short verb per thing callers do (open the transaction or
join it, call the table module), grouped by table, so that every caller finds every verb on
one object and the transaction rule is written once (`atomic`, `_write`, `_read`)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bot.domain.models import (
    DeliveryStatus,
    DueMessage,
    MessageStatus,
    PolledMessage,
    Send,
    SendOutcome,
    StatusEvent,
    StoredMessage,
)
from storage import audit, history, lists, messages, optouts, outbox, sends, submissions, sweeps
from storage import callbacks as callback_table
from storage.actions import ActionVerbs
from storage.backend import Backend, Connection
from storage.callbacks import CallbackBody
from storage.lists import ListEdit, ListMember
from storage.optouts import OptOut
from storage.records import (
    Acceptance,
    Change,
    Conflict,
    DuplicateSubmission,
    NewRecipient,
    NewSend,
    NotFound,
    OutboxItem,
    Poll,
    SweepRecord,
    ts,
)
from storage.submissions import Submission

__all__ = [
    "Acceptance",
    "Change",
    "DuplicateSubmission",
    "NewRecipient",
    "NewSend",
    "NotFound",
    "OutboxItem",
    "Poll",
    "Store",
    "Submission",
    "SweepRecord",
    "ts",
]


T = TypeVar("T")


class _Tx:
    """The transaction a task has open: its connection, for the verbs it calls meanwhile."""

    __slots__ = ("conn", "open", "task")

    def __init__(self, conn: Connection, *, pinned: bool = False):
        self.conn = conn
        # A store bound to one step (Store.in_one_step) runs off the loop, with no task.
        self.task = None if pinned else asyncio.current_task()
        self.open = True


class Store(ActionVerbs):
    """The facade over one backend. One instance per process; share it between tasks.

    A verb called inside `async with store.atomic()` joins that transaction (in the task that
    opened it); outside one, a write is its own short transaction and a read uses the
    backend's read connection."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self._tx: ContextVar[_Tx | None] = ContextVar(f"store-tx-{id(self)}", default=None)
        self._pinned: _Tx | None = None  # set on a copy bound to one step (in_one_step)

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | Path, *, pool_size: int = 10, applied_by: str = "") -> Store:
        """Open (creating if absent) and migrate a SQLite file; a corrupt or unwritable file
        is never replaced. A postgresql:// URL opens that database instead (migrated by one
        replica at a time; `pool_size` connections). Synchronous: start-up, before the loop
        serves anything."""
        if isinstance(path, str) and path.lower().startswith(("postgresql://", "postgres://")):
            from storage.postgres import PostgresBackend

            return cls(PostgresBackend.open(path, pool_size=pool_size, applied_by=applied_by))
        from storage.sqlite import SqliteBackend

        return cls(SqliteBackend.open(path))

    @classmethod
    def memory(cls) -> Store:
        """A throw-away database (a temporary SQLite file, removed on close)."""
        from storage.sqlite import SqliteBackend

        return cls(SqliteBackend.temporary())

    async def close(self) -> None:
        await self.backend.close()

    def _current(self) -> _Tx | None:
        if self._pinned is not None:
            return self._pinned
        tx = self._tx.get()
        if tx is not None and tx.open and tx.task is asyncio.current_task():
            return tx
        return None

    async def in_one_step(self, work: Callable[[Store], Awaitable[T]]) -> T:
        """`work` as one transaction, given this store bound to it: on SQLite one trip to the
        writer's thread however many statements it makes, instead of a trip (and a turn of a
        busy event loop) per statement while the write lock is held. `work` may await only
        the bound store's verbs (and code that awaits nothing else); inside a transaction
        already open it runs as a savepoint of it. Never reach the unbound store from `work`:
        on SQLite that raises (the step runs off the loop), on PostgreSQL it would wait for
        ever on the write lock the step holds."""
        if self._current() is not None:
            async with self.atomic():
                return await work(self)
        return await self.backend.in_one_step(lambda conn: work(self._bound_to(conn)))

    def _bound_to(self, conn: Connection) -> Store:
        bound = copy.copy(self)
        bound._pinned = _Tx(conn, pinned=True)
        return bound

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[Connection]:
        """One transaction (nested calls become savepoints)."""
        tx = self._current()
        if tx is not None:
            # One savepoint name for every level (SQL matches the innermost).
            await tx.conn.execute("SAVEPOINT store")
            try:
                yield tx.conn
            except BaseException:
                await tx.conn.execute("ROLLBACK TO SAVEPOINT store")
                await tx.conn.execute("RELEASE SAVEPOINT store")
                raise
            await tx.conn.execute("RELEASE SAVEPOINT store")
            return
        async with self.backend.transaction() as conn:
            tx = _Tx(conn)
            token = self._tx.set(tx)
            try:
                yield conn
            finally:
                tx.open = False
                self._tx.reset(token)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Connection]:
        """The open transaction as it is (a single statement needs no savepoint), or a new one."""
        tx = self._current()
        if tx is not None:
            yield tx.conn
            return
        async with self.atomic() as conn:
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        """The open transaction (it sees its own writes), or the backend's read connection."""
        tx = self._current()
        if tx is not None:
            yield tx.conn
            return
        async with self.backend.read() as conn:
            yield conn

    async def ping(self) -> None:
        await self.backend.ping()

    # ------------------------------------------------------------ sends

    async def add_send(
        self,
        new: NewSend,
        recipients: Sequence[NewRecipient],
        *,
        now: datetime,
        read_back: bool = True,
    ) -> tuple[Send, list[StoredMessage]]:
        """Store a submission and one message row per recipient, before BSG is called.

        `read_back=False` returns no messages: a 10,000-recipient submission need not read
        them all back before Slack's 3-second answer.
        """
        try:
            async with self.atomic() as db:
                if new.dedupe_key is not None:
                    existing = await sends.by_dedupe(db, new.dedupe_key)
                    if existing is not None:
                        raise DuplicateSubmission(existing)
                send_id = await sends.add(db, new, now=now)
                await messages.add_many(db, send_id, recipients, now)
                stored = await messages.of_send(db, send_id) if read_back else []
            return await sends.get(db, send_id), stored
        except Conflict:
            # Another replica stored the same submission between our look and our insert.
            existing = await self.find_send_by_dedupe(new.dedupe_key) if new.dedupe_key else None
            if existing is None:
                raise
            raise DuplicateSubmission(existing) from None

    async def add_submission(
        self, msisdns: Sequence[str], plan: submissions.SubmissionPlan, *, now: datetime
    ) -> Send | None:
        """Store a submission whole, before BSG is called: which of `msisdns` opted out is read
        inside its transaction, `plan` says what to store given those (None: nothing), and the
        send, its messages, request body and audit row are written (storage/submissions.py).
        One trip to SQLite's writer thread, however many statements. Returns the stored send;
        raises DuplicateSubmission as add_send does."""
        planned: list[submissions.Submission] = []

        def remembered(opted_out: set[str]) -> submissions.Submission | None:
            submission = plan(opted_out)
            if submission is not None:
                planned.append(submission)
            return submission

        work = partial(submissions.add, msisdns=msisdns, plan=remembered, now=now)
        try:
            if self._current() is not None:  # inside the caller's transaction: a savepoint
                async with self.atomic() as db:
                    return await work(db)
            return await self.backend.in_one_step(work)
        except Conflict:
            # Another replica stored the same submission between our look and our insert.
            key = planned[-1].send.dedupe_key if planned else None
            existing = await self.find_send_by_dedupe(key) if key else None
            if existing is None:
                raise
            raise DuplicateSubmission(existing) from None

    async def set_request_json(self, send_id: int, request_json: str) -> None:
        async with self._write() as db:
            await sends.update(db, send_id, {"request_json": request_json})

    async def get_send(self, send_id: int) -> Send:
        async with self._read() as db:
            return await sends.get(db, send_id)

    async def find_send_by_dedupe(self, key: str) -> Send | None:
        async with self._read() as db:
            return await sends.by_dedupe(db, key)

    async def set_send_outcome(
        self,
        send_id: int,
        outcome: SendOutcome,
        *,
        error_code: int | None = None,
        error_description: str | None = None,
    ) -> None:
        async with self._write() as db:
            await sends.update(
                db,
                send_id,
                {
                    "outcome": outcome.value,
                    "error_code": error_code,
                    "error_description": error_description,
                },
            )

    async def set_parent_ts(self, send_id: int, parent_ts: str) -> None:
        async with self._write() as db:
            await sends.update(db, send_id, {"parent_ts": parent_ts})

    async def touch_send(self, send_ids: Sequence[int], now: datetime) -> None:
        async with self._write() as db:
            await sends.touch(db, send_ids, now)

    async def recent_sends(self, limit: int = 10) -> list[Send]:
        async with self._read() as db:
            return await sends.recent(db, limit)

    async def sends_since(self, since: datetime | None = None) -> AsyncIterator[Send]:
        async with self._read() as db:
            async for send in sends.since(db, since):
                yield send

    async def send_messages(self, send_id: int) -> list[StoredMessage]:
        async with self._read() as db:
            return await messages.of_send(db, send_id)

    async def status_counts(self, send_id: int) -> dict[DeliveryStatus, int]:
        async with self._read() as db:
            return await sends.status_counts(db, send_id)

    # ------------------------------------------------------------ messages

    async def get_message(self, message_id: int) -> StoredMessage:
        async with self._read() as db:
            return await messages.get(db, message_id)

    async def find_message(self, token: str) -> StoredMessage | None:
        """A message by BSG id or by reference."""
        async with self._read() as db:
            return await messages.find(db, token)

    async def record_acceptance(
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
        async with self.atomic() as db:
            await messages.record_acceptance(
                db,
                message_id,
                bsg_id=bsg_id,
                price=price,
                currency=currency,
                now=now,
                next_poll_at=next_poll_at,
                expires_at=expires_at,
                status=status,
            )

    async def record_acceptances(self, accepted: Sequence[Acceptance], *, now: datetime) -> None:
        """Many acceptances at once (one create's answer): the same rows as record_acceptance."""
        if accepted:
            async with self.atomic() as db:
                await messages.record_acceptances(db, accepted, now)

    async def record_refusal(
        self,
        message_id: int,
        *,
        status: DeliveryStatus,
        code: int | None,
        description: str | None,
        now: datetime,
    ) -> None:
        """BSG refused the message (or never took it): final, never polled."""
        async with self.atomic() as db:
            await messages.record_refusal(
                db, message_id, status=status, code=code, description=description, now=now
            )

    async def due_for_poll(self, now: datetime, limit: int = 1000) -> list[DueMessage]:
        """Messages whose next look is due, as a poll reads them (DueMessage: not whole rows),
        oldest due first (uses the final/next_poll_at index)."""
        async with self._read() as db:
            return await messages.due(db, now, limit)

    async def due_ids(self, now: datetime, limit: int = 1000) -> list[tuple[int, int]]:
        """(id, send id) of the messages `due_for_poll` would return, in its order."""
        async with self._read() as db:
            return await messages.due_ids(db, now, limit)

    async def messages_by_id(self, ids: Sequence[int]) -> list[StoredMessage]:
        """These messages, in the order asked (a missing id is left out)."""
        async with self._read() as db:
            return await messages.by_ids(db, ids)

    async def due_by_id(self, ids: Sequence[int], now: datetime) -> list[DueMessage]:
        """Those of these messages still due at `now`, as a poll reads them (DueMessage), in
        the order asked: a sweep's page of the ids `due_ids` gave."""
        async with self._read() as db:
            return await messages.due_by_ids(db, ids, now)

    async def count_due(self, now: datetime) -> int:
        async with self._read() as db:
            return await messages.count_due(db, now)

    async def unconfirmed(self, created_before: datetime) -> list[StoredMessage]:
        """Messages BSG's answer never confirmed (no id yet), older than the cutoff."""
        async with self._read() as db:
            return await messages.unconfirmed(db, created_before)

    async def record_poll(
        self,
        message: PolledMessage,
        seen: MessageStatus | None,
        *,
        now: datetime,
        next_poll_at: datetime | None,
        final: bool,
        forced_status: DeliveryStatus | None = None,
    ) -> list[Change]:
        """Store what a poll saw; returns the changes (one status_event each)."""
        async with self.atomic() as db:
            return await messages.record_poll(
                db,
                message,
                seen,
                now=now,
                next_poll_at=next_poll_at,
                final=final,
                forced_status=forced_status,
            )

    async def record_polls(self, polls: Sequence[Poll], *, now: datetime) -> list[Change]:
        """Store what many polls saw in a few batched statements (a sweep's page of answers);
        returns the changes (one status_event each), in the order of `polls`."""
        if not polls:
            return []
        async with self.atomic() as db:
            return await messages.record_polls(db, polls, now=now)

    async def reschedule_many(self, looks: Sequence[tuple[int, datetime]]) -> None:
        """Put off many messages' next looks (message id, next look) in one statement."""
        if looks:
            async with self._write() as db:
                await messages.reschedule_many(db, looks)

    async def reschedule(self, message_id: int, next_poll_at: datetime) -> None:
        """Put off a message's next look (after BSG failed to answer)."""
        async with self._write() as db:
            await messages.update(db, message_id, {"next_poll_at": ts(next_poll_at)})

    async def history(self, message_id: int) -> list[StatusEvent]:
        async with self._read() as db:
            return await history.of_message(db, message_id)

    async def messages(
        self,
        *,
        status: DeliveryStatus | None = None,
        since: datetime | None = None,
        latest: int | None = None,
    ) -> AsyncIterator[StoredMessage]:
        """Messages in id order; with `latest`, only the newest that many (still in id order)."""
        async with self._read() as db:
            async for message in messages.listing(db, status=status, since=since, latest=latest):
                yield message

    async def count_messages(
        self, *, status: DeliveryStatus | None = None, since: datetime | None = None
    ) -> int:
        async with self._read() as db:
            return await messages.count(db, status=status, since=since)

    # ------------------------------------------------------------ outbox

    async def enqueue(
        self,
        *,
        channel_id: str,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        send_id: int | None = None,
    ) -> int:
        """Queue a Slack post; call inside the transaction that made the change it announces."""
        async with self._write() as db:
            return await outbox.enqueue(
                db, channel_id=channel_id, kind=kind, payload=payload, now=now, send_id=send_id
            )

    async def has_pending(self, send_id: int, kind: str) -> bool:
        """A row of this kind is queued and not yet under way (one in flight may be stale).

        Inside a transaction on PostgreSQL the row found is held until it commits: another
        replica's outbox cannot mark it under way and render it without this transaction's
        changes, and a row that outbox is marking already is not found, so the caller queues
        one more. Call it after the transaction's last row update: its holding must wait for
        nothing, as the outbox's marks waiting for it may hold rows."""
        hold = self.backend.row_locks and self._current() is not None
        async with self._read() as db:
            return await outbox.has_pending(db, send_id, kind, hold=hold)

    async def has_outbox(self, send_id: int, kind: str) -> bool:
        async with self._read() as db:
            return await outbox.has_any(db, send_id, kind)

    async def last_parent_render(self, send_id: int) -> datetime | None:
        """When the parent message was last queued for posting or updating."""
        async with self._read() as db:
            return await outbox.last_parent_render(db, send_id)

    async def pending_outbox(self, limit: int = 500) -> list[OutboxItem]:
        """The next post of each lane (see storage.outbox.pending)."""
        async with self._read() as db:
            return await outbox.pending(db, limit)

    async def get_outbox(self, item_id: int) -> OutboxItem:
        async with self._read() as db:
            return await outbox.get(db, item_id)

    async def outbox_attempt(self, item_id: int) -> None:
        """Mark a post as under way before it is made, so a crash mid-post is known on restart."""
        async with self._write() as db:
            await outbox.attempt(db, item_id)

    async def outbox_done(self, item_id: int, posted_ts: str | None) -> None:
        async with self._write() as db:
            await outbox.update(
                db,
                item_id,
                {"state": "done", "posted_ts": posted_ts, "last_error": None, "in_flight": 0},
            )

    async def outbox_retry_later(self, item_id: int, *, at: datetime, error: str) -> None:
        """Slack answered (not ok): the post certainly did not land; try again at `at`."""
        async with self._write() as db:
            await outbox.update(
                db, item_id, {"next_attempt_at": ts(at), "last_error": error, "in_flight": 0}
            )

    async def outbox_uncertain(self, item_id: int, *, at: datetime, error: str) -> None:
        """No answer from Slack: the post may have landed; look for it before posting again."""
        async with self._write() as db:
            await outbox.update(
                db, item_id, {"next_attempt_at": ts(at), "last_error": error, "in_flight": 1}
            )

    async def outbox_dead(self, item_id: int, error: str) -> None:
        async with self._write() as db:
            await outbox.update(db, item_id, {"state": "dead", "last_error": error, "in_flight": 0})

    async def outbox_failed(
        self, item_id: int, *, at: datetime, error: str, count: bool = True
    ) -> int:
        """A try that failed for a reason of ours (not Slack's): counted as an attempt (unless
        `count` is False: it was counted when the post was marked under way), tried again at
        `at`; in_flight stays as it was, since the post may have landed before the failure.
        Returns the attempts so far."""
        async with self.atomic() as db:
            return await outbox.failed(db, item_id, at=at, error=error, count=count)

    async def outbox_dead_count(self) -> int:
        """Rows set aside as dead: posts that will never be made."""
        async with self._read() as db:
            return await outbox.dead_count(db)

    async def outbox_dead_rows(self, limit: int = 5) -> list[OutboxItem]:
        """The latest rows set aside as dead, newest first."""
        async with self._read() as db:
            return await outbox.dead_rows(db, limit)

    async def outbox_depth(self) -> int:
        async with self._read() as db:
            return await outbox.depth(db)

    async def outbox_items(self, send_id: int | None = None) -> list[OutboxItem]:
        async with self._read() as db:
            return await outbox.items(db, send_id)

    # ------------------------------------------------------------ audit & quota

    async def audit(
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
        async with self._write() as db:
            await audit.add(
                db,
                action=action,
                outcome=outcome,
                now=now,
                user_id=user_id,
                channel_id=channel_id,
                team_id=team_id,
                send_id=send_id,
                detail=detail,
            )

    async def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self._read() as db:
            return await audit.log(db, limit)

    async def recipients_sent_by(self, user_id: str, since: datetime) -> int:
        """Recipients a user submitted since a moment (refused and not-sent ones excluded)."""
        async with self._read() as db:
            return await sends.recipients_sent_by(db, user_id, since)

    # ------------------------------------------------------------ lists (storage/lists.py)

    async def list_add(
        self, name: str, msisdns: Sequence[str], *, user_id: str | None, now: datetime
    ) -> ListEdit:
        """Add numbers to a list (created if new), audited in the same transaction."""
        async with self.atomic() as db:
            edit = await lists.add(db, name, msisdns, user_id=user_id, now=now)
            await self._audit_audience("list_add", user_id, now, list=name, added=edit.changed)
        return edit

    async def list_remove(
        self, name: str, msisdns: Sequence[str], *, user_id: str | None, now: datetime
    ) -> ListEdit | None:
        """Remove numbers from a list; None when there is no such list."""
        async with self.atomic() as db:
            edit = await lists.remove(db, name, msisdns)
            if edit is not None:
                await self._audit_audience(
                    "list_remove", user_id, now, list=name, removed=edit.changed
                )
        return edit

    async def list_delete(self, name: str, *, user_id: str | None, now: datetime) -> int | None:
        """Delete a list; the size it had, or None when there is no such list."""
        async with self.atomic() as db:
            size = await lists.delete(db, name)
            if size is not None:
                await self._audit_audience("list_delete", user_id, now, list=name, size=size)
        return size

    async def list_members(self, name: str) -> list[ListMember] | None:
        async with self._read() as db:
            return await lists.members(db, name)

    async def list_numbers(self, names: Sequence[str]) -> dict[str, list[str]]:
        """The numbers of each named list that exists (unknown names left out)."""
        async with self._read() as db:
            return await lists.numbers(db, names)

    async def list_sizes(self) -> list[tuple[str, int]]:
        async with self._read() as db:
            return await lists.sizes(db)

    # ------------------------------------------------------------ opt-outs (storage/optouts.py)

    async def opt_out(
        self,
        msisdns: Sequence[str],
        *,
        user_id: str | None,
        reason: str | None,
        now: datetime,
        source: str = "command",
    ) -> int:
        """Opt numbers out (audited with who, when and why); how many were not out already."""
        async with self.atomic() as db:
            added = await optouts.add(
                db, msisdns, user_id=user_id, reason=reason, source=source, now=now
            )
            await self._audit_audience(
                "optout",
                user_id,
                now,
                numbers=len(msisdns),
                added=added,
                reason=reason,
                source=source,
            )
        return added

    async def opt_in(self, msisdns: Sequence[str], *, user_id: str | None, now: datetime) -> int:
        """Take numbers off the opt-out list (audited); how many were on it."""
        async with self.atomic() as db:
            removed = await optouts.remove(db, msisdns)
            await self._audit_audience("optin", user_id, now, numbers=len(msisdns), removed=removed)
        return removed

    async def opted_out_among(self, msisdns: Iterable[str]) -> set[str]:
        """Which of these numbers are opted out (read inside the send's transaction)."""
        async with self._read() as db:
            return await optouts.among(db, msisdns)

    async def optout_count(self) -> int:
        async with self._read() as db:
            return await optouts.count(db)

    async def latest_optouts(self, limit: int = 20) -> list[OptOut]:
        async with self._read() as db:
            return await optouts.latest(db, limit)

    async def every_optout(self) -> AsyncIterator[OptOut]:
        async with self._read() as db:
            async for entry in optouts.every(db):
                yield entry

    async def _audit_audience(
        self, action: str, user_id: str | None, now: datetime, **detail: object
    ) -> None:
        await self.audit(action=action, outcome="done", now=now, user_id=user_id, detail=detail)

    # ------------------------------------------------------------ sweeps

    async def record_sweep(
        self,
        *,
        started_at: datetime,
        finished_at: datetime,
        checked: int,
        changed: int,
        errors: int,
        last_error: str | None,
    ) -> None:
        async with self.atomic() as db:
            await sweeps.record(
                db,
                started_at=started_at,
                finished_at=finished_at,
                checked=checked,
                changed=changed,
                errors=errors,
                last_error=last_error,
            )

    # ------------------------------------------------------------ delivery callbacks

    async def callback_secret(self, now: datetime) -> str:
        """The callback tokens' secret kept in the database, generated once on first use."""
        async with self.atomic() as db:
            return await callback_table.callback_secret(db, now)

    async def stored_callback_secret(self) -> str | None:
        """The secret kept in the database, or None before the bot made one."""
        async with self._read() as db:
            return await callback_table.stored_callback_secret(db)

    async def message_by_reference(self, reference: str) -> StoredMessage | None:
        async with self._read() as db:
            return await messages.by_reference(db, reference)

    async def messages_by_reference(self, references: Sequence[str]) -> dict[str, StoredMessage]:
        """Reference -> message, for those of `references` the database holds (one query a
        few hundred)."""
        async with self._read() as db:
            return await messages.by_references(db, references)

    async def send_sizes(self, send_ids: Sequence[int]) -> dict[int, int]:
        """Send id -> its number of recipients (one query a few hundred sends)."""
        async with self._read() as db:
            return await messages.send_sizes(db, send_ids)

    async def add_callback_bodies(self, bodies: list[CallbackBody]) -> None:
        async with self._write() as db:
            await callback_table.add_callback_bodies(db, bodies)

    async def callback_bodies(self, message_id: int, limit: int = 50) -> list[CallbackBody]:
        """The latest callbacks received for a message, oldest first."""
        async with self._read() as db:
            return await callback_table.callback_bodies(db, message_id, limit)

    async def recent_sweeps(self, limit: int = 10) -> list[SweepRecord]:
        async with self._read() as db:
            return await sweeps.recent(db, limit)
