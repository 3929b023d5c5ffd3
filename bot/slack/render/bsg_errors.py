"""BSG's error codes as a person in Slack should read them."""

from __future__ import annotations

from bot.domain.errors import BsgCode, BsgRefused
from bot.domain.limits import VALIDITY_MAX, VALIDITY_MIN

# Every code BSG documents, as a person in Slack should read it.
BSG_EXPLANATIONS: dict[int, str] = {
    BsgCode.INVALID_KEY: (
        "BSG did not accept the API key: check BSG_API_KEY (live keys start with `live_`)"
    ),
    BsgCode.ACCOUNT_BLOCKED: (
        "the BSG account is blocked or the request lacked parameters: "
        "check the account in BSG's dashboard"
    ),
    BsgCode.MISSING_PARAMETERS: (
        "the request lacked parameters or the BSG account is blocked: "
        "check the account in BSG's dashboard"
    ),
    BsgCode.FUNCTION_UNAVAILABLE: (
        "BSG does not offer this function to the account, or the account is blocked"
    ),
    BsgCode.UNKNOWN: "BSG reported an unknown error: try again later",
    BsgCode.INVALID_TARIFF: "the tariff is not valid for this account",
    BsgCode.INVALID_PARAMETERS: "BSG found invalid parameters in the request",
    BsgCode.NOT_ENOUGH_FUNDS: (
        "the BSG account does not have enough funds: top it up in BSG's dashboard"
    ),
    BsgCode.TARIFF_INACTIVE: "the tariff is not active for this account",
    BsgCode.BAD_SEND_TIME: "the scheduled send time is not acceptable to BSG",
    BsgCode.TOO_MANY_IN_PROGRESS: (
        "too many messages are in progress on the BSG account: try again in a few minutes"
    ),
    BsgCode.BATCH_TOO_BIG: "too many recipients in one request for BSG",
    BsgCode.NOT_FOUND: "BSG has no such message",
    BsgCode.INVALID_PHONE: "BSG says the phone number is invalid",
    BsgCode.ALREADY_EXISTS: "BSG already holds a message with this reference (it was already sent)",
    BsgCode.INVALID_PAYLOAD: "BSG found the message payload invalid (for example no recipients)",
    BsgCode.SENDER_NOT_REGISTERED: (
        "the sender name is not registered with BSG: register it in your BSG account first"
    ),
    BsgCode.BAD_TEXT: "the text is empty or too long for BSG",
    BsgCode.INVALID_REFERENCE: "BSG found the message reference invalid",
    BsgCode.INVALID_VALIDITY: (
        f"BSG found the validity invalid (it must be {VALIDITY_MIN}..{VALIDITY_MAX} seconds)"
    ),
    BsgCode.INVALID_VIBER_OPTIONS: (
        "BSG found the Viber options invalid (an image needs a button caption and URL)"
    ),
    BsgCode.ALREADY_IN_CAMPAIGN: "the phone number is already in this campaign",
}


def explain_bsg_code(code: int) -> str:
    """A plain explanation of a BSG error code, even one nobody documented."""
    return BSG_EXPLANATIONS.get(code, f"BSG reported error code {code}")


def refusal_for_person(refusal: BsgRefused) -> str:
    """A refusal as written to the person in Slack: `BSG refused it (code 45): …`."""
    said = f' ("{refusal.description}")' if refusal.description else ""
    return f"BSG refused it (code {refusal.code}){said}: {explain_bsg_code(refusal.code)}."
