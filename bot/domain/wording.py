"""Counts and amounts in words, the same in Slack and on the operator CLI."""

from __future__ import annotations

from decimal import Decimal


def plural(count: int, noun: str) -> str:
    """`1 recipient`, `2 recipients`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def amount_text(amount: Decimal) -> str:
    """`0.08`: at least two decimals, no trailing zeros past them (a finite amount)."""
    exact = amount.normalize()
    if int(exact.as_tuple().exponent) > -2:
        exact = exact.quantize(Decimal("0.01"))
    return f"{exact:f}"


def decimal_json(value: Decimal | None) -> str | None:
    """A Decimal for JSON or CSV: as a string, so no cent is lost; None stays None."""
    return None if value is None else str(value)
