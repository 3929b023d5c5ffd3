"""The words and marks every Slack surface shares: status emoji, escaping, clipping, times,
money, mentions and number lists. Nothing here builds a block."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from bot.domain.models import FAILURE_STATUSES, PENDING_STATUSES, DeliveryStatus
from bot.domain.phones import display
from bot.domain.wording import amount_text

# How much of a person's text the channel sees.
PREVIEW_CHARS = 200

_STATUS_EMOJI: dict[DeliveryStatus, str] = {
    DeliveryStatus.SCHEDULED: "🗓️",
    DeliveryStatus.DELIVERED: "✅",
    DeliveryStatus.READ: "👀",
    DeliveryStatus.EXPIRED: "⌛",
    DeliveryStatus.NOT_VIBER_USER: "🚫",
    DeliveryStatus.NOT_SERVICE_USER: "🚫",
    DeliveryStatus.REFUSED: "⛔",
    DeliveryStatus.UNKNOWN: "❔",
}

# Good news first, then what is still on its way, then what went wrong.
_STATUS_ORDER: tuple[DeliveryStatus, ...] = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
    *(s for s in DeliveryStatus if s in PENDING_STATUSES and s is not DeliveryStatus.UNKNOWN),
    *(s for s in DeliveryStatus if s in FAILURE_STATUSES),
    DeliveryStatus.UNKNOWN,
)

SMS_EMOJI = "📱"
SMS_FAILED_EMOJI = "📵"
FALLBACK_EMOJI = "↪️"


def status_emoji(status: DeliveryStatus) -> str:
    """The emoji shown beside a status word."""
    if status in _STATUS_EMOJI:
        return _STATUS_EMOJI[status]
    return "❌" if status.is_failure else "⏳"


def status_text(status: DeliveryStatus) -> str:
    """A status as the channel reads it: `✅ delivered`."""
    return f"{status_emoji(status)} {status.label}"


def counts_line(counts: Mapping[DeliveryStatus, int]) -> str:
    """Per-status counts: `✅ delivered 2 · 👀 read 1 · ⏳ sent 3 · ❌ failed 1` ('' when none)."""
    ordered = [s for s in _STATUS_ORDER if counts.get(s)]
    ordered += [s for s in counts if counts[s] and s not in ordered]
    return " · ".join(f"{status_text(s)} {counts[s]}" for s in ordered)


def escape(text: str) -> str:
    """Text safe to echo into a channel: `&`, `<` and `>` escaped, so nothing pings or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_PARTIAL_TAG = re.compile(r"<[^>]*$")


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters with `…`, never mid entity (`&amp;`) or mention."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    newline = cut.rfind("\n")
    if newline > limit // 2:
        cut = cut[:newline]
    cut = _PARTIAL_TAG.sub("", _PARTIAL_ENTITY.sub("", cut))
    return cut + "…"


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The start of a person's text, escaped for the channel."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return escape(text)


def quote(escaped: str) -> str:
    return "\n".join(f">{line}" if line else ">" for line in escaped.splitlines() or [""])


def as_utc(moment: datetime) -> datetime:
    # BSG's times carry no zone and are UTC; so are ours when naive.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def clock(moment: datetime, *, seconds: bool = False) -> str:
    """`12:34 UTC` (or `12:34:56 UTC`)."""
    return as_utc(moment).strftime("%H:%M:%S UTC" if seconds else "%H:%M UTC")


def stamp(moment: datetime) -> str:
    """`2026-01-15 12:34:56 UTC`."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def money(amount: Decimal, currency: str | None) -> str:
    """`0.08 USD`: at least two decimals, no trailing zeros past them."""
    if not amount.is_finite():
        return "unknown"
    words = amount_text(amount)
    if currency:
        words += f" {escape(currency.strip()[:8])}"
    return words


def mention(user_id: str) -> str:
    # Only a well-formed user id becomes a mention; anything else is shown as text.
    if re.fullmatch(r"[UW][A-Z0-9]{1,30}", user_id):
        return f"<@{user_id}>"
    return escape(user_id)


def code_span(text: str, limit: int = 40) -> str:
    # A backtick would end the code span early.
    inner = escape(clip(text.replace("`", "'"), limit))
    return f"`{inner}`"


def numbers_list(msisdns: Sequence[str], masked: bool, listed: int) -> str:
    shown = ", ".join(display(m, masked) for m in msisdns[:listed])
    if len(msisdns) > listed:
        shown += f" … and {len(msisdns) - listed} more"
    return shown
