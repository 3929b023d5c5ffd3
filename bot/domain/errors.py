"""Exceptions the layers raise to each other, and BSG's error codes in plain words."""

from __future__ import annotations

# Every code BSG documents, as a person in Slack should read it.
BSG_EXPLANATIONS: dict[int, str] = {
    1: "BSG did not accept the API key: check BSG_API_KEY (live keys start with `live_`)",
    2: (
        "the BSG account is blocked or the request lacked parameters: "
        "check the account in BSG's dashboard"
    ),
    3: (
        "the request lacked parameters or the BSG account is blocked: "
        "check the account in BSG's dashboard"
    ),
    4: "BSG does not offer this function to the account, or the account is blocked",
    5: "BSG reported an unknown error: try again later",
    6: "the tariff is not valid for this account",
    7: "BSG found invalid parameters in the request",
    8: "the BSG account does not have enough funds: top it up in BSG's dashboard",
    9: "the tariff is not active for this account",
    10: "the scheduled send time is not acceptable to BSG",
    11: "too many messages are in progress on the BSG account: try again in a few minutes",
    12: "too many recipients in one request for BSG",
    40: "BSG has no such message",
    41: "BSG says the phone number is invalid",
    43: "BSG already holds a message with this reference (it was already sent)",
    44: "BSG found the message payload invalid (for example no recipients)",
    45: "the sender name is not registered with BSG: register it in your BSG account first",
    46: "the text is empty or too long for BSG",
    47: "BSG found the message reference invalid",
    48: "BSG found the validity invalid (it must be 15..86400 seconds)",
    49: "BSG found the Viber options invalid (an image needs a button caption and URL)",
    51: "the phone number is already in this campaign",
}


def explain_bsg_code(code: int) -> str:
    """A plain explanation of a BSG error code, even one nobody documented."""
    return BSG_EXPLANATIONS.get(code, f"BSG reported error code {code}")


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

    @property
    def explanation(self) -> str:
        return explain_bsg_code(self.code)

    def for_person(self) -> str:
        """The refusal as written to the person in Slack."""
        said = f' ("{self.description}")' if self.description else ""
        return f"BSG refused it (code {self.code}){said}: {self.explanation}."


class BsgNotFound(BsgRefused):
    """BSG has no message with that id or reference (code 40)."""


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


class AccessDenied(ViberBotError):
    """The person or channel may not send; the message says why, for that person."""


class QuotaExceeded(AccessDenied):
    """The person's daily recipient quota would be exceeded."""


class AllOptedOut(ViberBotError):
    """Every recipient of a send has opted out: nothing is sent."""

    def __init__(self, msisdns: tuple[str, ...]):
        self.msisdns = msisdns
        super().__init__(f"all {len(msisdns)} recipient(s) opted out")
