"""Wording and Block Kit of the review step (`viber_review`) and the quick-send confirmation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from bot.domain.limits import BUTTON_TEXT_MAX, VIEW_TITLE_MAX
from bot.domain.models import Balance, MessageContent
from bot.domain.wording import plural
from bot.slack.estimate import Estimate, PriceState
from bot.slack.render.estimate import cost_of, counts_text, price_text, sms_text
from bot.slack.render.kit import context, header, notice_modal, plain, section
from bot.slack.render.modal import MODAL_CALLBACK_ID
from bot.slack.render.text import clip, escape, money, numbers_list, preview, quote, stamp

REVIEW_CALLBACK_ID = "viber_review"
REVIEW_SEND = "review_send"
REVIEW_BACK = "review_back"
QUICK_CONFIRM = "quick_confirm"
NUMBERS_SHOWN = 10


def _numbers(msisdns: Sequence[str]) -> str:
    # The review is private to the sender: full numbers (CONTRACT: private answers may).
    return numbers_list(msisdns, False, NUMBERS_SHOWN)


def recipient_preview(content: MessageContent) -> list[dict[str, Any]]:
    """The message as the recipient's Viber shows it: sender, text, image and button."""
    blocks = [section(f"*{escape(content.sender)}*\n{quote(escape(content.text))}")]
    if content.image_url:
        # A link rather than an image block: Slack refuses a whole view whose image it
        # cannot fetch, and the review must always open.
        blocks.append(context(f"🖼️ Image: {escape(content.image_url)}"))
    if content.button_caption and content.button_url:
        blocks.append(
            context(f"🔘 *[ {escape(content.button_caption)} ]* → {escape(content.button_url)}")
        )
    if content.sms is not None:
        blocks.append(
            context(
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
        header("Check before sending"),
        section(f"A {kind} Viber message to *{count}* recipients: {_numbers(msisdns)}"),
        {"type": "divider"},
        context("*As the recipient sees it*"),
        *recipient_preview(content),
        {"type": "divider"},
        context(counts_text(estimate), sms_text(estimate)),
        section(price_text(estimate) + "\n" + balance_text(balance, estimate, checking=checking)),
    ]
    if content.send_at is not None:
        blocks.append(context(f"🗓️ Scheduled for {stamp(content.send_at)}"))
    if content.validity is not None:
        blocks.append(context(f"⏱️ Valid for {content.validity} seconds"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "review",
            "elements": [
                {
                    "type": "button",
                    "action_id": REVIEW_SEND,
                    "text": plain(f"Send to {count}", BUTTON_TEXT_MAX),
                    "style": "primary",
                    "value": token,
                },
                {
                    "type": "button",
                    "action_id": REVIEW_BACK,
                    "text": plain("Back", BUTTON_TEXT_MAX),
                    "value": token,
                },
            ],
        }
    )
    return {
        "type": "modal",
        "callback_id": REVIEW_CALLBACK_ID,
        "private_metadata": json.dumps({"token": token}),
        "title": plain("Review the send", VIEW_TITLE_MAX),
        "close": plain("Cancel", VIEW_TITLE_MAX),
        "blocks": blocks,
    }


def sent_view(count: int, channel_id: str) -> dict[str, Any]:
    """What the modal shows once Send was pressed."""
    return {
        "type": "modal",
        "callback_id": REVIEW_CALLBACK_ID,
        "title": plain("Sending", VIEW_TITLE_MAX),
        "close": plain("Close", VIEW_TITLE_MAX),
        "blocks": [
            section(
                f"📨 Sending to *{count}* recipients. Delivery is reported in "
                f"<#{channel_id}>, in a thread under the message."
            )
        ],
    }


def notice_view(text: str) -> dict[str, Any]:
    """A modal that only says something (a refused or already-used review)."""
    return notice_modal(REVIEW_CALLBACK_ID, text)


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
        f"{quote(escape(clip(text, 500)))}\n"
        f"{counts_text(estimate)} · {price_text(estimate)}"
    )
    blocks = [
        section(summary),
        {
            "type": "actions",
            "block_id": "quick",
            "elements": [
                {
                    "type": "button",
                    "action_id": QUICK_CONFIRM,
                    "text": plain(f"Send to {count}", BUTTON_TEXT_MAX),
                    "style": "primary",
                    "value": token,
                }
            ],
        },
        context(
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
