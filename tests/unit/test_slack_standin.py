"""The Slack stand-in, driven by a real slack_sdk client over HTTP; the signed-request builders."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, parse_qsl

import aiohttp
import pytest
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.devtools.slack_standin import SlackStandIn, render_text
from tests import slack_requests
from tests.conftest import BOT_TOKEN
from tests.slack_requests import (
    app_home_opened,
    event_callback,
    sign,
    slash_command,
    stale_timestamp,
    state_value,
    url_verification,
    view_submission,
)

SECRET = "signing-secret"
METADATA = {"event_type": "viber_outbox", "event_payload": {"outbox_id": 7}}
MODAL = {
    "type": "modal",
    "callback_id": "viber_send",
    "private_metadata": "C123",
    "title": {"type": "plain_text", "text": "Send Viber"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "recipients",
            "label": {"type": "plain_text", "text": "Recipients"},
            "element": {"type": "plain_text_input", "action_id": "recipients", "multiline": True},
        },
        {
            "type": "input",
            "block_id": "sender",
            "label": {"type": "plain_text", "text": "Sender"},
            "element": {
                "type": "plain_text_input",
                "action_id": "sender",
                "initial_value": "Acme",
            },
        },
        {
            "type": "input",
            "block_id": "promotional",
            "optional": True,
            "label": {"type": "plain_text", "text": "Kind"},
            "element": {
                "type": "checkboxes",
                "action_id": "promotional",
                "options": [
                    {"text": {"type": "plain_text", "text": "Promo"}, "value": "promotional"}
                ],
            },
        },
        {
            "type": "input",
            "block_id": "send_at",
            "optional": True,
            "label": {"type": "plain_text", "text": "When"},
            "element": {"type": "datetimepicker", "action_id": "send_at"},
        },
    ],
}


async def test_post_update_and_read_back_with_metadata(
    standin: SlackStandIn, web_client: AsyncWebClient
) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Viber send"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "to <@U123> &lt;3"}},
    ]
    parent = await web_client.chat_postMessage(
        channel="C1", text="sending", blocks=blocks, metadata=METADATA
    )
    assert parent["ok"] and parent["channel"] == "C1"
    assert parent["message"]["metadata"] == METADATA
    reply_a = await web_client.chat_postMessage(
        channel="C1", text="delivered", thread_ts=parent["ts"]
    )
    reply_b = await web_client.chat_postMessage(channel="C1", text="read", thread_ts=parent["ts"])
    other = await web_client.chat_postMessage(channel="C1", text="another send")
    assert parent["ts"] < reply_a["ts"] < reply_b["ts"] < other["ts"]
    assert len(parent["ts"].split(".")[1]) == 6

    updated = await web_client.chat_update(channel="C1", ts=parent["ts"], text="1 delivered")
    assert updated["message"]["text"] == "1 delivered"
    assert standin.message("C1", parent["ts"])["text"] == "1 delivered"
    assert standin.message("C1", parent["ts"])["blocks"] == blocks

    assert [m["text"] for m in standin.channel_messages("C1")] == ["1 delivered", "another send"]
    assert [m["text"] for m in standin.thread("C1", parent["ts"])] == ["delivered", "read"]

    replies = await web_client.conversations_replies(
        channel="C1", ts=parent["ts"], include_all_metadata=True
    )
    assert [m["ts"] for m in replies["messages"]] == [parent["ts"], reply_a["ts"], reply_b["ts"]]
    assert replies["messages"][0]["metadata"] == METADATA
    bare = await web_client.conversations_replies(channel="C1", ts=parent["ts"])
    assert "metadata" not in bare["messages"][0]

    history = await web_client.conversations_history(channel="C1", include_all_metadata=True)
    assert [m["ts"] for m in history["messages"]] == [other["ts"], parent["ts"]]
    assert history["messages"][1]["metadata"] == METADATA
    page = await web_client.conversations_history(channel="C1", limit=1)
    assert page["has_more"] and page["response_metadata"]["next_cursor"]

    assert render_text(standin.message("C1", parent["ts"])) == "Viber send\nto @U123 <3"
    assert [name for name, _ in standin.calls][:2] == ["chat.postMessage", "chat.postMessage"]


async def test_errors_slack_would_give(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as missing:
        await web_client.chat_update(channel="C1", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as no_thread:
        await web_client.chat_postMessage(channel="C1", text="x", thread_ts="1.000001")
    assert no_thread.value.response["error"] == "thread_not_found"
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as bad_blocks:
        await web_client.chat_postMessage(channel="C1", text="x", blocks=long_section)
    assert bad_blocks.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as unknown:
        await web_client.api_call("chat.frobnicate")
    assert unknown.value.response["error"] == "unknown_method"
    assert standin.channel_messages("C1") == []


async def test_form_encoded_bodies_are_read(
    standin: SlackStandIn, web_client: AsyncWebClient
) -> None:
    sent = await web_client.api_call(
        "chat.postMessage",
        data={"channel": "C2", "text": "hi", "metadata": json.dumps(METADATA)},
    )
    assert standin.message("C2", sent["ts"])["metadata"] == METADATA
    assert standin.calls_to("chat.postMessage") == [
        {"channel": "C2", "text": "hi", "metadata": METADATA}
    ]


async def test_ephemeral_and_users(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    answer = await web_client.chat_postEphemeral(channel="C1", user="U9", text="only you")
    assert answer["message_ts"]
    assert standin.ephemerals == [
        {
            "channel": "C1",
            "user": "U9",
            "text": "only you",
            "blocks": None,
            "thread_ts": None,
            "message_ts": answer["message_ts"],
        }
    ]
    user = await web_client.users_info(user="U9")
    assert user["user"]["id"] == "U9"


async def test_views_open_update_publish(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    opened = await web_client.views_open(trigger_id="1.2.abc", view=MODAL)
    view = opened["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "viber_send"
    assert standin.opened_views == [view]
    with pytest.raises(SlackApiError) as reused:
        await web_client.views_open(trigger_id="1.2.abc", view=MODAL)
    assert reused.value.response["error"] == "expired_trigger_id"

    with pytest.raises(SlackApiError) as conflict:
        await web_client.views_update(view_id=view["id"], view=MODAL, hash="stale.hash")
    assert conflict.value.response["error"] == "hash_conflict"
    changed = {**MODAL, "private_metadata": "C999"}
    updated = await web_client.views_update(view_id=view["id"], view=changed, hash=view["hash"])
    assert updated["view"]["id"] == view["id"]
    assert standin.view(view["id"])["private_metadata"] == "C999"

    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as invalid:
        await web_client.views_open(trigger_id="1.2.def", view=long_title)
    assert invalid.value.response["error"] == "invalid_arguments"
    assert "/view/title/text" in invalid.value.response["response_metadata"]["messages"][0]

    home = {"type": "home", "blocks": [{"type": "divider"}]}
    await web_client.views_publish(user_id="U5", view=home)
    assert standin.published_views["U5"]["blocks"] == [{"type": "divider"}]


async def test_scripted_failures(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    standin.fail_next("chat.postMessage", 1, status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        await web_client.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"

    standin.fail_next("chat.postMessage", 1, status=500)
    with pytest.raises(SlackApiError) as crashed:
        await web_client.chat_postMessage(channel="C1", text="x")
    assert crashed.value.response.status_code == 500

    standin.fail_next("chat.update", 2, error="internal_error")
    for _ in range(2):
        with pytest.raises(SlackApiError) as refused:
            await web_client.chat_update(channel="C1", ts="1.000001", text="x")
        assert refused.value.response.status_code == 200
        assert refused.value.response["error"] == "internal_error"

    assert standin.channel_messages("C1") == []
    await web_client.chat_postMessage(channel="C1", text="x")
    assert len(standin.channel_messages("C1")) == 1
    assert len(standin.calls_to("chat.postMessage")) == 3


async def test_delay_holds_the_answer(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    standin.delay("auth.test", 0.2)
    started = time.monotonic()
    await web_client.auth_test()
    assert time.monotonic() - started >= 0.2
    standin.delay("auth.test", 0)


async def test_lost_answer_after_post_leaves_the_message(standin: SlackStandIn) -> None:
    no_retries = AsyncWebClient(token=BOT_TOKEN, base_url=standin.base_url, retry_handlers=[])
    standin.drop_response_after_post(1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await no_retries.chat_postMessage(channel="C1", text="parent", metadata=METADATA)
    history = await no_retries.conversations_history(channel="C1", include_all_metadata=True)
    assert [m["metadata"] for m in history["messages"]] == [METADATA]


async def test_default_client_retries_a_lost_post_into_a_duplicate(
    standin: SlackStandIn, web_client: AsyncWebClient
) -> None:
    # slack_sdk retries connection errors once by default: the de-duplication must cope.
    standin.drop_response_after_post(1)
    await web_client.chat_postMessage(channel="C1", text="parent", metadata=METADATA)
    assert [m["text"] for m in standin.channel_messages("C1")] == ["parent", "parent"]


async def test_response_urls_are_captured(standin: SlackStandIn) -> None:
    url = standin.response_url("cmd-1")
    sent = await AsyncWebhookClient(url).send(text="private answer", response_type="ephemeral")
    assert sent.status_code == 200
    assert standin.responses == [{"text": "private answer", "response_type": "ephemeral"}]
    assert standin.responses_to(url) == standin.responses


async def test_tokens_are_checked(standin: SlackStandIn) -> None:
    with pytest.raises(SlackApiError) as wrong:
        await AsyncWebClient(token="xoxb-wrong", base_url=standin.base_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=standin.base_url).auth_test()
    assert missing.value.response["error"] == "not_authed"
    assert standin.channel_messages("C1") == []


async def test_wait_for(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    with pytest.raises(TimeoutError):
        await standin.wait_for(lambda s: s.channel_messages("C1"), timeout=0.05)
    await web_client.chat_postMessage(channel="C1", text="x")
    found = await standin.wait_for(lambda s: s.channel_messages("C1"), timeout=1)
    assert found[0]["text"] == "x"


def test_render_text_reads_blocks() -> None:
    message = {
        "text": "fallback",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Sent"}},
            {"type": "divider"},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*To*\n+380 ••••• 0283"},
                    {"type": "mrkdwn", "text": "<https://x.io|site>"},
                ],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "by <@U1>"}]},
        ],
    }
    assert render_text(message).splitlines() == [
        "Sent",
        "─" * 40,
        "*To*",
        "+380 ••••• 0283",
        "site (https://x.io)",
        "by @U1",
    ]
    assert render_text({"text": "&lt;!channel&gt; plain"}) == "<!channel> plain"


# ------------------------------------------------------------------- signed requests


def test_signatures_are_accepted_and_bad_ones_rejected() -> None:
    verifier = SignatureVerifier(SECRET)

    def accepted(request: slack_requests.SlackRequest) -> bool:
        return verifier.is_valid_request(request.body, request.headers)

    assert accepted(slash_command(SECRET, text="help"))
    assert not accepted(slash_command(SECRET, text="help", wrong_signature=True))
    assert not accepted(slash_command(SECRET, text="help", timestamp=stale_timestamp()))
    assert not accepted(slash_command("another-secret", text="help"))
    body = b"payload=%7B%7D"
    assert verifier.is_valid_request(body, sign(SECRET, body, int(time.time())))


def test_slash_command_fields_in_slacks_order() -> None:
    request = slash_command(SECRET, text="send +380972920283 hi", response_url="http://x/r")
    fields = parse_qsl(request.text, keep_blank_values=True)
    assert [name for name, _ in fields] == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert dict(fields)["text"] == "send +380972920283 hi"
    assert "command=%2Fviber" in request.text and "text=send+%2B380972920283+hi" in request.text
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    again = slash_command(SECRET)
    assert dict(parse_qsl(again.text))["trigger_id"] != dict(fields)["trigger_id"]


def test_view_submission_from_an_opened_view() -> None:
    opened = {**MODAL, "id": "V00000001", "hash": "1.abc"}
    request = view_submission(
        SECRET,
        view=opened,
        values={"recipients": "+380972920283", "promotional": ["promotional"]},
        user_id="U7",
    )
    payload = json.loads(parse_qs(request.text)["payload"][0])
    assert payload["type"] == "view_submission" and payload["user"]["id"] == "U7"
    view = payload["view"]
    assert (view["id"], view["callback_id"], view["private_metadata"], view["hash"]) == (
        "V00000001",
        "viber_send",
        "C123",
        "1.abc",
    )
    assert view["state"]["values"] == {
        "recipients": {"recipients": {"type": "plain_text_input", "value": "+380972920283"}},
        "sender": {"sender": {"type": "plain_text_input", "value": "Acme"}},
        "promotional": {
            "promotional": {
                "type": "checkboxes",
                "selected_options": [
                    {
                        "text": {"type": "plain_text", "text": "promotional", "emoji": True},
                        "value": "promotional",
                    }
                ],
            }
        },
        "send_at": {"send_at": {"type": "datetimepicker", "selected_date_time": None}},
    }
    assert payload["response_urls"] == []


def test_state_values_per_element_type() -> None:
    assert state_value("number_input", 300) == {"type": "number_input", "value": "300"}
    assert state_value("url_text_input", "") == {"type": "url_text_input", "value": None}
    assert state_value("datetimepicker", 1732600000.0) == {
        "type": "datetimepicker",
        "selected_date_time": 1732600000,
    }
    assert state_value("checkboxes") == {"type": "checkboxes", "selected_options": []}


def test_events_are_json() -> None:
    request = event_callback(SECRET, app_home_opened("U5"))
    assert request.headers["Content-Type"] == "application/json"
    envelope = json.loads(request.body)
    assert envelope["type"] == "event_callback"
    assert envelope["event"]["type"] == "app_home_opened" and envelope["event"]["user"] == "U5"
    assert slack_requests.slack_json({"u": "https://x"}) == '{"u":"https:\\/\\/x"}'
    handshake = json.loads(url_verification(SECRET, "abc").body)
    assert handshake == {
        "token": slack_requests.VERIFICATION_TOKEN,
        "challenge": "abc",
        "type": "url_verification",
    }


async def test_bolt_app_round_trip(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    """A Bolt app verifies the builders' requests and talks to the stand-in unchanged."""
    app = AsyncApp(client=web_client, signing_secret=SECRET)
    submitted: list[dict] = []

    @app.command("/viber")
    async def open_modal(ack, body, client, respond):
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await respond("opening")

    @app.view("viber_send")
    async def take(ack, view):
        submitted.append(view["state"]["values"])
        await ack(response_action="errors", errors={"recipients": "bad number"})

    def bolt_request(request: slack_requests.SlackRequest) -> AsyncBoltRequest:
        return AsyncBoltRequest(body=request.text, headers=request.headers)

    command = slash_command(SECRET, response_url=standin.response_url("c1"))
    assert (await app.async_dispatch(bolt_request(command))).status == 200
    opened = await standin.wait_for(lambda s: s.opened_views)
    await standin.wait_for(lambda s: s.responses_to("c1"))

    submission = view_submission(SECRET, view=opened[0], values={"recipients": "12"})
    answer = await app.async_dispatch(bolt_request(submission))
    assert json.loads(answer.body) == {
        "response_action": "errors",
        "errors": {"recipients": "bad number"},
    }
    assert submitted[0]["recipients"]["recipients"]["value"] == "12"
    stale = slash_command(SECRET, timestamp=stale_timestamp())
    assert (await app.async_dispatch(bolt_request(stale))).status == 401


async def test_apps_connections_open_takes_only_the_app_token(standin: SlackStandIn) -> None:
    app_token = "xapp-1-A0123-4567-0123456789abcdef"
    standin.app_token = app_token
    opened = await AsyncWebClient(base_url=standin.base_url).apps_connections_open(
        app_token=app_token
    )
    assert opened["ok"] and opened["url"].startswith("ws://127.0.0.1:")
    assert opened["url"].endswith("/socket")
    for wrong in ("xapp-1-A0123-4567-somethingelse", BOT_TOKEN):
        with pytest.raises(SlackApiError) as refused:
            await AsyncWebClient(base_url=standin.base_url).apps_connections_open(app_token=wrong)
        assert refused.value.response["error"] == "invalid_auth"
    standin.app_token = None  # a stand-in given no app token refuses every one
    with pytest.raises(SlackApiError):
        await AsyncWebClient(base_url=standin.base_url).apps_connections_open(app_token=app_token)
    assert [m for m, _ in standin.calls].count("apps.connections.open") == 4
