"""Sharing the work between replicas: message leases, outbox lane leases and heartbeats.

On PostgreSQL any number of `viber-bot run` processes share one database. Due messages are
claimed in batches (`FOR UPDATE SKIP LOCKED`, so two replicas never claim the same row) with a
lease that expires: a replica that dies stops renewing, and after the lease time its messages
are due for the others. Each channel's outbox lane is leased the same way, so one replica at a
time posts to a channel, in order. Lease times are the server's clock (`now()`), never a
replica's. With SQLite there is one process, which holds everything: `Solo`.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.domain.models import DUE_COLUMNS, DueMessage
from storage.records import ts

# Give up leases on messages (ids, then this replica's name): release() and leave().
_RELEASE_MESSAGES = (
    "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
    "WHERE id = ANY(?) AND lease_owner = ?"
)

# A claimed message's columns, in DueMessage's order: what a poll reads, as `due_for_poll`.
_RETURNING_DUE = ", ".join(f"m.{column}" for column in DUE_COLUMNS)
_CLAIMED_DUE = ", ".join(DUE_COLUMNS)


def replica_id() -> str:
    """A name for this process, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class ReplicaInfo:
    """One replica's last heartbeat."""

    id: str
    host: str
    pid: int
    version: str | None
    started_at: datetime
    seen_at: datetime
    message_leases: int
    lane_leases: int


class Coordinator(Protocol):
    """What the poller and the outbox ask before they work on something."""

    replica: str
    shared: bool  # True when other replicas may be working on the same database

    async def claim_due(self, now: datetime, limit: int) -> list[DueMessage]:
        """Due messages as a poll reads them (`Store.due_for_poll`'s), oldest due first, that
        this replica now holds until it releases them."""
        ...

    async def claim(self, message_ids: Sequence[int]) -> set[int]:
        """Of these messages, those this replica now holds (none another replica holds)."""
        ...

    async def renew(self, message_ids: Sequence[int]) -> None: ...

    async def release(self, message_ids: Sequence[int]) -> None: ...

    async def claim_lanes(self, lanes: Iterable[str]) -> set[str]:
        """Of the given outbox lanes, those this replica holds now (it keeps or gets them);
        lanes it held and no longer asks for are given up."""
        ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """True inside when this replica alone does `name` now; False when another does."""
        ...

    def lanes_fresh(self) -> bool:
        """Whether the lanes claimed last are still safely this replica's (well within the
        lease), so a post may start."""
        ...

    async def heartbeat(self) -> None: ...

    async def live_replicas(self) -> list[ReplicaInfo]: ...

    async def leave(self) -> None:
        """Give up every lease at once (a clean stop): the others need not wait them out."""
        ...

    @property
    def holds(self) -> dict[str, int]:
        """Leases held right now: {"messages": n, "lanes": n}."""
        ...


class Solo:
    """SQLite: the only process; it holds every message and every lane."""

    shared = False

    def __init__(self, store: Any, *, replica: str | None = None):
        self.store = store
        self.replica = replica or replica_id()
        self._messages = 0
        self._lanes = 0

    async def claim_due(self, now: datetime, limit: int) -> list[DueMessage]:
        due = await self.store.due_for_poll(now, limit=limit)
        self._messages = len(due)
        return due

    async def claim(self, message_ids: Sequence[int]) -> set[int]:
        return set(message_ids)

    async def renew(self, message_ids: Sequence[int]) -> None:
        return None

    async def release(self, message_ids: Sequence[int]) -> None:
        self._messages = max(0, self._messages - len(message_ids))

    async def claim_lanes(self, lanes: Iterable[str]) -> set[str]:
        owned = set(lanes)
        self._lanes = len(owned)
        return owned

    def lanes_fresh(self) -> bool:
        return True

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        yield True

    async def heartbeat(self) -> None:
        return None

    async def live_replicas(self) -> list[ReplicaInfo]:
        return []

    async def leave(self) -> None:
        self._messages = self._lanes = 0

    @property
    def holds(self) -> dict[str, int]:
        return {"messages": self._messages, "lanes": self._lanes}


