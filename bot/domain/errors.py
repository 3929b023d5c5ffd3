"""Exceptions the layers raise to each other, and BSG's error codes."""

from __future__ import annotations

import enum


class BsgCode(enum.IntEnum):
    """BSG's error codes (reference/bsg-viber-api.md, "Error codes"); 0 means no error."""

    OK = 0
    INVALID_KEY = 1
    ACCOUNT_BLOCKED = 2
    MISSING_PARAMETERS = 3
    FUNCTION_UNAVAILABLE = 4
    UNKNOWN = 5
    INVALID_TARIFF = 6
    INVALID_PARAMETERS = 7
    NOT_ENOUGH_FUNDS = 8
    TARIFF_INACTIVE = 9
    BAD_SEND_TIME = 10
    TOO_MANY_IN_PROGRESS = 11
    BATCH_TOO_BIG = 12
    SMS_NOT_FOUND = 20  # `/sms/{id}` and `/sms/reference/{ref}`: "SMS not found"
    NOT_FOUND = 40
    INVALID_PHONE = 41
    ALREADY_EXISTS = 43  # a message with this reference exists: it was sent already
    INVALID_PAYLOAD = 44
    SENDER_NOT_REGISTERED = 45
    BAD_TEXT = 46
    INVALID_REFERENCE = 47
    INVALID_VALIDITY = 48
    INVALID_VIBER_OPTIONS = 49
    ALREADY_IN_CAMPAIGN = 51


class ViberBotError(Exception):
    """Base class of every error viber-bot raises on purpose."""


class ConfigurationError(ViberBotError):
    """A setting is missing or malformed; the message names the variable."""


class StorageError(ViberBotError):
    """The database cannot be opened or used."""


class BsgError(ViberBotError):
    """Talking to BSG did not give a usable answer."""


class BsgRefused(BsgError):
    """BSG answered and refused the request with an error code."""

    def __init__(self, code: int, description: str = "", *, http_status: int | None = None):
        self.code = code
        self.description = description
        self.http_status = http_status
        super().__init__(f"BSG refused the request (code {code}): {description or '-'}")


class BsgNotFound(BsgRefused):
    """BSG has no message with that id or reference (BsgCode.NOT_FOUND)."""


class BsgUnavailable(BsgError):
    """BSG could not be reached or answered with a timeout, 429 or 5xx: try again later."""

    def __init__(self, reason: str, *, retry_after: float | None = None):
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"BSG is unavailable: {reason}")


class BsgProtocolError(BsgError):
    """BSG answered with something that is not any published shape."""


class InputError(ViberBotError):
    """What a person typed cannot be sent; the message says why, for that person."""

    def __init__(self, message: str, *, field: str | None = None):
        self.field = field
        super().__init__(message)


class Denial(enum.StrEnum):
    """Which rule keeps a person from sending (or using the bot) here; the words for the
    person are in bot/slack/render/private.py."""

    USER = "user"  # not on VIBER_BOT_ALLOWED_USERS
    CHANNEL = "channel"  # not in VIBER_BOT_ALLOWED_CHANNELS
    DIRECT_MESSAGE = "direct_message"  # sends are made from a channel
    TOO_MANY = "too_many"  # more recipients than VIBER_BOT_MAX_RECIPIENTS
    QUOTA = "quota"  # over the person's daily recipient quota


class AccessDenied(ViberBotError):
    """The person or channel may not send: `why` names the rule; the figures it quotes
    (recipients asked for, the limit, what was used today) come with it."""

    def __init__(self, why: Denial, *, recipients: int = 0, limit: int = 0, used: int = 0):
        super().__init__(why.value)
        self.why = why
        self.recipients = recipients
        self.limit = limit
        self.used = used


class QuotaExceeded(AccessDenied):
    """The person's daily recipient quota would be exceeded."""


class AllOptedOut(ViberBotError):
    """Every recipient of a send has opted out: nothing is sent."""

    def __init__(self, msisdns: tuple[str, ...]):
        self.msisdns = msisdns
        super().__init__(f"all {len(msisdns)} recipient(s) opted out")
