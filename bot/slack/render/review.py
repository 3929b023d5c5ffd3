"""Wording and Block Kit of the review step (`viber_review`) and the quick-send confirmation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.domain.models import Balance, MessageContent
from bot.domain.phones import display
from bot.domain.wording import plural
from bot.slack.estimate import Estimate, PriceState
from bot.slack.render.estimate import cost_of, counts_text, price_text, sms_text
from bot.slack.render.modal import MODAL_CALLBACK_ID
from bot.slack.render.text import clip, escape, money, preview, stamp

REVIEW_CALLBACK_ID = "viber_review"
REVIEW_SEND = "review_send"
REVIEW_BACK = "review_back"
QUICK_CONFIRM = "quick_confirm"
NUMBERS_SHOWN = 10
_SECTION_MAX = 3000


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, _SECTION_MAX)}}


def _context(*lines: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(line, _SECTION_MAX)} for line in lines[:10]],
    }


def _quote(text: str) -> str:
    return "\n".join(f">{line}" if line else ">" for line in escape(text).splitlines() or [""])


def _numbers(msisdns: Sequence[str]) -> str:
    # The review is private to the sender: full numbers (CONTRACT: private answers may).
    shown = ", ".join(display(m, False) for m in msisdns[:NUMBERS_SHOWN])
    if len(msisdns) > NUMBERS_SHOWN:
        shown += f" … and {len(msisdns) - NUMBERS_SHOWN} more"
    return shown


def recipient_preview(content: MessageContent) -> list[dict[str, Any]]:
    """The message as the recipient's Viber shows it: sender, text, image and button."""
    blocks = [_section(f"*{escape(content.sender)}*\n{_quote(content.text)}")]
    if content.image_url:
        # A link rather than an image block: Slack refuses a whole view whose image it
        # cannot fetch, and the review must always open.
        blocks.append(_context(f"🖼️ Image: {escape(content.image_url)}"))
    if content.button_caption and content.button_url:
        blocks.append(
            _context(f"🔘 *[ {escape(content.button_caption)} ]* → {escape(content.button_url)}")
        )
    if content.sms is not None:
        blocks.append(
            _context(
                f"📱 SMS fallback from *{escape(content.sms.originator)}*: "
                f"{preview(content.sms.text, 300)}"
            )
        )
    return blocks


def balance_text(balance: Balance | None, estimate: Estimate, *, checking: bool) -> str:
    """`Balance after the send: 99.96 EUR (now 100.00 EUR)`."""
    if checking:
        return "Balance after the send: checking with BSG…"
    if balance is None:
        return "Balance after the send: unavailable (BSG did not answer)"
    cost = cost_of(estimate)
    if cost is None or estimate.price_state is not PriceState.OK:
        return f"Balance now: {money(balance.amount, balance.currency)} (price unavailable)"
    after = balance.amount - cost
    words = (
        f"Balance after the send: *{money(after, balance.currency)}* "
        f"(now {money(balance.amount, balance.currency)})"
    )
    if after < Decimal(0):
        words += " ⚠️ not enough funds: BSG will refuse what the balance does not cover"
    return words


def review_view(
    *,
    token: str,
    content: MessageContent,
    msisdns: Sequence[str],
    estimate: Estimate,
    balance: Balance | None,
    checking: bool,
) -> dict[str, Any]:
    """The review step: what goes out, to whom, for how much; Send or Back."""
    count = len(msisdns)
    kind = "promotional" if content.promotional else "transactional"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain("Check before sending", 150)},
        _section(f"A {kind} Viber message to *{count}* recipients: {_numbers(msisdns)}"),
        {"type": "divider"},
        _context("*As the recipient sees it*"),
        *recipient_preview(content),
        {"type": "divider"},
        _context(counts_text(estimate), sms_text(estimate)),
        _section(price_text(estimate) + "\n" + balance_text(balance, estimate, checking=checking)),
    ]
    if content.send_at is not None:
        blocks.append(_context(f"🗓️ Scheduled for {stamp(content.send_at)}"))
    if content.validity is not None:
        blocks.append(_context(f"⏱️ Valid for {content.validity} seconds"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "review",
            "elements": [
                {
                    "type": "button",
                    "action_id": REVIEW_SEND,
                    "text": _plain(f"Send to {count}"),
                    "style": "primary",
                    "value": token,
                },
                {
                    "type": "button",
                    "action_id": REVIEW_BACK,
                    "text": _plain("Back"),
                    "value": token,
                },
            ],
        }
    )
    return {
        "type": "modal",
        "callback_id": REVIEW_CALLBACK_ID,
        "private_metadata": json.dumps({"token": token}),
        "title": _plain("Review the send", 24),
        "close": _plain("Cancel", 24),
        "blocks": blocks,
    }


