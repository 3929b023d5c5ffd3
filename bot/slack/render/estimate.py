"""Wording and Block Kit of the send estimate: the modal's `estimate` block and its lines."""

from __future__ import annotations

from decimal import Decimal

from bot.domain.limits import CONTEXT_TEXT_MAX
from bot.domain.wording import plural
from bot.slack.estimate import INVALID_NAMED, Estimate, PriceState
from bot.slack.render.modal import estimate_placeholder
from bot.slack.render.text import clip, code_span, money

ESTIMATE_BLOCK_ID = "estimate"


def counts_text(estimate: Estimate) -> str:
    """`3 valid · 1 invalid (`+3801`) · 1 duplicate · 2 opted out`."""
    parts = [f"*{plural(estimate.valid, 'recipient')}*"]
    if estimate.invalid:
        named = ", ".join(code_span(t, 30) for t in estimate.invalid[:INVALID_NAMED])
        more = len(estimate.invalid) - INVALID_NAMED
        if more > 0:
            named += f" and {more} more"
        parts.append(f"{len(estimate.invalid)} invalid ({named})")
    if estimate.duplicates:
        parts.append(plural(estimate.duplicates, "duplicate"))
    if estimate.opted_out:
        parts.append(f"{estimate.opted_out} opted out")
    return " · ".join(parts)


def sms_text(estimate: Estimate) -> str:
    """`SMS fallback: 2 segments, UCS-2 (67 characters each)`, or that there is none."""
    if estimate.sms is None:
        return "No SMS fallback"
    sms = estimate.sms
    return (
        f"SMS fallback: {plural(sms.segments, 'segment')}, {sms.encoding.value} "
        f"({sms.units}/{sms.per_segment * max(sms.segments, 1)} characters, "
        f"{sms.per_segment} per segment)"
    )


def price_text(estimate: Estimate) -> str:
    """The Viber price and the worst case, `checking…`, or `price unavailable`."""
    if estimate.price_state is PriceState.NOT_ASKED:
        return "Price: shown once there is a number and a text"
    if estimate.price_state is PriceState.CHECKING:
        return "Price: checking with BSG…"
    if estimate.price_state is PriceState.UNAVAILABLE or estimate.viber_price is None:
        return "Price unavailable (BSG did not answer); you can still send"
    words = f"Viber: *{money(estimate.viber_price, estimate.currency)}*"
    worst = estimate.worst_case
    if estimate.sms is not None:
        if worst is not None:
            words += (
                f" · worst case, every one falling back to SMS: *{money(worst, estimate.currency)}*"
            )
        else:
            words += " · SMS price unavailable"
    return words


def estimate_lines(estimate: Estimate) -> list[str]:
    lines = [counts_text(estimate), sms_text(estimate), price_text(estimate)]
    if estimate.valid == 0 and not estimate.invalid:
        lines[0] = "Add recipients to see the estimate"
    return lines


def estimate_block(estimate: Estimate | None) -> dict:
    """The modal's context block `estimate` (kept current with views.update)."""
    if estimate is None:
        return estimate_placeholder()
    lines = estimate_lines(estimate)
    lines[0] = "📊 " + lines[0]
    return {
        "type": "context",
        "block_id": ESTIMATE_BLOCK_ID,
        "elements": [{"type": "mrkdwn", "text": clip(line, CONTEXT_TEXT_MAX)} for line in lines],
    }


def estimate_summary(estimate: Estimate) -> str:
    """The estimate as one private text (quick sends, confirmations)."""
    return "\n".join(estimate_lines(estimate))


def cost_of(estimate: Estimate) -> Decimal | None:
    """The amount compared with VIBER_BOT_REVIEW_COST: the worst case when known."""
    return estimate.worst_case if estimate.worst_case is not None else estimate.viber_price


def estimated_note(amount: Decimal, currency: str | None) -> str:
    """The card's cost before BSG's own prices arrive."""
    return f"💰 about {money(amount, currency)} (estimated; BSG's prices follow)"
