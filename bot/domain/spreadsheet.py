"""CSV exports: the per-recipient columns every export shares, and cells no spreadsheet runs."""

from __future__ import annotations

import re

from bot.domain.models import StoredMessage

# A recipient's outcome, in the order every export writes it; exports add their own around it.
RECIPIENT_COLUMNS = (
    "msisdn",
    "reference",
    "bsg_id",
    "status",
    "sms_status",
    "price",
    "currency",
    "sms_price",
)
ERROR_COLUMNS = ("error_code", "error_description")

# Spreadsheets run a cell starting with these as a formula; text typed in Slack must not.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A phone number as the bot shows it, masked or not (`+380 ••••• 0283`): data, not a formula.
_SHOWN_NUMBER = re.compile(r"\+\d[\d •]*")


def spreadsheet_safe(value: object) -> str:
    """`value` as a CSV cell ("" for None); one a spreadsheet would run as a formula is quoted
    with a leading apostrophe, but for a phone number as shown."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _SHOWN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def recipient_cells(message: StoredMessage, msisdn: str) -> dict[str, str]:
    """One recipient's columns (RECIPIENT_COLUMNS, ERROR_COLUMNS and `sms_currency`) by name;
    `msisdn` as the export shows it (masked or not)."""
    return {
        "msisdn": spreadsheet_safe(msisdn),
        "reference": message.reference,
        "bsg_id": message.bsg_id or "",
        "status": message.status.value,
        "sms_status": message.sms_status.value if message.sms_status else "",
        "price": _plain(message.price),
        "currency": message.currency or "",
        "sms_price": _plain(message.sms_price),
        "sms_currency": message.sms_currency or "",
        "error_code": _plain(message.error_code),
        "error_description": spreadsheet_safe(message.error_description),
    }


def _plain(value: object) -> str:
    """A number as it is (a Decimal keeps every cent), "" for None."""
    return "" if value is None else str(value)
