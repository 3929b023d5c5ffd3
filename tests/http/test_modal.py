"""The send modal: opened by the slash command, submitted as Slack does, checked field by field."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

CHANNEL = "C123"


async def open_modal(app, channel_id: str = CHANNEL) -> dict[str, Any]:
    """The modal as `/viber` opens it in `channel_id`."""
    before = len(app.slack.opened_views)
    response = await app.command("", channel_id=channel_id)
    assert response.status_code == 200
    await app.wait_for(lambda: len(app.slack.opened_views) > before)
    return app.slack.opened_views[-1]


async def submit(app, values: dict[str, Any], channel_id: str = CHANNEL) -> dict[str, Any]:
    """Open the modal, fill in `values` (block_id -> value; the rest as Slack leaves them),
    submit it, and return the ack's body ({} for a plain ack)."""
    view = await open_modal(app, channel_id)
    started = time.perf_counter()
    response = await app.submit(values, view=view)
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 200, response.text
    return response.json() if response.content else {}


def errors_of(ack: dict[str, Any]) -> dict[str, str]:
    assert ack.get("response_action") == "errors", ack
    return ack["errors"]


GOOD = {"recipients": "+380972920280", "text": "Your order has shipped"}


# ---------------------------------------------------------------- invalid input, field by field


def in_the_past() -> int:
    return int(time.time()) - 3600


