"""The seam between tracking and Slack: what tracking tells, defined here, implemented by Slack.

Tracking decides *that* something is worth telling and returns typed notices; the Slack side
(`bot.slack.notifier.Notifier`) decides how it reads and queues the posts, in the caller's
transaction. So tracking never imports Slack code (import-linter checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain.models import Send
from storage.store import Change, Store


@dataclass(frozen=True)
class Refused:
    """BSG refused the whole send: nothing went out."""

    code: int | None
    description: str | None
    msisdns: tuple[str, ...]


@dataclass(frozen=True)
class NeverSent:
    """Reconciliation proved BSG never took any recipient of the send."""

    recipients: int


@dataclass(frozen=True)
class PartlyNeverSent:
    """Some recipients went out; BSG has no record of these others."""

    msisdns: tuple[str, ...]


@dataclass(frozen=True)
class Unconfirmed:
    """BSG did not answer in time about `recipients` of the send (None: all of them)."""

    recipients: int | None = None


SenderNotice = Refused | NeverSent | PartlyNeverSent | Unconfirmed


class SendListener(Protocol):
    """Told what became of a send, inside the transaction that recorded it."""

    def bound(self, store: Store) -> SendListener:
        """This listener, reading and queueing through `store` (one bound to a single step,
        Store.in_one_step)."""
        ...

    async def send_accepted(self, send: Send, *, now: datetime) -> int:
        """BSG accepted some of the send: post its parent, or update the one posted."""
        ...

    async def tell_sender(self, send: Send, notice: SenderNotice, *, now: datetime) -> None:
        """Tell the person who sent it, privately."""
        ...


class SweepListener(Protocol):
    """Told about a sweep's results inside the sweep's transaction."""

    def bound(self, store: Store) -> SweepListener:
        """This listener, reading and queueing through `store` (one bound to a single step,
        Store.in_one_step)."""
        ...

    async def announce(self, changes: Sequence[Change], *, now: datetime) -> int:
        """Queue what the channel hears about these changes; return how many posts."""
        ...

    async def refresh_parents(self, send_ids: Sequence[int], *, now: datetime) -> int:
        """Keep the parents of these (checked) sends current; return how many updates."""
        ...
