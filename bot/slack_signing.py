"""Requests signed as Slack signs them (v0), for `viber-bot demo` to drive the app over HTTP.

Only what the demo sends: a slash command and a modal's `view_submission`, each a form body
with `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex HMAC-SHA256 of
"v0:{timestamp}:{body}">` (https://api.slack.com/authentication/verifying-requests-from-slack).
The tests have a fuller set of builders (tests/slack_requests.py); this one ships with the app.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode

from bot.slack_standin import APP_ID, BOT_ID, TEAM_DOMAIN, TEAM_ID

FORM = "application/x-www-form-urlencoded"

_sequence = itertools.count(1)


class SignedRequest(NamedTuple):
    """A body and the headers Slack would send with it."""

    body: bytes
    headers: dict[str, str]


def signature_headers(
    secret: str, body: bytes, *, content_type: str = FORM, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's v0 signature headers for `body`, timestamped now unless told otherwise."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def trigger_id() -> str:
    """A fresh trigger id shaped like Slack's (`<digits>.<digits>.<hex>`)."""
    return (
        f"{int(time.time() * 1000)}{next(_sequence):04d}.{TEAM_ID[1:]}0001.{secrets.token_hex(16)}"
    )


def slack_json(value: Any) -> str:
    """JSON as Slack writes it: compact, `\\/` for slashes, ASCII only."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def slash_command(
    secret: str,
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    response_url: str,
) -> SignedRequest:
    """A slash command: the form fields Slack posts, in Slack's order."""
    fields = [
        ("token", "demo-verification-token"),
        ("team_id", TEAM_ID),
        ("team_domain", TEAM_DOMAIN),
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", APP_ID),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id()),
    ]
    body = urlencode(fields).encode()
    return SignedRequest(body, signature_headers(secret, body))


def _state(element: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """One input's entry in `view.state.values`; `value` None means untouched (initial)."""
    kind = str(element.get("type"))
    if kind == "checkboxes":
        if value is None:
            return {"type": kind, "selected_options": list(element.get("initial_options") or [])}
        wanted = {str(v) for v in value}
        options = [o for o in element.get("options") or [] if o.get("value") in wanted]
        return {"type": kind, "selected_options": options}
    if kind == "datetimepicker":
        picked = element.get("initial_date_time") if value is None else value
        return {"type": kind, "selected_date_time": None if picked is None else int(picked)}
    if value is None:
        return {"type": kind, "value": element.get("initial_value") or None}
    # Slack reports text, URL and number inputs as strings; an emptied input as null.
    return {"type": kind, "value": str(value) if str(value) else None}


def view_submission(
    secret: str,
    *,
    view: Mapping[str, Any],
    values: Mapping[str, Any],
    user_id: str,
    user_name: str,
) -> SignedRequest:
    """The modal `view` (as `views.open` returned it) submitted with `values` by block_id.

    Inputs not named in `values` keep their initial values, as in Slack.
    """
    state: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, Mapping):
            continue
        block_id = str(block["block_id"])
        state[block_id] = {str(element["action_id"]): _state(element, values.get(block_id))}
    submitted = {
        **{key: view.get(key) for key in ("id", "team_id", "type", "blocks", "hash", "title")},
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": state},
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": None,
        "root_view_id": view.get("root_view_id") or view.get("id"),
        "app_id": APP_ID,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": TEAM_ID,
        "bot_id": view.get("bot_id", BOT_ID),
    }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "demo-verification-token",
        "trigger_id": trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    body = urlencode({"payload": slack_json(payload)}).encode()
    return SignedRequest(body, signature_headers(secret, body))
