"""The slash command's grammar (CONTRACT.md), through signed HTTP requests into the running bot."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bot.domain.models import DeliveryStatus
from tests.conftest import BSG_KEY, USER
from tests.slack_requests import fresh_trigger_id

ANSWER_WITHIN = 1.0  # seconds: the contract's limit for every invocation

CONTRACT_INPUTS = {
    "recipients",
    "text",
    "sender",
    "promotional",
    "image_url",
    "button_caption",
    "button_url",
    "sms_text",
    "recipients_file",
    "sms_sender",
    "send_at",
    "validity",
}


async def command(app, text: str, **fields: Any) -> httpx.Response:
    """Run `/viber <text>` and check Slack got its answer in time."""
    started = time.perf_counter()
    response = await app.command(text, **fields)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert elapsed < ANSWER_WITHIN, f"/viber {text!r} took {elapsed:.2f}s to answer"
    return response


def _ack_body(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {"text": response.text}
    return body if isinstance(body, dict) else {}


def private_answers(app, response: httpx.Response, response_url: str) -> list[str]:
    """Every private answer so far: in the ack, through the response_url, or postEphemeral."""
    answers = []
    for body in [_ack_body(response), *app.slack.responses_to(response_url)]:
        if body.get("text") and body.get("response_type", "ephemeral") == "ephemeral":
            answers.append(body["text"])
    answers += [e["text"] for e in app.slack.ephemerals if e["user"] == USER]
    return answers


async def private_command(app, text: str) -> tuple[httpx.Response, str]:
    url = app.slack.response_url()
    return await command(app, text, response_url=url), url


def bsg_numbers(app) -> set[str]:
    return {m.msisdn for m in app.bsg.messages.values()}


def nothing_went_out(app) -> None:
    assert app.bsg.create_calls == 0
    assert app.slack.channel_messages("C123") == []


# ---------------------------------------------------------------- the modal


@pytest.mark.parametrize("text", ["", "new", "NEW", "  New  "])
async def test_empty_or_new_opens_the_send_modal_with_the_commands_trigger(make_bot, text):
    app = await make_bot(VIBER_BOT_DEFAULT_SENDER="ShopCo")
    trigger = fresh_trigger_id()
    response = await command(app, text, trigger_id=trigger, channel_id="C777")
    assert not _ack_body(response).get("text")
    await app.wait_for(lambda: app.slack.opened_views)
    [call] = app.slack.calls_to("views.open")
    assert call["trigger_id"] == trigger
    [view] = app.slack.opened_views
    assert view["type"] == "modal"
    assert view["callback_id"] == "viber_send"
    assert "C777" in view["private_metadata"]
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert set(inputs) == CONTRACT_INPUTS
    for block_id, block in inputs.items():
        assert block["element"]["action_id"] == block_id
    element = {block_id: block["element"] for block_id, block in inputs.items()}
    assert element["sender"]["initial_value"] == "ShopCo"
    assert element["sender"]["max_length"] == 14
    assert element["text"]["max_length"] == 1000
    for block_id in ("recipients", "text", "sms_text"):
        assert element[block_id]["type"] == "plain_text_input"
        assert element[block_id]["multiline"] is True
    for block_id in ("sender", "button_caption", "sms_sender"):
        assert element[block_id]["type"] == "plain_text_input"
    for block_id in ("image_url", "button_url"):
        assert element[block_id]["type"] == "url_text_input"
    assert [o["value"] for o in element["promotional"]["options"]] == ["promotional"]
    assert element["promotional"]["type"] == "checkboxes"
    assert element["send_at"]["type"] == "datetimepicker"
    validity = element["validity"]
    assert validity["type"] == "number_input"
    assert validity["is_decimal_allowed"] is False
    assert (int(validity["min_value"]), int(validity["max_value"])) == (15, 86400)
    required = {block_id for block_id, block in inputs.items() if not block.get("optional")}
    assert required == {"recipients", "text", "sender"}
    nothing_went_out(app)


# ---------------------------------------------------------------- help


@pytest.mark.parametrize("text", ["help", "HELP", "frobnicate", "sned +380972920283 typo"])
async def test_help_and_unknown_words_answer_privately_with_usage(app, text):
    response, url = await private_command(app, text)
    [answer] = private_answers(app, response, url)
    for usage in ("/viber send", "/viber status", "/viber new"):
        assert usage in answer
    assert app.slack.opened_views == []
    nothing_went_out(app)


# ---------------------------------------------------------------- send


@pytest.mark.parametrize(
    "numbers",
    [
        "+380972920280,00380972920281,380972920282",
        "+380972920280,+380972920281,+380972920282",
        "380972920280,00380972920281,+380972920282,+380972920280",
    ],
)
async def test_send_accepts_plus_00_and_bare_international_numbers(app, numbers):
    response, url = await private_command(app, f"send {numbers} Your order has shipped")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    assert app.bsg.create_calls == 1
    assert bsg_numbers(app) == {"380972920280", "380972920281", "380972920282"}
    assert {m.text for m in app.bsg.messages.values()} == {"Your order has shipped"}
    assert {m.sender for m in app.bsg.messages.values()} == {"Acme"}
    assert {m.promotional for m in app.bsg.messages.values()} == {False}
    assert private_answers(app, response, url)


async def test_send_with_a_bad_number_sends_nothing_and_names_the_bad_ones(app):
    response, url = await private_command(app, "send +380972920281,+38097,abc,0380 Hello")
    [answer] = private_answers(app, response, url)
    for bad in ("+38097", "abc", "0380"):
        assert bad in answer
    assert "380972920281" not in answer  # the good number is not called bad
    await app.settle()
    nothing_went_out(app)
    assert await app.store.recent_sends(5) == []


async def test_extra_spaces_between_tokens_are_ignored(app):
    await command(app, "  send    +380972920280     Hello   there   ")
    await app.wait_for(lambda: app.bsg.messages)
    [message] = app.bsg.messages.values()
    assert message.msisdn == "380972920280"
    assert message.text == "Hello   there"


async def test_unicode_and_emoji_reach_bsg_intact(app):
    text = "Привіт, Олено! 👋🏽 Замовлення №42 — «готове» 中文 👨‍👩‍👧 ünïcödé & <b>"
    await command(app, f"send +380972920280 {text}")
    await app.wait_for(lambda: app.bsg.messages)
    [message] = app.bsg.messages.values()
    assert message.text == text
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    assert (await app.store.recent_sends(1))[0].text == text


@pytest.mark.parametrize("text", ["send +380972920283", "send +380972920283    "])
async def test_send_without_text_is_a_clear_error(app, text):
    response, url = await private_command(app, text)
    [answer] = private_answers(app, response, url)
    assert "no text" in answer.lower()
    await app.settle()
    nothing_went_out(app)


async def test_send_alone_says_how_to_send(app):
    response, url = await private_command(app, "send")
    [answer] = private_answers(app, response, url)
    assert "/viber send +" in answer
    await app.settle()
    nothing_went_out(app)


async def test_uppercase_send_works(app):
    await command(app, "SEND +380972920280 Shouted")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    assert bsg_numbers(app) == {"380972920280"}


async def test_national_number_needs_a_default_region(app):
    response, url = await private_command(app, "send 0972920283 Hello")
    [answer] = private_answers(app, response, url)
    assert "0972920283" in answer
    await app.settle()
    nothing_went_out(app)


async def test_national_number_is_read_in_the_default_region(make_bot):
    app = await make_bot(VIBER_BOT_DEFAULT_REGION="UA")
    await command(app, "send 0972920283 Hello")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    assert bsg_numbers(app) == {"380972920283"}


# ---------------------------------------------------------------- status


async def _sent_message(app):
    """Send one message and return it as stored once BSG has accepted it."""
    await command(app, "send +380972920282 Status check")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    [message] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    assert message.bsg_id and message.status is DeliveryStatus.SENT
    return message


@pytest.mark.parametrize("by", ["id", "reference", "REFERENCE in capitals"])
async def test_status_of_a_stored_message_is_asked_fresh_with_history(make_bot, by):
    # A slow poller: whatever the answer says beyond `sent`, it heard from BSG just now.
    app = await make_bot(VIBER_BOT_POLL_INTERVAL=60)
    message = await _sent_message(app)
    app.bsg.set_status(message.reference, "delivered")
    channel_posts = len(app.slack.channel_messages("C123"))
    calls = app.bsg.status_calls
    token = message.bsg_id if by == "id" else message.reference
    text = f"status {token}" if by != "REFERENCE in capitals" else f"STATUS {token}"
    response, url = await private_command(app, text)
    await app.wait_for(lambda: app.slack.responses_to(url))
    answer = private_answers(app, response, url)[-1]
    assert app.bsg.status_calls == calls + 1
    assert message.bsg_id in answer
    assert "delivered" in answer
    assert "history" in answer.lower() and "sent" in answer
    assert "380972920282" in answer  # private answers may show the full number
    assert len(app.slack.channel_messages("C123")) == channel_posts


async def sent_elsewhere(app, reference: str) -> str:
    """A message BSG holds that viber-bot never stored (another system, same API key)."""
    async with httpx.AsyncClient(trust_env=False) as http:
        created = await http.post(
            f"{app.bsg.base_url}/viber/create",
            headers={"X-API-KEY": BSG_KEY},
            json={
                "messages": [
                    {
                        "to": [{"msisdn": "380972920288", "reference": reference}],
                        "text": "Sent from another system",
                        "alpha_name": "Acme",
                    }
                ]
            },
        )
    [entry] = created.json()["result"]
    return entry["id"]


async def test_unknown_digits_are_asked_of_bsg_as_an_id(app):
    bsg_id = await sent_elsewhere(app, "elsewhere1")
    assert bsg_id.isdigit()
    by_id, by_reference = app.bsg.status_by_id_calls, app.bsg.status_by_reference_calls
    response, url = await private_command(app, f"status {bsg_id}")
    await app.wait_for(lambda: app.slack.responses_to(url))
    answer = private_answers(app, response, url)[-1]
    assert app.bsg.status_by_id_calls == by_id + 1
    assert app.bsg.status_by_reference_calls == by_reference
    assert bsg_id in answer and "elsewhere1" in answer


async def test_unknown_words_are_asked_of_bsg_as_a_reference(app):
    bsg_id = await sent_elsewhere(app, "order_7781")
    by_id, by_reference = app.bsg.status_by_id_calls, app.bsg.status_by_reference_calls
    response, url = await private_command(app, "status order_7781")
    await app.wait_for(lambda: app.slack.responses_to(url))
    answer = private_answers(app, response, url)[-1]
    assert app.bsg.status_by_reference_calls == by_reference + 1
    assert app.bsg.status_by_id_calls == by_id
    assert bsg_id in answer and "order_7781" in answer


@pytest.mark.parametrize(("token", "asked_as"), [("424242", "id"), ("no_such_ref", "reference")])
async def test_status_of_something_bsg_never_saw_says_so_privately(app, token, asked_as):
    by_id, by_reference = app.bsg.status_by_id_calls, app.bsg.status_by_reference_calls
    response, url = await private_command(app, f"status {token}")
    await app.wait_for(lambda: app.slack.responses_to(url))
    answer = private_answers(app, response, url)[-1]
    assert token in answer
    assert app.bsg.status_by_id_calls == by_id + (asked_as == "id")
    assert app.bsg.status_by_reference_calls == by_reference + (asked_as == "reference")
    assert app.slack.channel_messages("C123") == []


async def test_status_without_a_token_asks_which_message(app):
    response, url = await private_command(app, "status")
    [answer] = private_answers(app, response, url)
    assert "status <" in answer
    assert app.bsg.status_calls == 0


async def test_slack_entities_in_command_text_reach_bsg_as_typed(app):
    # Slack escapes &, < and > in a slash command's text; the person typed the characters.
    await app.command("send +380972920280 Tom &amp; Jerry &lt;3 &gt; all")
    await app.wait_for(lambda: app.bsg.create_calls == 1)
    [message] = app.bsg.messages.values()
    assert message.text == "Tom & Jerry <3 > all"


async def test_tabs_and_non_breaking_spaces_separate_words(app):
    response = await app.command("send\u00a0+380972920280\tHello there")
    assert "Sending to 1 recipient" in response.text
    await app.wait_for(lambda: app.bsg.create_calls == 1)
    [message] = app.bsg.messages.values()
    assert message.text == "Hello there"
