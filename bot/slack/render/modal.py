"""The send modal (CONTRACT.md): its blocks, ids and hints; every input's block_id equals its
action_id."""

from __future__ import annotations

import json

from bot.domain.limits import (
    BUTTON_CAPTION_MAX,
    OPTION_TEXT_MAX,
    PLACEHOLDER_MAX,
    SENDER_MAX,
    SMS_SENDER_MAX,
    SMS_SENDER_MIN,
    SMS_TEXT_MAX,
    TEXT_MAX,
    VALIDITY_MAX,
    VALIDITY_MIN,
    VIEW_TITLE_MAX,
)
from bot.slack.render.kit import context, input_block, plain, text_input, url_input
from bot.slack.render.text import escape

MODAL_CALLBACK_ID = "viber_send"
PROMOTIONAL_VALUE = "promotional"


def estimate_placeholder() -> dict:
    """The modal's `estimate` context block before anything is typed (live_estimate fills it)."""
    return context("📊 Estimate: add recipients and the text to see counts and price") | {
        "block_id": "estimate"
    }


def send_modal(
    *,
    channel_id: str,
    default_sender: str,
    command: str,
    default_region: str | None = None,
) -> dict:
    """The send modal (CONTRACT.md): every input's block_id equals its action_id."""
    numbers_hint = "Numbers with their country code (+380972920283, 00380… or 380…), "
    numbers_hint += "separated by commas, spaces or new lines."
    if default_region:
        numbers_hint += f" Numbers without a country code are read as {default_region} numbers."
    blocks = [
        context(
            "Sends a Viber message through BSG and reports delivery in this channel. "
            f"Quick send without this form: `{escape(command)} send +380972920283 Hello`."
        ),
        input_block(
            "recipients",
            "Recipients",
            text_input(multiline=True, placeholder="+380972920283, +380972920282"),
            hint=numbers_hint,
            dispatch=True,
        ),
        input_block(
            "recipients_file",
            "Recipients file",
            {"type": "file_input", "filetypes": ["csv", "txt"], "max_files": 1},
            optional=True,
            hint=(
                "Optional CSV: a `phone` column (or the first) and any others, used as "
                "{column} in the text, e.g. Hello {name}. Excel's CSV exports work."
            ),
        ),
        input_block(
            "text",
            "Message",
            text_input(multiline=True, max_length=TEXT_MAX, placeholder="Your order has shipped"),
            hint=f"Up to {TEXT_MAX} characters.",
            dispatch=True,
        ),
        estimate_placeholder(),
        input_block(
            "sender",
            "Sender name",
            text_input(max_length=SENDER_MAX, initial_value=default_sender),
            hint=f"The sender name registered with BSG (up to {SENDER_MAX} characters).",
        ),
        input_block(
            "promotional",
            "Message type",
            {
                "type": "checkboxes",
                "options": [
                    {
                        "text": plain("Promotional", OPTION_TEXT_MAX),
                        "description": plain(
                            "Marketing content. Leave unticked for transactional messages.",
                            OPTION_TEXT_MAX,
                        ),
                        "value": PROMOTIONAL_VALUE,
                    }
                ],
            },
            optional=True,
        ),
        {"type": "divider"},
        input_block(
            "image_url",
            "Image URL",
            url_input("https://example.com/picture.png"),
            optional=True,
            hint="An image needs the button below too (BSG's rule).",
        ),
        input_block(
            "button_caption",
            "Button caption",
            text_input(max_length=BUTTON_CAPTION_MAX, placeholder="Track order"),
            optional=True,
            hint="A button needs both a caption and a URL.",
        ),
        input_block(
            "button_url",
            "Button URL",
            url_input("https://example.com/track"),
            optional=True,
        ),
        {"type": "divider"},
        input_block(
            "sms_text",
            "SMS fallback text",
            text_input(multiline=True, max_length=SMS_TEXT_MAX),
            optional=True,
            hint="Sent by SMS when Viber cannot deliver. Leave empty for no SMS fallback.",
            dispatch=True,
        ),
        input_block(
            "sms_sender",
            "SMS sender",
            text_input(max_length=SMS_SENDER_MAX, placeholder="Defaults to the sender name"),
            optional=True,
            hint=f"{SMS_SENDER_MIN} to {SMS_SENDER_MAX} characters; "
            "the sender name is used when left empty.",
        ),
        input_block(
            "send_at",
            "Send at",
            {"type": "datetimepicker"},
            optional=True,
            hint="In your time zone. Leave empty to send now.",
        ),
        input_block(
            "validity",
            "Validity (seconds)",
            {
                "type": "number_input",
                "is_decimal_allowed": False,
                "min_value": str(VALIDITY_MIN),
                "max_value": str(VALIDITY_MAX),
                "placeholder": plain(str(VALIDITY_MAX), PLACEHOLDER_MAX),
            },
            optional=True,
            hint=f"How long the message may wait for delivery: {VALIDITY_MIN} to "
            f"{VALIDITY_MAX} seconds (BSG's default is {VALIDITY_MAX}).",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK_ID,
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "title": plain("Send Viber message", VIEW_TITLE_MAX),
        "submit": plain("Send", VIEW_TITLE_MAX),
        "close": plain("Cancel", VIEW_TITLE_MAX),
        "blocks": blocks,
    }


def modal_channel(private_metadata: str) -> str | None:
    """The channel id `send_modal` stored in the view, or None when it is not there."""
    try:
        data = json.loads(private_metadata or "")
    except ValueError:
        return None
    channel = data.get("channel_id") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) and channel else None
