"""Statuses: a message's DeliveryStatus (BSG's words and viber-bot's own), the sets that sort
them, and the kinds and states of outbox rows and the route a status belongs to."""

from __future__ import annotations

import enum


class DeliveryStatus(enum.StrEnum):
    """A message's status: BSG's words plus the few states only viber-bot knows."""

    # BSG's words (Viber and SMS alike)
    SCHEDULED = "scheduled"
    NEW = "new"
    WAITING = "waiting"
    MODERATION = "moderation"
    ACCEPTED = "accepted"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    EXPIRED = "expired"
    UNDELIVERABLE = "undeliverable"
    UNDELIVERED = "undelivered"
    NOT_VIBER_USER = "not_viber_user"
    NOT_SERVICE_USER = "not_service_user"
    REJECTED = "rejected"
    FAILED = "failed"
    DELETED = "deleted"
    UNKNOWN = "unknown"
    # viber-bot's own states
    PENDING = "pending"  # stored, BSG's answer not yet known
    REFUSED = "refused"  # BSG refused this recipient at create time
    NOT_SENT = "not_sent"  # reconciliation proved BSG never took it

    @classmethod
    def parse(cls, word: object) -> DeliveryStatus:
        """BSG's status word as a status; words nobody documented become UNKNOWN."""
        if not isinstance(word, str):
            return cls.UNKNOWN
        try:
            status = cls(word.strip().lower())
        except ValueError:
            return cls.UNKNOWN
        if status in _LOCAL_ONLY:
            return cls.UNKNOWN
        return status

    @property
    def is_failure(self) -> bool:
        return self in FAILURE_STATUSES

    @property
    def label(self) -> str:
        return _LABELS.get(self, self.value.replace("_", " "))


_LOCAL_ONLY = frozenset({DeliveryStatus.PENDING, DeliveryStatus.REFUSED, DeliveryStatus.NOT_SENT})

FAILURE_STATUSES = frozenset(
    {
        DeliveryStatus.EXPIRED,
        DeliveryStatus.UNDELIVERABLE,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.NOT_VIBER_USER,
        DeliveryStatus.NOT_SERVICE_USER,
        DeliveryStatus.REJECTED,
        DeliveryStatus.FAILED,
        DeliveryStatus.DELETED,
        DeliveryStatus.REFUSED,
        DeliveryStatus.NOT_SENT,
    }
)

# What is final (Viber status x SMS leg x validity) is one table: bot/domain/lifecycle.py.

# Statuses that mean "not there yet"; after the validity window they turn into EXPIRED.
PENDING_STATUSES = frozenset(
    {
        DeliveryStatus.SCHEDULED,
        DeliveryStatus.NEW,
        DeliveryStatus.WAITING,
        DeliveryStatus.MODERATION,
        DeliveryStatus.ACCEPTED,
        DeliveryStatus.SENDING,
        DeliveryStatus.SENT,
        DeliveryStatus.UNKNOWN,
        DeliveryStatus.PENDING,
    }
)

_LABELS = {
    DeliveryStatus.NOT_VIBER_USER: "not a Viber user",
    DeliveryStatus.NOT_SERVICE_USER: "not a service user",
    DeliveryStatus.NOT_SENT: "not sent",
    DeliveryStatus.PENDING: "pending",
}


class OutboxKind(enum.StrEnum):
    """What an outbox row posts to Slack."""

    PARENT = "parent"  # the send's card in the channel (chat.postMessage)
    REPLY = "reply"  # a thread reply under the parent
    UPDATE = "update"  # the parent re-rendered from the database (chat.update)
    EPHEMERAL = "ephemeral"  # a private answer to the sender


class OutboxState(enum.StrEnum):
    """Where an outbox row is: waiting (or in flight), posted, or set aside for good."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class Channel(enum.StrEnum):
    """Which route a status belongs to."""

    VIBER = "viber"
    SMS = "sms"
