"""Block Kit builders: the modal's contract, escaping, masking and Slack's size limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.domain.errors import AccessDenied, Denial
from bot.domain.field_problems import FieldFault, FieldProblem
from bot.domain.models import (
    Balance,
    Channel,
    DeliveryStatus,
    MessageStatus,
    SendOutcome,
    SmsStatus,
)
from bot.domain.phones import NumberFault, NumberProblem
from bot.domain.recipients_file import FileFault, RecipientsFileError
from bot.slack.render import input_errors, private
from bot.slack.render.app_home import HomeSend, PollerHealth, app_home
from bot.slack.render.modal import modal_channel, send_modal
from bot.slack.render.parent import ParentView, RecipientLine, parent_message
from bot.slack.render.private import refusal_text, status_answer, usage_text
from bot.slack.render.replies import ReplyEvent, reply_line, summary_reply
from bot.slack.render.text import clip, counts_line, escape

NUMBER = "380972920283"
MASKED = "+380 ••••• 0283"
AT = datetime(2026, 1, 15, 12, 34, 56, tzinfo=UTC)
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U999>", "<http://evil.example|click>")
HOSTILE = "Hi <!channel> <!here> <!everyone> <@U999> <http://evil.example|click> & bye"


def strings(value: object) -> Iterator[str]:
    """Every string inside a Block Kit structure."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def assert_message_limits(blocks: list[dict]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()
        if block["type"] == "section":
            assert len(block.get("text", {}).get("text", "")) <= 3000
            assert len(block.get("fields", [])) <= 10
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])


def numbers(count: int, prefix: str = "3809729") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]