INVALID = {
    "bad number": ({"recipients": "+380972920280, 12345, hello"}, "recipients", ["12345", "hello"]),
    "national number without a region": (
        {"recipients": "0972920283"},
        "recipients",
        ["0972920283"],
    ),
    "caption without URL": ({"button_caption": "Track"}, "button_url", []),
    "URL without caption": ({"button_url": "https://example.com/t"}, "button_caption", []),
    "image without button": (
        {"image_url": "https://example.com/p.png"},
        "button_caption",
        [],
    ),
    "SMS sender of 2 characters": ({"sms_text": "SMS", "sms_sender": "AB"}, "sms_sender", []),
    "SMS sender of 16 characters": (
        {"sms_text": "SMS", "sms_sender": "A" * 16},
        "sms_sender",
        [],
    ),
    "no SMS sender and a 2-character sender": (
        {"sms_text": "SMS", "sender": "Ab"},
        "sms_sender",
        [],
    ),
    "send_at in the past": ({"send_at": "past"}, "send_at", []),
    "validity 14": ({"validity": 14}, "validity", []),
    "validity not a number": ({"validity": "1e3"}, "validity", []),
    # Limits the elements set are checked on the server too.
    "text of 1001 characters": ({"text": "x" * 1001}, "text", []),
    "sender of 15 characters": ({"sender": "FifteenCharsXYZ"}, "sender", []),
    "validity 86401": ({"validity": 86401}, "validity", []),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_each_invalid_field_gets_its_own_error(app, case):
    changes, block_id, named = INVALID[case]
    values = {**GOOD, **changes}
    if values.get("send_at") == "past":
        values["send_at"] = in_the_past()
    errors = errors_of(await submit(app, values))
    assert set(errors) == {block_id}, errors
    assert errors[block_id].strip()
    for token in named:
        assert token in errors[block_id]
    await app.settle()
    assert app.bsg.create_calls == 0
    assert app.slack.channel_messages(CHANNEL) == []
    assert await app.store.recent_sends(5) == []


async def test_several_invalid_fields_are_reported_together(app):
    values = {
        "recipients": "+380972920280, 12345",
        "text": "Hi",
        "button_caption": "Track",
        "validity": 14,
        "send_at": in_the_past(),
    }
    errors = errors_of(await submit(app, values))
    assert set(errors) == {"recipients", "button_url", "validity", "send_at"}
    assert app.bsg.create_calls == 0


# ---------------------------------------------------------------- a valid submission


FULL = {
    "recipients": "+380972920280\n00380972920281, 380972920282 +380972920283",
    "text": "Привіт! Your order №42 has shipped 📦",
    "sender": "ShopCo",
    "promotional": ["promotional"],
    "image_url": "https://example.com/parcel.png",
    "button_caption": "Track order",
    "button_url": "https://example.com/track?id=42",
    "sms_text": "Your order has shipped (SMS)",
    "sms_sender": "ShopCoSMS",
    "validity": 3600,
}
FULL_NUMBERS = ["380972920280", "380972920281", "380972920282", "380972920283"]


async def test_a_full_submission_is_one_create_at_bsg_and_one_parent(app):
    ack = await submit(app, FULL)
    assert ack.get("response_action") != "errors", ack
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()

    assert app.bsg.create_calls == 1
    [body] = app.bsg.create_bodies
    [message] = body["messages"]
    assert [r["msisdn"] for r in message["to"]] == FULL_NUMBERS
    references = [r["reference"] for r in message["to"]]
    assert all(len(ref) == 32 and ref.isalnum() for ref in references)
    assert len(set(references)) == len(references)
    send = (await app.store.recent_sends(1))[0]
    stored = {m.msisdn: m.reference for m in await app.store.send_messages(send.id)}
    assert stored == dict(zip(FULL_NUMBERS, references, strict=True))
    assert message["text"] == FULL["text"]
    assert message["alpha_name"] == "ShopCo"
    assert message["is_promotional"] in (True, 1)
    viber = message["options"]["viber"]
    assert viber["img"] == FULL["image_url"]
    assert viber["caption"] == "Track order"
    assert viber["action"] == FULL["button_url"]
    assert viber["alt_route"] == {"originator": "ShopCoSMS", "text": FULL["sms_text"]}
    assert body["validity"] == 3600
    assert "scheduledDatetime" not in message

    [parent] = app.slack.channel_messages(CHANNEL)
    posted = json.dumps(parent, ensure_ascii=False)
    for msisdn in FULL_NUMBERS:
        assert msisdn not in posted
        assert msisdn[3:] not in posted  # not even without the country code
    assert "+380 ••••• 0283" in posted
    assert "<@U123>" in posted  # who sent it

    # nothing later adds a second parent or a second create
    await app.sweeps_after(2)
    await app.settle()
    assert len(app.slack.channel_messages(CHANNEL)) == 1
    assert app.bsg.create_calls == 1


async def test_sms_sender_defaults_to_the_sender(app):
    ack = await submit(app, {**GOOD, "sender": "ShopCo", "sms_text": "By SMS"})
    assert ack.get("response_action") != "errors", ack
    await app.wait_for(lambda: app.bsg.create_bodies)
    [message] = app.bsg.create_bodies[0]["messages"]
    assert message["options"]["viber"]["alt_route"] == {"originator": "ShopCo", "text": "By SMS"}


async def test_a_button_without_an_image_is_fine(app):
    values = {**GOOD, "button_caption": "Open", "button_url": "https://example.com/o"}
    ack = await submit(app, values)
    assert ack.get("response_action") != "errors", ack
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    [message] = app.bsg.create_bodies[0]["messages"]
    viber = message["options"]["viber"]
    assert (viber["caption"], viber["action"]) == ("Open", "https://example.com/o")
    assert "img" not in viber
    assert message["is_promotional"] in (False, 0)
    assert "validity" not in app.bsg.create_bodies[0]  # BSG's default applies


async def test_the_modal_sends_to_the_channel_it_was_opened_in(app):
    ack = await submit(app, GOOD, channel_id="C777")
    assert ack.get("response_action") != "errors", ack
    await app.wait_for(lambda: app.slack.channel_messages("C777"))
    assert app.slack.channel_messages(CHANNEL) == []
    assert (await app.store.recent_sends(1))[0].channel_id == "C777"


async def test_a_future_send_at_becomes_bsgs_scheduled_time(app):
    at = int(time.time()) + 3600
    ack = await submit(app, {**GOOD, "send_at": at})
    assert ack.get("response_action") != "errors", ack
    await app.wait_for(lambda: app.bsg.create_bodies)
    [message] = app.bsg.create_bodies[0]["messages"]
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
    assert message["scheduledDatetime"].startswith(expected)
    assert app.bsg.status_of(app.bsg.create_bodies[0]["messages"][0]["to"][0]["reference"]) == (
        "scheduled"
    )
