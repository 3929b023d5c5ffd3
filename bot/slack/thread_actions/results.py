"""What a card action returns, or refuses with (the message says why, for the person)."""

from __future__ import annotations

from dataclasses import dataclass


class ActionRefused(Exception):
    """The action cannot run for this send; the message says why, for the person."""


@dataclass(frozen=True)
class ActionResult:
    action: str
    count: int
    send_id: int | None = None  # the retry's new send