# ---------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&lt;", "&amp;lt;"),
        ("*bold* _it_ `code` @channel", "*bold* _it_ `code` @channel"),
        ("Привіт 👋", "Привіт 👋"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_clip_never_cuts_an_entity_in_half() -> None:
    text = escape("&" * 100)
    for limit in range(2, 60):
        cut = clip(text, limit)
        assert len(cut) <= limit
        assert cut.endswith("…")
        assert cut[:-1].replace("&amp;", "") == ""


# ---------------------------------------------------------------- the modal


MODAL_ELEMENTS = {
    "recipients": "plain_text_input",
    "recipients_file": "file_input",
    "text": "plain_text_input",
    "sender": "plain_text_input",
    "promotional": "checkboxes",
    "image_url": "url_text_input",
    "button_caption": "plain_text_input",
    "button_url": "url_text_input",
    "sms_text": "plain_text_input",
    "sms_sender": "plain_text_input",
    "send_at": "datetimepicker",
    "validity": "number_input",
}
REQUIRED = {"recipients", "text", "sender"}


@pytest.fixture
def modal() -> dict:
    return send_modal(channel_id="C0123ABC", default_sender="Acme", command="/viber")


def inputs(view: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def test_modal_shape(modal: dict) -> None:
    assert modal["type"] == "modal"
    assert modal["callback_id"] == "viber_send"
    assert json.loads(modal["private_metadata"]) == {"channel_id": "C0123ABC"}
    assert modal_channel(modal["private_metadata"]) == "C0123ABC"
    assert modal["title"]["text"] == "Send Viber message"
    assert modal["submit"]["text"] == "Send"
    assert modal["close"]["text"] == "Cancel"
    View(**modal).validate_json()


def test_modal_inputs_match_the_contract(modal: dict) -> None:
    blocks = inputs(modal)
    assert list(blocks) == list(MODAL_ELEMENTS)
    for block_id, block in blocks.items():
        assert block["element"]["action_id"] == block_id
        assert block["element"]["type"] == MODAL_ELEMENTS[block_id]
        assert block["optional"] is (block_id not in REQUIRED)


def test_modal_element_limits(modal: dict) -> None:
    blocks = inputs(modal)
    element = {block_id: block["element"] for block_id, block in blocks.items()}
    assert element["recipients"]["multiline"] is True
    assert element["text"]["multiline"] is True
    assert element["text"]["max_length"] == 1000
    assert element["sender"]["max_length"] == 14
    assert element["sender"]["initial_value"] == "Acme"
    assert element["sms_text"]["multiline"] is True
    assert element["sms_text"]["max_length"] == 765
    assert element["sms_sender"]["max_length"] == 15
    assert element["button_caption"]["max_length"] == 30
    assert [o["value"] for o in element["promotional"]["options"]] == ["promotional"]
    validity = element["validity"]
    assert validity["is_decimal_allowed"] is False
    assert (validity["min_value"], validity["max_value"]) == ("15", "86400")


def test_modal_mentions_region_when_set() -> None:
    view = send_modal(channel_id="C1", default_sender="Acme", command="/sms", default_region="UA")
    assert "UA" in inputs(view)["recipients"]["hint"]["text"]
    assert any("/sms" in s for s in strings(view))


@pytest.mark.parametrize("metadata", ["", "C1", "[]", '{"channel_id": 5}', "{}"])
def test_modal_channel_tolerates_junk(metadata: str) -> None:
    assert modal_channel(metadata) is None


# ---------------------------------------------------------------- the parent message


def parent_view(**overrides: object) -> ParentView:
    fields: dict = {
        "user_id": "U123",
        "text": HOSTILE,
        "sender": "Acme",
        "recipients": [
            RecipientLine(NUMBER, DeliveryStatus.DELIVERED, bsg_id="15"),
            RecipientLine("380972920282", DeliveryStatus.READ, bsg_id="16"),
            RecipientLine(
                "380972920281",
                DeliveryStatus.NOT_VIBER_USER,
                sms_status=DeliveryStatus.DELIVERED,
                bsg_id="17",
            ),
            RecipientLine(
                "380972920280",
                DeliveryStatus.REFUSED,
                error_code=41,
                error_description="Invalid phone number",
            ),
        ],
        "total_cost": Decimal("0.2400000"),
        "currency": "EUR",
        "last_checked": AT,
    }
    fields.update(overrides)
    return ParentView(**fields)


def test_parent_message_shows_the_send() -> None:
    fallback, blocks = parent_message(parent_view())
    text = "\n".join(strings(blocks))
    assert "<@U123>" in text
    assert "*Acme*" in text
    assert "transactional" in text
    assert "4 recipients" in text
    assert MASKED in text
    assert "BSG id `15`" in text
    assert "code 41: BSG says the phone number is invalid" in text
    assert "✅ delivered 1" in text
    assert "👀 read 1" in text
    assert "🚫 not a Viber user 1" in text
    assert "📱 SMS: ✅ delivered 1" in text
    assert "0.24 EUR" in text
    assert "last checked 12:34:56 UTC" in text
    assert "<@U123>" in fallback
    assert_message_limits(blocks)


def test_parent_message_escapes_everything_echoed() -> None:
    view = parent_view(sender="<!here>&", user_id="<!channel>")
    fallback, blocks = parent_message(view)
    for text in [fallback, *strings(blocks)]:
        for ping in PINGS:
            assert ping not in text
    joined = "\n".join(strings(blocks))
    assert "&lt;!channel&gt;" in joined
    assert "&lt;@U999&gt;" in joined
    assert "&lt;!here&gt;&amp;" in joined


def test_parent_message_masks_numbers() -> None:
    fallback, blocks = parent_message(parent_view(mask=True))
    for text in [fallback, *strings(blocks)]:
        assert NUMBER not in text
        assert "380972920280" not in text
    assert MASKED in "\n".join(strings(blocks))


def test_parent_message_shows_full_numbers_when_not_masked() -> None:
    _, blocks = parent_message(parent_view(mask=False))
    joined = "\n".join(strings(blocks))
    assert f"+{NUMBER}" in joined
    assert "+380972920280" in joined
    assert "••" not in joined


def test_parent_message_counts_from_given_counts() -> None:
    counts = {DeliveryStatus.DELIVERED: 2, DeliveryStatus.SENT: 3, DeliveryStatus.FAILED: 1}
    _, blocks = parent_message(parent_view(counts=counts))
    assert "✅ delivered 2 · ⏳ sent 3 · ❌ failed 1" in "\n".join(strings(blocks))


def test_parent_message_scheduled_and_promotional() -> None:
    view = parent_view(scheduled_for=datetime(2026, 12, 1, 9, 0), promotional=True)
    joined = "\n".join(strings(parent_message(view)[1]))
    assert "promotional" in joined
    assert "Scheduled for 2026-12-01 09:00:00 UTC" in joined


def test_parent_message_limits_hold_for_500_recipients_and_long_text() -> None:
    accepted = [
        RecipientLine(m, DeliveryStatus.SENT, sms_status=DeliveryStatus.SENT, bsg_id="9" * 40)
        for m in numbers(450)
    ]
    refused = [
        RecipientLine(m, DeliveryStatus.REFUSED, error_code=99, error_description="&<>" * 200)
        for m in numbers(50, prefix="3809739")
    ]
    view = parent_view(recipients=accepted + refused, text="<!channel>&" * 91)
    fallback, blocks = parent_message(view)
    assert_message_limits(blocks)
    assert len(fallback) <= 3000
    joined = "\n".join(strings(blocks))
    assert "… and 440 more" in joined
    listing = next(t for t in strings(blocks) if t.startswith("*Refused by BSG (50)*"))
    shown = [line for line in listing.splitlines() if line.startswith("• ")]
    assert 1 <= len(shown) <= 10
    assert listing.endswith(f"… and {50 - len(shown)} more")
    assert "500 recipients" in joined
    for text in [fallback, *strings(blocks)]:
        assert "<!channel>" not in text
        assert all(m not in text for m in numbers(3))


def test_parent_message_with_nothing_known_yet() -> None:
    view = parent_view(
        recipients=[RecipientLine(NUMBER, DeliveryStatus.PENDING)],
        total_cost=None,
        last_checked=None,
        text="",
    )
    _, blocks = parent_message(view)
    assert_message_limits(blocks)


# ---------------------------------------------------------------- thread replies


@pytest.mark.parametrize(
    ("channel", "status", "words"),
    [
        (Channel.VIBER, DeliveryStatus.DELIVERED, "✅ Delivered"),
        (Channel.VIBER, DeliveryStatus.READ, "👀 Read"),
        (Channel.VIBER, DeliveryStatus.FAILED, "❌ Failed"),
        (Channel.VIBER, DeliveryStatus.EXPIRED, "⌛ Expired"),
        (Channel.VIBER, DeliveryStatus.UNDELIVERED, "❌ Undelivered"),
        (Channel.VIBER, DeliveryStatus.REJECTED, "❌ Rejected"),
        (Channel.VIBER, DeliveryStatus.NOT_VIBER_USER, "🚫 Not a Viber user"),
        (Channel.SMS, DeliveryStatus.SENT, "Fell back to SMS"),
        (Channel.SMS, DeliveryStatus.DELIVERED, "SMS delivered"),
        (Channel.SMS, DeliveryStatus.FAILED, "SMS failed"),
        (Channel.SMS, DeliveryStatus.EXPIRED, "SMS failed (expired)"),
    ],
)
def test_reply_line(channel: Channel, status: DeliveryStatus, words: str) -> None:
    event = ReplyEvent(NUMBER, channel, status, AT, Decimal("0.0800"), "USD", mask=True)
    line = reply_line(event)
    assert words in line
    assert MASKED in line
    assert NUMBER not in line
    assert "12:34 UTC" in line
    assert line.endswith("0.08 USD")
    assert "<" not in line
    assert "\n" not in line


def test_reply_line_without_price_or_mask() -> None:
    line = reply_line(ReplyEvent(NUMBER, Channel.VIBER, DeliveryStatus.DELIVERED, AT, mask=False))
    assert line == "✅ Delivered — +380972920283 · 12:34 UTC"


def test_summary_groups_by_status() -> None:
    events = [
        ReplyEvent(m, Channel.VIBER, DeliveryStatus.DELIVERED, AT, Decimal("0.05"), "EUR")
        for m in numbers(48)
    ]
    events += [
        ReplyEvent(m, Channel.VIBER, DeliveryStatus.NOT_VIBER_USER, AT)
        for m in numbers(2, prefix="3809739")
    ]
    events.append(ReplyEvent(NUMBER, Channel.SMS, DeliveryStatus.ACCEPTED, AT))
    summary = summary_reply(events, mask=True)
    lines = summary.splitlines()
    assert lines[0] == "📊 Status update at 12:34 UTC"
    assert lines[1].startswith("✅ Delivered (48): +380 ••••• 0000, ")
    assert "… and 38 more · 2.40 EUR" in lines[1]
    assert lines[2].startswith("↪️ Fell back to SMS (1): +380 ••••• 0283")
    assert lines[3] == "🚫 Not a Viber user (2): +380 ••••• 0000, +380 ••••• 0001"
    assert len(lines) == 4
    assert NUMBER not in summary


def test_summary_stays_short_for_500_recipients() -> None:
    statuses = [s for s in DeliveryStatus if s is not DeliveryStatus.UNKNOWN]
    events = [
        ReplyEvent(m, channel, statuses[i % len(statuses)], AT + timedelta(seconds=i))
        for i, m in enumerate(numbers(500))
        for channel in Channel
    ]
    summary = summary_reply(events, mask=True)
    assert len(summary) <= 3000
    assert "<" not in summary
    assert summary_reply([], mask=True) == ""


def test_counts_line_order() -> None:
    counts = {
        DeliveryStatus.FAILED: 1,
        DeliveryStatus.SENT: 3,
        DeliveryStatus.READ: 1,
        DeliveryStatus.DELIVERED: 2,
        DeliveryStatus.EXPIRED: 0,
    }
    assert counts_line(counts) == "✅ delivered 2 · 👀 read 1 · ⏳ sent 3 · ❌ failed 1"


# ---------------------------------------------------------------- private answers


def test_status_answer_shows_status_sms_price_and_history() -> None:
    status = MessageStatus(
        bsg_id="16",
        msisdn=NUMBER,
        reference="viber_ref_124",
        status=DeliveryStatus.NOT_VIBER_USER,
        price=Decimal("0.08"),
        currency="USD",
        time_sent=datetime(2025, 1, 15, 10, 30, 1),
        sms=SmsStatus(bsg_id="17", status=DeliveryStatus.DELIVERED, price=Decimal("0.05")),
    )
    history = [
        (datetime(2025, 1, 15, 10, 30, 10, tzinfo=UTC), Channel.VIBER, DeliveryStatus.FAILED),
        (datetime(2025, 1, 15, 10, 30, 1, tzinfo=UTC), Channel.VIBER, DeliveryStatus.SENT),
        (datetime(2025, 1, 15, 10, 30, 15, tzinfo=UTC), Channel.SMS, DeliveryStatus.DELIVERED),
    ]
    answer = status_answer(query="16", status=status, history=history)
    assert "+380972920283" in answer  # private: full number
    assert "🚫 not a Viber user" in answer
    assert "sent 2025-01-15 10:30:01 UTC" in answer
    assert "0.08 USD" in answer
    assert "SMS fallback: 📱 ✅ delivered · id `17` · 0.05 USD" in answer
    history_lines = answer.split("*History*\n")[1].splitlines()
    assert history_lines == [
        "• 2025-01-15 10:30:01 UTC · Viber · ⏳ sent",
        "• 2025-01-15 10:30:10 UTC · Viber · ❌ failed",
        "• 2025-01-15 10:30:15 UTC · SMS · ✅ delivered",
    ]


def test_status_answer_for_an_unknown_word_and_a_long_history() -> None:
    status = MessageStatus(reference="<!channel>", status=DeliveryStatus.UNKNOWN, raw_status="odd")
    history = [(AT + timedelta(minutes=i), Channel.VIBER, DeliveryStatus.SENT) for i in range(500)]
    answer = status_answer(query="ref", status=status, history=history, note="BSG was slow")
    assert "<!channel>" not in answer
    assert "`odd`" in answer
    assert "SMS fallback: none" in answer
    assert "earlier changes not shown" in answer
    assert len(answer) <= 3000


def test_usage_text_names_every_subcommand() -> None:
    text = usage_text("/viber")
    for usage in ("`/viber`", "/viber new", "/viber send <numbers> <text…>", "/viber status"):
        assert usage in text
    assert "/viber help" in text


def test_refusal_text() -> None:
    text = refusal_text(45, "Invalid <alpha_name>", None, [NUMBER, "380972920282"])
    assert "code 45" in text
    assert "register it in your BSG account first" in text
    assert "&lt;alpha_name&gt;" in text
    assert "+380972920283, +380972920282" in text
    custom = refusal_text(8, explanation="top up", recipients=numbers(30))
    assert "code 8): top up." in custom
    assert "and 10 more" in custom


# ---------------------------------------------------------------- App Home


def test_app_home_limits_with_200_sends() -> None:
    sends = [
        HomeSend(
            created_at=AT - timedelta(minutes=i),
            user_id="U123",
            recipient_count=500,
            counts={DeliveryStatus.DELIVERED: 400, DeliveryStatus.FAILED: 100},
            total_cost=Decimal("25.5"),
            currency="EUR",
            msisdns=numbers(5),
            text=HOSTILE * 20,
        )
        for i in range(200)
    ]
    health = PollerHealth(last_sweep=AT, due=12, recent_errors=["<!channel> boom " * 100] * 20)
    view = app_home(sends=sends, health=health, balance=None)
    assert view["type"] == "home"
    assert len(view["blocks"]) <= 100
    View(**view).validate_json()
    for block in view["blocks"]:
        Block.parse(block).validate_json()
    joined = "\n".join(strings(view))
    assert "unavailable" in joined
    assert "12 messages due" in joined
    assert "+380 ••••• 0000" in joined
    assert "25.50 EUR" in joined
    for text in strings(view):
        assert all(ping not in text for ping in PINGS)
        assert all(m not in text for m in numbers(5))
        assert len(text) <= 3000


def test_app_home_empty_and_refused() -> None:
    health = PollerHealth(last_sweep=None, due=0)
    balance = Balance(amount=Decimal("100.50"), currency="EUR")
    empty = app_home(sends=[], health=health, balance=balance)
    joined = "\n".join(strings(empty))
    assert "100.50 EUR" in joined
    assert "No sends yet" in joined
    assert "no sweep yet" in joined
    refused = HomeSend(AT, "U1", 1, outcome=SendOutcome.REFUSED, error_code=45)
    home = app_home(sends=[refused], health=health, balance=balance)
    assert "refused by BSG (code 45)" in "\n".join(strings(home))
    View(**home).validate_json()


# ---------------------------------------------------------------- input problems, every kind worded


@pytest.mark.parametrize(
    "fault", [f for f in FieldFault if f is not FieldFault.RECIPIENTS_UNRESOLVED]
)
def test_every_field_fault_has_words(fault: FieldFault) -> None:
    words = input_errors.field_error("image_url", FieldProblem(fault, count=3, values=("x",)))
    assert words and "{" not in words.replace("{x}", "")


@pytest.mark.parametrize("fault", list(NumberFault))
def test_every_number_fault_has_words(fault: NumberFault) -> None:
    words = input_errors.number_problem(NumberProblem(fault, country_code=380))
    assert words and "{" not in words and "None" not in words


@pytest.mark.parametrize(
    "fault",
    [f for f in FileFault if f not in (FileFault.UNSENDABLE_ROWS, FileFault.UNFILLABLE_ROWS)],
)
def test_every_file_fault_has_words(fault: FileFault) -> None:
    error = RecipientsFileError(fault, detail="bad quote", count=11, limit=10, names=("n",))
    words = input_errors.recipients_file_problem(error)
    assert words.endswith(".") and "{" not in words.replace("{n}", "")


@pytest.mark.parametrize("why", list(Denial))
def test_every_denial_has_words_for_the_person(why: Denial) -> None:
    denial = AccessDenied(why, recipients=12, limit=10, used=4)
    text = private.denied(denial)
    assert text.endswith(".") and "_" not in text
    assert private.nothing_sent_denied(denial) == f"Nothing was sent. {escape(text)}"
    if why is Denial.QUOTA:
        assert "daily quota of 10 recipients (4 used today, 6 left)" in text
    if why is Denial.TOO_MANY:
        assert text.startswith("12 recipients is more than the 10 allowed")
    if why in (Denial.USER, Denial.CHANNEL):
        assert "viber-bot" in private.read_denied(why)
