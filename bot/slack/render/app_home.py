"""The App Home tab: BSG balance, the poller's health and the recent sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bot.domain.limits import VIEW_BLOCKS_MAX
from bot.domain.models import Balance, DeliveryStatus, SendOutcome
from bot.domain.wording import plural
from bot.slack.render.kit import context, header, listing, section
from bot.slack.render.text import (
    as_utc,
    clip,
    counts_line,
    escape,
    mention,
    money,
    numbers_list,
    preview,
    quote,
    stamp,
    status_text,
)

HOME_ERRORS_LISTED = 5


@dataclass(frozen=True)
class HomeSend:
    """One recent send as App Home lists it."""

    created_at: datetime
    user_id: str
    recipient_count: int
    counts: Mapping[DeliveryStatus, int] = field(default_factory=dict)
    total_cost: Decimal | None = None
    currency: str | None = None
    msisdns: Sequence[str] = ()  # the first few recipients, shown masked
    text: str = ""
    outcome: SendOutcome | None = None
    error_code: int | None = None


@dataclass(frozen=True)
class PollerHealth:
    """How the status poller is doing, for App Home."""

    last_sweep: datetime | None
    due: int
    recent_errors: Sequence[str] = ()


def _home_send(send: HomeSend, masked: bool) -> str:
    first = f"*{as_utc(send.created_at).strftime('%Y-%m-%d %H:%M UTC')}* · {mention(send.user_id)}"
    first += f" · {plural(send.recipient_count, 'recipient')}"
    if send.msisdns:
        first += f" ({numbers_list(list(send.msisdns), masked, 3)})"
    facts = []
    if send.outcome is SendOutcome.REFUSED:
        refused = "⛔ refused by BSG"
        if send.error_code is not None:
            refused += f" (code {send.error_code})"
        facts.append(refused)
    elif send.outcome in (SendOutcome.PENDING, SendOutcome.NOT_SENT):
        facts.append(status_text(DeliveryStatus(send.outcome.value)))
    if send.counts:
        facts.append(counts_line(send.counts))
    if send.total_cost is not None:
        facts.append(f"💰 {money(send.total_cost, send.currency)}")
    lines = [first]
    if any(facts):
        lines.append(" · ".join(f for f in facts if f))
    if send.text:
        lines.append(quote(preview(send.text, 80)))
    return "\n".join(lines)


def app_home(
    *,
    sends: Sequence[HomeSend],
    health: PollerHealth,
    balance: Balance | None,
    mask: bool = True,
    command: str = "/viber",
    lists: Sequence[tuple[str, int]] = (),
) -> dict:
    """The App Home tab: recent sends, poller health, BSG balance and saved lists (≤100 blocks)."""
    money_left = money(balance.amount, balance.currency) if balance is not None else "unavailable"
    sweep = (
        f"last sweep {stamp(health.last_sweep)}"
        if health.last_sweep is not None
        else "no sweep yet"
    )
    poller = f"🩺 *Status poller:* {sweep} · {plural(health.due, 'message')} due"
    errors = [f"• {escape(clip(e, 200))}" for e in health.recent_errors[:HOME_ERRORS_LISTED]]
    if errors:
        poller += "\n*Recent errors*\n" + "\n".join(errors)
    blocks: list[dict] = [
        header("Viber messages"),
        section(f"💰 *BSG balance:* {money_left}"),
        section(poller),
        context(f"Send with `{escape(command)}` in a channel; `{escape(command)} help` for more."),
        {"type": "divider"},
    ]
    if lists:
        shown_lists = [f"• `@{escape(name)}` — {plural(size, 'number')}" for name, size in lists]
        blocks += [section(listing(f"Saved lists ({len(lists)})", shown_lists, len(lists)))]
        blocks.append({"type": "divider"})
    blocks.append(header("Recent sends"))
    # The caller passes only the recent sends (bot.slack.home.RECENT_SENDS): all fit.
    blocks += [section(_home_send(send, mask)) for send in sends]
    if not sends:
        blocks.append(section("No sends yet."))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}
