"""How the operator commands print: rich tables on a terminal, unwrapped lines in a pipe, JSON."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape

from bot.domain.models import StoredMessage
from bot.domain.wording import amount_text, decimal_json

# A table printed to a pipe or file is never wrapped: ids and references stay whole.
PLAIN_WIDTH = 1000


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that does not wrap when it is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    out = Console(file=stream, stderr=stderr, highlight=False)
    if not out.is_terminal:
        out = Console(file=stream, stderr=stderr, highlight=False, width=PLAIN_WIDTH)
    return out


def when(moment: datetime | None) -> str:
    """`2026-01-31 14:00:00` (UTC), or a dash."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def price(amount: Decimal | None, currency: str | None) -> str:
    """`0.02 EUR`: at least two decimals, no trailing zeros past them (exact values: --json)."""
    if amount is None:
        return "—"
    words = amount_text(amount) if amount.is_finite() else str(amount)
    return f"{words} {currency}" if currency else words


def phone(msisdn: str) -> str:
    """The full number, as an operator may see it."""
    return f"+{msisdn}" if msisdn.isdigit() else msisdn


def cell(value: object) -> str:
    """A table cell: a dash for nothing, rich markup escaped."""
    return "—" if value is None or value == "" else escape(str(value))


def message_json(message: StoredMessage) -> dict[str, Any]:
    """A message for --json: plain JSON types, Decimals as strings so no cent is lost."""
    return {
        "id": message.id,
        "send_id": message.send_id,
        "created_at": message.created_at.isoformat(),
        "msisdn": message.msisdn,
        "bsg_id": message.bsg_id,
        "reference": message.reference,
        "status": message.status.value,
        "raw_status": message.raw_status,
        "sms_status": message.sms_status.value if message.sms_status else None,
        "price": decimal_json(message.price),
        "currency": message.currency,
        "sms_price": decimal_json(message.sms_price),
        "sms_currency": message.sms_currency,
        "error_code": message.error_code,
        "error_description": message.error_description,
        "final": message.final,
    }
