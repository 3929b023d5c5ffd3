"""When to look at a message next, and when to stop looking: the poller's policy, pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.models import FAILURE_STATUSES, PENDING_STATUSES, DeliveryStatus

DEFAULT_VALIDITY = 86400  # BSG's default, seconds


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
) -> Verdict:
    """Decide whether a message is final and, if not, when to look next."""
    past_validity = now >= expires_at
    past_grace = now >= expires_at + timedelta(seconds=policy.expiry_grace)

    sms_open = sms_status is not None and not sms_status.is_final
    sms_may_come = wants_sms and sms_status is None and status in FAILURE_STATUSES

    if status.is_final and not sms_open and not (sms_may_come and not past_grace):
        return Verdict(final=True, next_poll_at=None)
    if status == DeliveryStatus.DELIVERED and past_validity and not sms_open:
        # Delivered and never read within the window: nothing more will come.
        return Verdict(final=True, next_poll_at=None)
    if past_grace:
        if status in PENDING_STATUSES:
            return Verdict(final=True, next_poll_at=None, forced_status=DeliveryStatus.EXPIRED)
        return Verdict(final=True, next_poll_at=None)

    quiet_for = max(0.0, (now - last_change_at).total_seconds())
    next_at = now + timedelta(seconds=policy.delay(quiet_for))
    if status == DeliveryStatus.DELIVERED and not sms_open:
        # Keep watching for `read` until the window closes, and take one last look then.
        next_at = min(next_at, max(expires_at, now + timedelta(seconds=policy.base)))
    return Verdict(final=False, next_poll_at=next_at)
