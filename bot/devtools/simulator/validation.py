"""What the simulator accepts: BSG's request rules, as whole refusals and per-recipient codes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

MSISDN = re.compile(r"^[0-9]{6,15}$")
REFERENCE = re.compile(r"^[A-Za-z0-9_]{1,32}$")

# Which API key (account) a request came with, set by the server's middleware.
ACCOUNT = web.RequestKey("account", str)


SMS_DESCRIPTIONS = {1: "Invalid phone", 24: "Invalid reference", 43: "Reference already exists"}
SMS_MSISDN = re.compile(r"^[1-9][0-9]{7,14}$")
SMS_REFERENCE = re.compile(r"^[a-zA-Z0-9_-]{1,50}$")


DESCRIPTIONS = {
    0: "No errors",
    6: "Invalid tariff",
    7: "Invalid parameters",
    8: "Not enough funds",
    10: "Invalid send time",
    12: "Too many recipients in one message",
    40: "Message not found",
    41: "Invalid phone number",
    43: "Reference already exists",
    44: "Invalid payload",
    45: "Sender not registered",
    46: "Invalid text",
    47: "Invalid reference",
    48: "Invalid validity",
    49: "Invalid Viber options",
}


class Refusal(Exception):
    """A whole-request refusal, raised while validating a create."""

    def __init__(self, code: int, description: str | None = None) -> None:
        self.code = code
        self.description = description or DESCRIPTIONS.get(code, "Error")
        super().__init__(code, self.description)


@dataclass
class Planned:
    """One recipient of a create after validation, before anything is recorded."""

    msisdn: str
    reference: str | None
    error: int = 0


@dataclass
class PlannedMessage:
    text: str
    sender: str
    promotional: bool
    scheduled_at: datetime | None
    alt_route: tuple[str, str] | None
    recipients: list[Planned]
    callback_url: str | None = None
    sms_callback_url: str | None = None


def url_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def alt_route_of(message: dict[str, Any]) -> dict[str, Any]:
    viber = (message.get("options") or {}).get("viber") or {}
    alt = viber.get("alt_route") or message.get("alt_route") or {}
    return alt if isinstance(alt, dict) else {}


def integer_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def plan_recipient(item: Any) -> Planned:
    if isinstance(item, str | int) and not isinstance(item, bool):
        item = {"msisdn": item}
    if not isinstance(item, dict):
        return Planned(msisdn="", reference=None, error=41)
    raw_msisdn = item.get("msisdn")
    msisdn = str(raw_msisdn) if isinstance(raw_msisdn, str | int) else ""
    raw_reference = item.get("reference", item.get("external_id"))
    reference = None if raw_reference is None else str(raw_reference)
    if not MSISDN.match(msisdn):
        return Planned(msisdn, reference, 41)
    if reference is not None and not REFERENCE.match(reference):
        return Planned(msisdn, reference, 47)
    return Planned(msisdn, reference)


def parse_schedule(raw: Any) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise Refusal(10)
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Refusal(10) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def validate_options(message: dict[str, Any]) -> tuple[str, str] | None:
    options = message.get("options") or {}
    if not isinstance(options, dict):
        raise Refusal(49)
    viber = options.get("viber") or {}
    if not isinstance(viber, dict):
        raise Refusal(49)
    img, caption, action = (viber.get(k) for k in ("img", "caption", "action"))
    if img and not (caption and action):
        raise Refusal(49, "An image needs a caption and an action")
    if bool(caption) != bool(action):
        raise Refusal(49, "A button needs both a caption and an action")
    # Working examples put alt_route under options.viber; the seed page at message level.
    alt = viber.get("alt_route") or message.get("alt_route")
    if not alt:
        return None
    if not isinstance(alt, dict):
        raise Refusal(49, "Invalid alt_route")
    originator, text = alt.get("originator"), alt.get("text")
    if not isinstance(originator, str) or not 3 <= len(originator) <= 15:
        raise Refusal(49, "Invalid alt_route originator")
    if not isinstance(text, str) or not 1 <= len(text) <= 765:
        raise Refusal(49, "Invalid alt_route text")
    return originator, text


# ------------------------------------------------------------ status
