"""The parent message in the channel: who sent what to whom, and a live per-status summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.domain.limits import FALLBACK_TEXT_MAX, MESSAGE_BLOCKS_MAX
from bot.domain.models import DeliveryStatus, count_statuses
from bot.domain.phones import display
from bot.domain.wording import plural
from bot.slack.render.bsg_errors import BSG_EXPLANATIONS, explain_bsg_code
from bot.slack.render.kit import context, listing, section
from bot.slack.render.text import (
    SMS_EMOJI,
    clip,
    clock,
    code_span,
    counts_line,
    escape,
    mention,
    money,
    preview,
    quote,
    stamp,
    status_text,
)

RECIPIENTS_LISTED = 10


@dataclass(frozen=True)
class RecipientLine:
    """One recipient as the parent message shows it."""

    msisdn: str
    status: DeliveryStatus
    sms_status: DeliveryStatus | None = None
    bsg_id: str | None = None
    error_code: int | None = None
    error_description: str | None = None

    @property
    def refused(self) -> bool:
        return self.status is DeliveryStatus.REFUSED or self.error_code is not None


@dataclass(frozen=True)
class ParentView:
    """Everything the parent message in the channel shows about one send."""

    user_id: str
    text: str
    sender: str
    recipients: Sequence[RecipientLine]
    # Per-status counts of the Viber messages; counted from `recipients` when empty.
    counts: Mapping[DeliveryStatus, int] = field(default_factory=dict)
    total_cost: Decimal | None = None  # Viber and SMS together
    currency: str | None = None
    last_checked: datetime | None = None
    scheduled_for: datetime | None = None
    mask: bool = True
    promotional: bool = False
    # Links and notes (retries, resends, exports) and the card's action buttons.
    notes: Sequence[str] = ()
    actions: dict | None = None
    opted_out: Sequence[str] = ()  # left out of the send: they opted out
    collapsed: int = 0  # numbers given more than once, sent once


def _recipient_line(line: RecipientLine, masked: bool) -> str:
    words = f"• {display(line.msisdn, masked)} — {status_text(line.status)}"
    if line.sms_status is not None:
        words += f" · {SMS_EMOJI} SMS {status_text(line.sms_status)}"
    if line.bsg_id:
        words += f" · BSG id {code_span(line.bsg_id)}"
    return words


def _refusal_line(line: RecipientLine, masked: bool) -> str:
    who = display(line.msisdn, masked)
    if line.error_code is None:
        return f"• {who} — {status_text(line.status)}"
    words = f"• {who} — code {line.error_code}: {escape(explain_bsg_code(line.error_code))}"
    if line.error_description and line.error_code not in BSG_EXPLANATIONS:
        words += f" (“{escape(clip(line.error_description, 100))}”)"
    return words


def parent_message(view: ParentView) -> tuple[str, list[dict]]:
    """The channel's parent post for one send: (fallback text, blocks)."""
    accepted = [r for r in view.recipients if not r.refused]
    refused = [r for r in view.recipients if r.refused]
    counts = view.counts or count_statuses([r.status for r in view.recipients])
    sms_counts = count_statuses([r.sms_status for r in view.recipients])
    kind = "promotional" if view.promotional else "transactional"
    total = len(view.recipients)

    intro = (
        f"📨 {mention(view.user_id)} sent a {kind} Viber message as "
        f"*{escape(view.sender)}* to {plural(total, 'recipient')}"
    )
    if view.scheduled_for is not None:
        intro += f"\n🗓️ Scheduled for {stamp(view.scheduled_for)}"
    blocks = [section(intro), section(quote(preview(view.text)))]
    if accepted:
        lines = [_recipient_line(r, view.mask) for r in accepted[:RECIPIENTS_LISTED]]
        blocks.append(section(listing("Recipients", lines, len(accepted))))
    if refused:
        lines = [_refusal_line(r, view.mask) for r in refused[:RECIPIENTS_LISTED]]
        blocks.append(section(listing(f"Refused by BSG ({len(refused)})", lines, len(refused))))
    if view.opted_out:
        lines = [f"• {display(m, view.mask)}" for m in view.opted_out[:RECIPIENTS_LISTED]]
        title = f"Skipped: opted out ({len(view.opted_out)})"
        blocks.append(section(listing(title, lines, len(view.opted_out))))

    facts = [counts_line(counts)]
    if sms_counts:
        facts.append(f"{SMS_EMOJI} SMS: {counts_line(sms_counts)}")
    if view.total_cost is not None:
        facts.append(f"💰 {money(view.total_cost, view.currency)}")
    if view.collapsed:
        facts.append(f"{plural(view.collapsed, 'duplicate')} collapsed")
    if view.last_checked is not None:
        facts.append(f"last checked {clock(view.last_checked, seconds=True)}")
    if any(facts):
        blocks.append(context(*facts))
    if view.notes:
        blocks.append(context(*view.notes))
    if view.actions is not None:
        blocks.append(view.actions)

    fallback = (
        f"Viber message from {mention(view.user_id)} to {plural(total, 'recipient')}: "
        f"{preview(view.text, 100)}"
    )
    return clip(fallback, FALLBACK_TEXT_MAX), blocks[:MESSAGE_BLOCKS_MAX]
