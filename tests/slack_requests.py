"""Requests built byte for byte as Slack sends them to `POST /slack/events`, signed with v0.

Signing, slash commands and view submissions live in `bot/slack_signing.py` (the demo drives
the app with them) and are re-exported here; this module adds block actions and the Events API
envelopes: https://api.slack.com/reference/interaction-payloads/block-actions,
https://api.slack.com/apis/events-api (`event_callback`, `url_verification`) and
https://api.slack.com/events/app_home_opened.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping
from typing import Any

from bot.devtools.slack_requests import (  # noqa: F401  (the tests import these from here)
    FORM,
    JSON,
    STALE_AFTER,
    VERIFICATION_TOKEN,
    SlackRequest,
    fresh_trigger_id,
    payload_form,
    sign,
    signed,
    slack_json,
    slash_command,
    stale_timestamp,
    state_value,
    view_submission,
    view_values,
)
from bot.devtools.slack_standin import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

_sequence = itertools.count(1)


# -------------------------------------------------------------------------- block action


def block_action(
    secret: str,
    *,
    action_id: str,
    block_id: str | None = None,
    value: str | None = None,
    action_type: str = "button",
    user_id: str = "U123",
    user_name: str = "alice",
    channel_id: str | None = "C123",
    message_ts: str | None = None,
    view: Mapping[str, Any] | None = None,
    response_url: str | None = None,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    trigger_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
    timestamp: int | None = None,
    wrong_signature: bool = False,
) -> SlackRequest:
    """A `block_actions` payload for one action, from a message (default) or a `view`."""
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id or action_id,
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id or fresh_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id")}
        payload["view"] = dict(view)
    else:
        ts = message_ts or f"{time.time():.6f}"
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": "general"}
        payload["message"] = {"type": "message", "ts": ts, "text": ""}
        payload["response_url"] = (
            response_url or f"https://hooks.slack.com/actions/{team_id}/{next(_sequence)}/x"
        )
    return signed(secret, payload_form(payload), timestamp, FORM, wrong_signature)


# ----------------------------------------------------------------------------- Events API


def app_home_opened(
    user_id: str = "U123", *, channel: str = "D123", tab: str = "home"
) -> dict[str, Any]:
    """An `app_home_opened` event (before anything was published, so without `view`)."""
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }


def event_callback(
    secret: str,
    event: Mapping[str, Any],
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
    event_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
    timestamp: int | None = None,
    wrong_signature: bool = False,
) -> SlackRequest:
    """An Events API delivery: the `event_callback` envelope around `event`, as JSON."""
    now = int(time.time())
    envelope = {
        "token": token,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    body = slack_json(envelope).encode()
    return signed(secret, body, timestamp, JSON, wrong_signature)


def url_verification(
    secret: str,
    challenge: str | None = None,
    *,
    token: str = VERIFICATION_TOKEN,
    timestamp: int | None = None,
    wrong_signature: bool = False,
) -> SlackRequest:
    """The handshake Slack sends when the Events API request URL is saved."""
    body = slack_json(
        {
            "token": token,
            "challenge": challenge or secrets.token_urlsafe(24),
            "type": "url_verification",
        }
    ).encode()
    return signed(secret, body, timestamp, JSON, wrong_signature)


# The contract's modal: block id -> element type (block_id == action_id).
MODAL_ELEMENTS = {
    "recipients": "plain_text_input",
    "text": "plain_text_input",
    "sender": "plain_text_input",
    "image_url": "url_text_input",
    "button_caption": "plain_text_input",
    "button_url": "url_text_input",
    "sms_text": "plain_text_input",
    "sms_sender": "plain_text_input",
    "validity": "number_input",
    "send_at": "datetimepicker",
    "promotional": "checkboxes",
}


def modal_values(fields: Mapping[str, Any], *, sender: str = "Acme") -> dict[str, Any]:
    """State of the send modal by block id; `sender` stands pre-filled as in the real modal."""
    values = {"sender": state_value("plain_text_input", sender)}
    for name, value in fields.items():
        values[name] = state_value(MODAL_ELEMENTS[name], value)
    return values
