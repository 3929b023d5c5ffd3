"""Callback tokens, the per-recipient create body and the public URL setting."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.bsg.requests import build_create_body
from bot.domain.callback_tokens import PROBE_REFERENCE, CallbackTokens
from bot.domain.models import MessageContent, Recipient, SmsFallback
from bot.settings import load_settings
from bot.tracking.callbacks import parse_callback_body
from bot.tracking.sending import new_reference

SECRET = "callback-secret-0123456789abcdef"
PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def test_a_token_names_its_reference_and_matches_the_contract_pattern():
    tokens = CallbackTokens(SECRET)
    reference = new_reference()
    token = tokens.issue(reference)
    assert PATTERN.match(token)
    assert tokens.read(token) == reference
    assert tokens.issue(reference) == token  # the same reference always gets the same URL


@given(st.integers(min_value=0, max_value=53), st.sampled_from("AZaz09_-"))
def test_any_altered_character_is_refused(position, replacement):
    tokens = CallbackTokens(SECRET)
    token = tokens.issue("0123456789abcdef0123456789abcdef")
    altered = token[:position] + replacement + token[position + 1 :]
    if altered != token:
        assert tokens.read(altered) is None


def test_another_secret_cannot_make_or_read_tokens():
    ours, theirs = CallbackTokens(SECRET), CallbackTokens("another-secret-0123456789abcdef")
    token = theirs.issue("abc123")
    assert ours.read(token) is None
    assert ours.read("a" * 60) is None and ours.read("") is None and ours.read("x/y") is None


def test_the_probe_is_a_token_no_message_can_have():
    tokens = CallbackTokens(SECRET)
    assert tokens.read(tokens.issue(PROBE_REFERENCE)) == PROBE_REFERENCE
    assert not re.match(r"^[A-Za-z0-9_]{1,32}$", PROBE_REFERENCE)  # not a BSG reference


def test_the_token_reveals_no_number():
    tokens = CallbackTokens(SECRET)
    body = build_create_body(
        MessageContent(text="Hi", sender="Acme"),
        [Recipient(msisdn="380972920283", reference=new_reference())],
        0,
        lambda ref: tokens.url("https://bot.example.com/", ref),
    )
    url = body["messages"][0]["callback_url"]
    assert url.startswith("https://bot.example.com/bsg/callback/")
    assert "972920283" not in url


def test_with_callbacks_every_recipient_is_an_item_with_its_url():
    content = MessageContent(
        text="Hi", sender="Acme", sms=SmsFallback(originator="Acme", text="Hi by SMS")
    )
    recipients = [Recipient(msisdn=f"38097292028{i}", reference=f"ref{i}") for i in range(3)]
    body = build_create_body(content, recipients, 0, lambda ref: f"https://b.example/{ref}")
    assert [m["to"][0]["reference"] for m in body["messages"]] == ["ref0", "ref1", "ref2"]
    for i, message in enumerate(body["messages"]):
        assert message["callback_url"] == f"https://b.example/ref{i}"
        assert message["options"]["viber"]["alt_route"]["callback_url"] == message["callback_url"]
    plain = build_create_body(content, recipients, 0)
    assert len(plain["messages"]) == 1 and "callback_url" not in plain["messages"][0]
    assert "callback_url" not in plain["messages"][0]["options"]["viber"]["alt_route"]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://bot.example.com", True),
        ("https://bot.example.com/viber/", True),
        ("http://127.0.0.1:3000", True),
        ("http://localhost:3000", True),
        ("http://[::1]:3000", True),
        ("http://bot.example.com", False),
        ("http://10.0.0.1", False),
        ("ftp://bot.example.com", False),
    ],
)
def test_public_url_is_https_or_loopback_http(url, ok):
    values = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s" * 20,
        "BSG_API_KEY": "k",
        "VIBER_BOT_DEFAULT_SENDER": "Acme",
        "VIBER_BOT_PUBLIC_URL": url,
    }
    if ok:
        settings = load_settings(_env_file=None, **values)
        assert settings.public_url == url.rstrip("/") and settings.callbacks_on
    else:
        with pytest.raises(Exception, match=r"VIBER_BOT_PUBLIC_URL|public_url"):
            load_settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"id": "16", "status": "delivered"}', "application/json", "delivered"),
        (b'[{"status": "READ"}]', "application/json", "read"),
        (b"id=16&status=not_viber_user", "application/x-www-form-urlencoded", "not_viber_user"),
        (b"", None, None),
        (b"\xff\xfe garbage", "text/plain", None),
        (b'{"state": "weird_word"}', "application/json", "weird_word"),
    ],
)
def test_known_body_shapes_are_parsed(body, content_type, status):
    assert parse_callback_body(body, content_type) == status
