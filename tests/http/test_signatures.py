"""Slack's request signature on POST /slack/events: anything not signed by Slack now is a 401."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests import slack_requests
from tests.conftest import SIGNING_SECRET
from tests.slack_requests import STALE_AFTER, SlackRequest, state_value

SEND_TEXT = "send +380972920280 Signed or not"


def _requests(secret: str, app, **signing) -> list[SlackRequest]:
    """One request of each kind that would reach BSG or Slack if it were let in."""
    return [
        slack_requests.slash_command(
            secret, text=SEND_TEXT, response_url=app.slack.response_url(), **signing
        ),
        slack_requests.slash_command(secret, text="new", **signing),
        slack_requests.slash_command(
            secret, text="help", response_url=app.slack.response_url(), **signing
        ),
        slack_requests.view_submission(
            secret,
            values={
                "recipients": state_value("plain_text_input", "+380972920281"),
                "text": state_value("plain_text_input", "From the modal"),
                "sender": state_value("plain_text_input", "Acme"),
            },
            private_metadata='{"channel_id": "C123"}',
            **signing,
        ),
        slack_requests.event_callback(secret, slack_requests.app_home_opened(), **signing),
    ]


def _unsigned(request: SlackRequest) -> SlackRequest:
    headers = {
        k: v
        for k, v in request.headers.items()
        if k not in ("X-Slack-Signature", "X-Slack-Request-Timestamp")
    }
    return SlackRequest(request.body, headers)


def _tampered(request: SlackRequest) -> SlackRequest:
    # Signed correctly, then one byte of the body changed on the way.
    body = request.body.replace(b"T123", b"T999", 1)
    assert body != request.body
    return SlackRequest(body, request.headers)


def _without_timestamp(request: SlackRequest) -> SlackRequest:
    headers = dict(request.headers)
    del headers["X-Slack-Request-Timestamp"]
    return SlackRequest(request.body, headers)


FORGERIES = {
    "unsigned": lambda app: [_unsigned(r) for r in _requests(SIGNING_SECRET, app)],
    "wrong signature": lambda app: _requests(SIGNING_SECRET, app, wrong_signature=True),
    "other secret": lambda app: _requests("not-the-signing-secret", app),
    "tampered body": lambda app: [_tampered(r) for r in _requests(SIGNING_SECRET, app)],
    "stale (6 min old)": lambda app: _requests(
        SIGNING_SECRET, app, timestamp=slack_requests.stale_timestamp()
    ),
    "from the future (6 min)": lambda app: _requests(
        SIGNING_SECRET, app, timestamp=int(time.time()) + STALE_AFTER + 60
    ),
    "no timestamp": lambda app: [_without_timestamp(r) for r in _requests(SIGNING_SECRET, app)],
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_forged_requests_get_401_and_reach_neither_bsg_nor_slack(app, forgery):
    for request in FORGERIES[forgery](app):
        response = await app.post(request)
        assert response.status_code == 401, (forgery, request.text[:80], response.text)
    await asyncio.sleep(0.2)  # anything let in would have called BSG or Slack by now
    assert app.bsg.create_calls == 0
    assert app.bsg.requests == []
    # The only Web API call is the bot's own auth.test, made at start (before any request).
    assert [name for name, _ in app.slack.calls] in ([], ["auth.test"])
    assert app.slack.responses == []
    assert app.slack.opened_views == []
    assert await app.store.recent_sends(10) == []


async def test_the_same_requests_signed_now_are_let_in(app):
    """The control: the forgeries above fail only because of their signatures."""
    send, new, help_, submission, event = _requests(SIGNING_SECRET, app)
    for request in (send, new, help_, submission, event):
        response = await app.post(request)
        assert response.status_code == 200, response.text
    await app.wait_for(lambda: app.bsg.create_calls == 2)
    await app.wait_for(lambda: len(app.slack.channel_messages("C123")) == 2)
    await app.wait_for(lambda: app.slack.opened_views and app.slack.published_views)


async def test_a_request_just_inside_the_window_is_let_in(app):
    request = slack_requests.slash_command(
        SIGNING_SECRET, text="help", timestamp=int(time.time()) - STALE_AFTER + 30
    )
    response = await app.post(request)
    assert response.status_code == 200
    assert "send" in response.text
