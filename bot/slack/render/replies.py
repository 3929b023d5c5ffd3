"""Thread replies under the parent: one line per change, or one summary for a large send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.domain.limits import SECTION_TEXT_MAX
from bot.domain.models import Channel, DeliveryStatus
from bot.domain.phones import display
from bot.slack.render.text import (
    FALLBACK_EMOJI,
    SMS_EMOJI,
    SMS_FAILED_EMOJI,
    clip,
    clock,
    money,
    numbers_list,
    status_emoji,
)

SUMMARY_NAMES = 10


@dataclass(frozen=True)
class ReplyEvent:
    """One status change of one recipient, as a thread reply tells it."""

    msisdn: str
    channel: Channel
    status: DeliveryStatus
    at: datetime
    price: Decimal | None = None
    currency: str | None = None
    mask: bool = True


def _capitalised(words: str) -> str:
    return words[:1].upper() + words[1:]


def _headline(channel: Channel, status: DeliveryStatus) -> tuple[int, str, str]:
    """(rank for ordering, emoji, words) of a change, e.g. (0, '✅', 'Delivered')."""
    if channel is Channel.SMS:
        if status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
            return 3, SMS_EMOJI, "SMS delivered"
        if status.is_failure:
            return 5, SMS_FAILED_EMOJI, "SMS failed"
        return 2, FALLBACK_EMOJI, "Fell back to SMS"
    if status is DeliveryStatus.DELIVERED:
        return 0, status_emoji(status), "Delivered"
    if status is DeliveryStatus.READ:
        return 1, status_emoji(status), "Read"
    if status.is_failure:
        return 4, status_emoji(status), _capitalised(status.label)
    return 6, status_emoji(status), _capitalised(status.label)


def reply_line(event: ReplyEvent) -> str:
    """One thread reply: `✅ Delivered — +380 ••••• 0283 · 12:34 UTC · 0.08 USD`."""
    _, emoji, words = _headline(event.channel, event.status)
    if (
        event.channel is Channel.SMS
        and event.status.is_failure
        and event.status is not DeliveryStatus.FAILED
    ):
        words += f" ({event.status.label})"
    line = f"{emoji} {words} — {display(event.msisdn, event.mask)} · {clock(event.at)}"
    if event.price is not None:
        line += f" · {money(event.price, event.currency)}"
    return line


def summary_reply(events: Sequence[ReplyEvent], mask: bool) -> str:
    """One reply for many changes, grouped by what happened ('' when there are none)."""
    if not events:
        return ""
    groups: dict[tuple[int, str, str], list[ReplyEvent]] = {}
    for event in events:
        groups.setdefault(_headline(event.channel, event.status), []).append(event)

    lines = [f"📊 Status update at {clock(max(e.at for e in events))}"]
    for (_, emoji, words), members in sorted(groups.items()):
        msisdns = list(dict.fromkeys(e.msisdn for e in members))
        line = f"{emoji} {words} ({len(msisdns)}): {numbers_list(msisdns, mask, SUMMARY_NAMES)}"
        cost = _total(members)
        if cost:
            line += f" · {cost}"
        lines.append(line)
    return clip("\n".join(lines), SECTION_TEXT_MAX)


def _total(events: Sequence[ReplyEvent]) -> str:
    priced = [e for e in events if e.price is not None]
    currencies = {e.currency for e in priced}
    if not priced or len(currencies) != 1:
        return ""
    amount = sum((e.price or Decimal(0) for e in priced), Decimal(0))
    return money(amount, currencies.pop())