class Leases:
    """PostgreSQL: leases and heartbeats in the shared database (storage.postgres_schema v2)."""

    shared = True

    def __init__(
        self,
        backend: Any,  # storage.postgres.PostgresBackend
        *,
        lease_seconds: float,
        heartbeat_interval: float,
        version: str | None = None,
        replica: str | None = None,
    ):
        self.backend = backend
        self.lease_seconds = float(lease_seconds)
        self.heartbeat_interval = float(heartbeat_interval)
        self.version = version
        self.replica = replica or replica_id()
        self._messages: set[int] = set()
        self._lanes: set[str] = set()
        self._lanes_claimed = 0.0

    # ------------------------------------------------------------ messages

    async def claim_due(self, now: datetime, limit: int) -> list[DueMessage]:
        async with self.backend.connection() as conn:
            rows = await conn.fetch_values(
                "WITH due AS ("
                " SELECT id FROM messages"
                " WHERE final = 0 AND next_poll_at <= ?"
                " AND (lease_until IS NULL OR lease_until < now())"
                " ORDER BY next_poll_at LIMIT ?"
                " FOR UPDATE SKIP LOCKED),"
                " claimed AS ("
                " UPDATE messages m SET lease_owner = ?,"
                " lease_until = now() + make_interval(secs => ?)"
                f" FROM due WHERE m.id = due.id RETURNING m.next_poll_at, {_RETURNING_DUE})"
                # RETURNING keeps no order: the batch comes oldest due first, as due_for_poll.
                f" SELECT {_CLAIMED_DUE} FROM claimed ORDER BY next_poll_at, id",
                [ts(now), int(limit), self.replica, self.lease_seconds],
            )
        messages = [DueMessage.from_values(row) for row in rows]
        self._messages.update(m.id for m in messages)
        return messages

    async def claim(self, message_ids: Sequence[int]) -> set[int]:
        if not message_ids:
            return set()
        async with self.backend.connection() as conn:
            rows = await conn.fetchall(
                "UPDATE messages SET lease_owner = ?,"
                " lease_until = now() + make_interval(secs => ?)"
                " WHERE id = ANY(?) AND (lease_until IS NULL OR lease_until < now() "
                "OR lease_owner = ?) RETURNING id",
                [self.replica, self.lease_seconds, list(message_ids), self.replica],
            )
        held = {row["id"] for row in rows}
        self._messages.update(held)
        return held

    async def renew(self, message_ids: Sequence[int]) -> None:
        if not message_ids:
            return
        async with self.backend.connection() as conn:
            await conn.execute(
                "UPDATE messages SET lease_until = now() + make_interval(secs => ?) "
                "WHERE id = ANY(?) AND lease_owner = ?",
                [self.lease_seconds, list(message_ids), self.replica],
            )

    async def release(self, message_ids: Sequence[int]) -> None:
        if not message_ids:
            return
        async with self.backend.connection() as conn:
            await conn.execute(_RELEASE_MESSAGES, [list(message_ids), self.replica])
        self._messages.difference_update(message_ids)

    # ------------------------------------------------------------ outbox lanes

    async def claim_lanes(self, lanes: Iterable[str]) -> set[str]:
        wanted = sorted(set(lanes))
        async with self.backend.connection() as conn:
            # Lanes no longer wanted (drained) go back first, in the same round trip's spirit:
            # a lane is never held idle for a whole lease.
            await conn.execute(
                "DELETE FROM outbox_lanes WHERE owner = ? AND NOT (channel_id = ANY(?))",
                [self.replica, wanted],
            )
            if not wanted:
                self._lanes = set()
                return set()
            rows = await conn.fetchall(
                "INSERT INTO outbox_lanes (channel_id, owner, lease_until)"
                " SELECT lane, ?, now() + make_interval(secs => ?) FROM unnest(?::text[]) AS lane"
                " ON CONFLICT (channel_id) DO UPDATE"
                " SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until"
                " WHERE outbox_lanes.owner = EXCLUDED.owner OR outbox_lanes.lease_until < now()"
                " RETURNING channel_id",
                [self.replica, self.lease_seconds, wanted],
            )
        self._lanes = {row["channel_id"] for row in rows}
        self._lanes_claimed = time.monotonic()
        return set(self._lanes)

    def lanes_fresh(self) -> bool:
        # Half the lease: a post under way (Slack's timeout is well below) ends before the
        # lease could, so no other replica starts the same lane's next post meanwhile.
        return time.monotonic() - self._lanes_claimed < self.lease_seconds / 2

    # ------------------------------------------------------------ one at a time

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        # A session advisory lock on a connection kept for the block: a replica that dies
        # mid-way drops its connection, and with it the lock.
        key = _lock_key(name)
        async with self.backend.connection() as conn:
            row = await conn.fetchone("SELECT pg_try_advisory_lock(?) AS ours", [key])
            ours = bool(row and row["ours"])
            try:
                yield ours
            finally:
                if ours:
                    await conn.execute("SELECT pg_advisory_unlock(?)", [key])

    # ------------------------------------------------------------ replicas

    async def heartbeat(self) -> None:
        async with self.backend.connection() as conn:
            await conn.execute(
                "INSERT INTO replicas (id, host, pid, version, started_at, seen_at,"
                " message_leases, lane_leases) VALUES (?, ?, ?, ?, now(), now(), ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seen_at = now(),"
                " message_leases = EXCLUDED.message_leases, lane_leases = EXCLUDED.lane_leases",
                [
                    self.replica,
                    socket.gethostname(),
                    os.getpid(),
                    self.version,
                    len(self._messages),
                    len(self._lanes),
                ],
            )
            # Replicas silent for a day are history, not news.
            await conn.execute("DELETE FROM replicas WHERE seen_at < now() - interval '1 day'")

    async def live_replicas(self) -> list[ReplicaInfo]:
        async with self.backend.connection() as conn:
            return await live_replicas(conn, within=3 * self.heartbeat_interval)

    async def leave(self) -> None:
        async with self.backend.connection() as conn:
            await conn.execute(_RELEASE_MESSAGES, [sorted(self._messages), self.replica])
            await conn.execute("DELETE FROM outbox_lanes WHERE owner = ?", [self.replica])
            await conn.execute("DELETE FROM replicas WHERE id = ?", [self.replica])
        self._messages.clear()
        self._lanes.clear()

    @property
    def holds(self) -> dict[str, int]:
        return {"messages": len(self._messages), "lanes": len(self._lanes)}


def _lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key for a name (Python's hash() differs per process)."""
    digest = hashlib.blake2b(f"viber-bot:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


async def live_replicas(conn: Any, *, within: float) -> list[ReplicaInfo]:
    """Replicas whose last heartbeat is at most `within` seconds old, oldest first."""
    rows = await conn.fetchall(
        "SELECT * FROM replicas WHERE seen_at >= now() - make_interval(secs => ?) "
        "ORDER BY started_at, id",
        [float(within)],
    )
    return [ReplicaInfo(**dict(row)) for row in rows]