def sent_view(count: int, channel_id: str) -> dict[str, Any]:
    """What the modal shows once Send was pressed."""
    return {
        "type": "modal",
        "callback_id": REVIEW_CALLBACK_ID,
        "title": _plain("Sending", 24),
        "close": _plain("Close", 24),
        "blocks": [
            _section(
                f"📨 Sending to *{count}* recipients. Delivery is reported in "
                f"<#{channel_id}>, in a thread under the message."
            )
        ],
    }


def notice_view(text: str) -> dict[str, Any]:
    """A modal that only says something (a refused or already-used review)."""
    return {
        "type": "modal",
        "callback_id": REVIEW_CALLBACK_ID,
        "title": _plain("Viber message", 24),
        "close": _plain("Close", 24),
        "blocks": [_section(text)],
    }


def _initial(element: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """`element` with what was typed set as its initial value."""
    filled = dict(element)
    kind = element.get("type")
    for name in ("initial_value", "initial_options", "initial_date_time"):
        filled.pop(name, None)
    if kind in ("plain_text_input", "url_text_input", "number_input"):
        if state.get("value") not in (None, ""):
            filled["initial_value"] = str(state["value"])
    elif kind == "checkboxes":
        chosen = {o.get("value") for o in state.get("selected_options") or []}
        options = [o for o in element.get("options") or [] if o.get("value") in chosen]
        if options:
            filled["initial_options"] = options
    elif kind == "datetimepicker" and state.get("selected_date_time") is not None:
        filled["initial_date_time"] = int(state["selected_date_time"])
    return filled


def refilled_modal(
    blocks: Sequence[Mapping[str, Any]],
    values: Mapping[str, Mapping[str, Any]],
    *,
    private_metadata: str,
    title: Mapping[str, Any],
    submit: Mapping[str, Any],
    close: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The send modal again (Back from the review), every field as it was typed."""
    refilled = []
    for block in blocks:
        block = dict(block)
        if block.get("type") == "input" and isinstance(block.get("element"), Mapping):
            element = block["element"]
            state = (values.get(block.get("block_id", "")) or {}).get(element.get("action_id"))
            block["element"] = _initial(element, state or {})
        refilled.append(block)
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": MODAL_CALLBACK_ID,
        "private_metadata": private_metadata,
        "title": dict(title),
        "submit": dict(submit),
        "blocks": refilled,
    }
    if close:
        view["close"] = dict(close)
    return view


# ---------------------------------------------------------------- quick sends


def quick_checking_text(count: int) -> str:
    return f"Checking the price of sending to {plural(count, 'recipient')} with BSG…"


def quick_confirm_message(
    *, token: str, count: int, text: str, estimate: Estimate, ttl_minutes: int
) -> tuple[str, list[dict[str, Any]]]:
    """The private answer to a big `/viber send`: the estimate and a Send button."""
    summary = (
        f"This sends a Viber message to *{count}* recipients:\n"
        f"{_quote(clip(text, 500))}\n"
        f"{counts_text(estimate)} · {price_text(estimate)}"
    )
    blocks = [
        _section(summary),
        {
            "type": "actions",
            "block_id": "quick",
            "elements": [
                {
                    "type": "button",
                    "action_id": QUICK_CONFIRM,
                    "text": _plain(f"Send to {count}"),
                    "style": "primary",
                    "value": token,
                }
            ],
        },
        _context(
            "Nothing is sent until you press Send. "
            f"The button works once, for {ttl_minutes} minutes."
        ),
    ]
    return f"Confirm sending to {plural(count, 'recipient')}", blocks


def quick_sending_text(count: int) -> str:
    return f"📨 Sending to {plural(count, 'recipient')}…"


QUICK_UNKNOWN = "That confirmation is unknown: nothing was sent."
QUICK_NOT_YOURS = "Only the person who ran the command can confirm it. Nothing was sent."


def quick_used_text() -> str:
    return "This send was already confirmed: it goes out once. Nothing more was sent."


def quick_expired_text(ttl_minutes: int, command: str) -> str:
    return (
        f"This confirmation expired after {ttl_minutes} minutes: nothing was sent. "
        f"Run `{escape(command)} send …` again to send."
    )
