"""When to look at a message next, and when to stop looking: the poller's policy, pure.

What is final is decided by the one table in `bot.domain.lifecycle`; this module adds the
times: the back-off between looks and the validity window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.lifecycle import Card, Next, Phase, rule
from bot.domain.limits import DEFAULT_VALIDITY
from bot.domain.models import DeliveryStatus


@dataclass(frozen=True)
class PollPolicy:
    """Gaps grow with the time since the last change (age x factor), between base and cap.

    A message that just changed is looked at again after `base`; one that has been quiet for an
    hour, after `hour x factor`. So a change soon after sending (the usual case) is noticed within
    seconds, while a message quiet for a day costs a few dozen requests, not thousands.
    """

    base: float
    factor: float
    cap: float
    expiry_grace: float

    def delay(self, quiet_for: float) -> float:
        return min(self.cap, max(self.base, quiet_for * self.factor))

    def first_poll(self, accepted_at: datetime, send_at: datetime | None) -> datetime:
        """`accepted_at`: when BSG's answer came, or the tick of the sweep that recorded it
        (recovery at a sweep's start: see `judge`'s `anchor`)."""
        start = max(accepted_at, send_at) if send_at is not None else accepted_at
        return start + timedelta(seconds=self.base)

    @staticmethod
    def expires_at(
        accepted_at: datetime, send_at: datetime | None, validity: int | None
    ) -> datetime:
        start = max(accepted_at, send_at) if send_at is not None else accepted_at
        return start + timedelta(seconds=validity or DEFAULT_VALIDITY)


@dataclass(frozen=True)
class Verdict:
    """What the poller does with a message after a look."""

    final: bool
    next_poll_at: datetime | None
    forced_status: DeliveryStatus | None = None


def judge(
    policy: PollPolicy,
    *,
    status: DeliveryStatus,
    sms_status: DeliveryStatus | None,
    wants_sms: bool,
    expires_at: datetime,
    last_change_at: datetime,
    now: datetime,
    anchor: datetime | None = None,
) -> Verdict:
    """Decide whether a message is final and, if not, when to look next (see lifecycle.RULES).

    `now` is when the answer is judged: it decides the phase (validity, grace) and how long the
    message has been quiet. `anchor` (default `now`) is where the next gap is counted from: a
    sweep passes its tick (the grid time it was scheduled for), so a gap of one sweep interval
    lands exactly on the next sweep, however far into its sweep the answer came.
    """
    anchor = now if anchor is None else anchor
    grace_end = expires_at + timedelta(seconds=policy.expiry_grace)
    if now >= grace_end:
        phase = Phase.AFTER_GRACE
    elif now >= expires_at:
        phase = Phase.AFTER_VALIDITY
    else:
        phase = Phase.BEFORE_VALIDITY
    found = rule(status, sms_status, wants_sms=wants_sms, phase=phase)
    if found.final:
        forced = DeliveryStatus.EXPIRED if found.card is Card.EXPIRED else None
        return Verdict(final=True, next_poll_at=None, forced_status=forced)
    quiet_for = max(0.0, (now - last_change_at).total_seconds())
    next_at = anchor + timedelta(seconds=policy.delay(quiet_for))
    soonest = anchor + timedelta(seconds=policy.base)
    if found.next is Next.BY_WINDOW_END:
        next_at = min(next_at, max(expires_at, soonest))
    elif found.next is Next.BY_GRACE_END:
        next_at = min(next_at, max(grace_end, soonest))
    return Verdict(final=False, next_poll_at=next_at)
