"""The final-state rules as one table: Viber status x SMS leg x phase -> final, card, next look.

Every status word BSG documents (and the words only viber-bot uses) falls into one Viber class
and one SMS class below; `RULES` then says, for each pair and each phase of the message's life
(before its validity window closes, after it, and after the expiry grace too), whether the
message is final, what its card shows, and when the poller looks next. `policy.judge` reads
nothing but this table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.domain.models import DeliveryStatus as S


class Viber(enum.Enum):
    """What the Viber leg's status says about what may still follow."""

    WAITING = "not there yet"  # may still be delivered, read or fail
    DELIVERED = "delivered"  # may still become read
    READ = "read"  # nothing follows
    FAILED = "failed"  # Viber gave up; an SMS fallback, if asked for, may follow
    NEVER_SENT = "never sent"  # refused at create time or proven unknown to BSG


class Sms(enum.Enum):
    """The SMS fallback leg."""

    NOT_ASKED = "no fallback"  # none asked for and none seen
    AWAITED = "awaited"  # asked for, not seen yet
    OPEN = "open"  # seen, not final yet
    DONE = "done"  # seen, and final: delivered or failed for good


class Phase(enum.Enum):
    """Where `now` is against the message's validity window."""

    BEFORE_VALIDITY = "before validity"
    AFTER_VALIDITY = "after validity"  # the window closed, the grace has not run out
    AFTER_GRACE = "after grace"  # window and expiry grace both over


class Card(enum.Enum):
    """What the recipient's line on the parent shows."""

    AS_SEEN = "the statuses as BSG gave them"
    EXPIRED = "expired (BSG never said more)"


class Next(enum.Enum):
    """When the poller looks again."""

    NEVER = "never: final"
    BACKOFF = "after the back-off for the time since the last change"
    BY_WINDOW_END = "the back-off, but no later than the validity window's end"
    BY_GRACE_END = "the back-off, but no later than the grace's end"


@dataclass(frozen=True)
class Rule:
    final: bool
    card: Card
    next: Next


# Every BSG word (and viber-bot's own) in exactly one class; the unit test checks coverage.
VIBER_CLASS: dict[S, Viber] = {
    S.SCHEDULED: Viber.WAITING,
    S.NEW: Viber.WAITING,
    S.WAITING: Viber.WAITING,
    S.MODERATION: Viber.WAITING,
    S.ACCEPTED: Viber.WAITING,
    S.SENDING: Viber.WAITING,
    S.SENT: Viber.WAITING,
    S.UNKNOWN: Viber.WAITING,  # an undocumented word stays pending until the window has passed
    S.PENDING: Viber.WAITING,
    S.DELIVERED: Viber.DELIVERED,
    S.READ: Viber.READ,
    S.EXPIRED: Viber.FAILED,
    S.UNDELIVERABLE: Viber.FAILED,
    S.UNDELIVERED: Viber.FAILED,
    S.NOT_VIBER_USER: Viber.FAILED,
    S.NOT_SERVICE_USER: Viber.FAILED,
    S.REJECTED: Viber.FAILED,
    S.FAILED: Viber.FAILED,
    S.DELETED: Viber.FAILED,
    S.REFUSED: Viber.NEVER_SENT,
    S.NOT_SENT: Viber.NEVER_SENT,
}

# An SMS status is final when it is delivered (an SMS is never "read") or failed for good.
SMS_FINAL: frozenset[S] = frozenset(
    {
        S.DELIVERED,
        S.READ,  # not an SMS word; if BSG ever says it, it is past delivered
        S.EXPIRED,
        S.UNDELIVERABLE,
        S.UNDELIVERED,
        S.NOT_VIBER_USER,
        S.NOT_SERVICE_USER,
        S.REJECTED,
        S.FAILED,
        S.DELETED,
        S.REFUSED,
        S.NOT_SENT,
    }
)

_WATCH = Rule(final=False, card=Card.AS_SEEN, next=Next.BACKOFF)
_TO_WINDOW = Rule(final=False, card=Card.AS_SEEN, next=Next.BY_WINDOW_END)
_TO_GRACE = Rule(final=False, card=Card.AS_SEEN, next=Next.BY_GRACE_END)
_FINAL = Rule(final=True, card=Card.AS_SEEN, next=Next.NEVER)
_EXPIRE = Rule(final=True, card=Card.EXPIRED, next=Next.NEVER)

# (Viber, Sms) -> (before validity, after validity, after grace)
RULES: dict[tuple[Viber, Sms], tuple[Rule, Rule, Rule]] = {
    # Not there yet: watch; after the window, until the grace ends; then it expired.
    (Viber.WAITING, Sms.NOT_ASKED): (_WATCH, _TO_GRACE, _EXPIRE),
    (Viber.WAITING, Sms.AWAITED): (_WATCH, _TO_GRACE, _EXPIRE),
    (Viber.WAITING, Sms.OPEN): (_WATCH, _TO_GRACE, _EXPIRE),
    (Viber.WAITING, Sms.DONE): (_FINAL, _FINAL, _FINAL),
    # Delivered: keep watching for `read` until the window closes (one last look then).
    (Viber.DELIVERED, Sms.NOT_ASKED): (_TO_WINDOW, _FINAL, _FINAL),
    (Viber.DELIVERED, Sms.AWAITED): (_TO_WINDOW, _FINAL, _FINAL),  # delivered: no fallback
    (Viber.DELIVERED, Sms.OPEN): (_WATCH, _TO_GRACE, _FINAL),
    (Viber.DELIVERED, Sms.DONE): (_FINAL, _FINAL, _FINAL),
    # Read: final, unless an SMS is still on its way.
    (Viber.READ, Sms.NOT_ASKED): (_FINAL, _FINAL, _FINAL),
    (Viber.READ, Sms.AWAITED): (_FINAL, _FINAL, _FINAL),
    (Viber.READ, Sms.OPEN): (_WATCH, _TO_GRACE, _FINAL),
    (Viber.READ, Sms.DONE): (_FINAL, _FINAL, _FINAL),
    # Viber failed: final, unless a fallback SMS is awaited or under way (until the grace ends).
    (Viber.FAILED, Sms.NOT_ASKED): (_FINAL, _FINAL, _FINAL),
    (Viber.FAILED, Sms.AWAITED): (_WATCH, _TO_GRACE, _FINAL),
    (Viber.FAILED, Sms.OPEN): (_WATCH, _TO_GRACE, _FINAL),
    (Viber.FAILED, Sms.DONE): (_FINAL, _FINAL, _FINAL),
    # Never went out: nothing to look at.
    (Viber.NEVER_SENT, Sms.NOT_ASKED): (_FINAL, _FINAL, _FINAL),
    (Viber.NEVER_SENT, Sms.AWAITED): (_FINAL, _FINAL, _FINAL),
    (Viber.NEVER_SENT, Sms.OPEN): (_FINAL, _FINAL, _FINAL),
    (Viber.NEVER_SENT, Sms.DONE): (_FINAL, _FINAL, _FINAL),
}

_PHASE_INDEX = {Phase.BEFORE_VALIDITY: 0, Phase.AFTER_VALIDITY: 1, Phase.AFTER_GRACE: 2}


def sms_leg(sms_status: S | None, *, wants_sms: bool) -> Sms:
    """The SMS leg's class: not asked for, awaited, under way or final."""
    if sms_status is None:
        return Sms.AWAITED if wants_sms else Sms.NOT_ASKED
    return Sms.DONE if sms_status in SMS_FINAL else Sms.OPEN


def rule(status: S, sms_status: S | None, *, wants_sms: bool, phase: Phase) -> Rule:
    """The table's answer for one message."""
    return RULES[VIBER_CLASS[status], sms_leg(sms_status, wants_sms=wants_sms)][_PHASE_INDEX[phase]]
