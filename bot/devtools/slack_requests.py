"""Requests built byte for byte as Slack sends them to `POST /slack/events`, signed with v0.

`viber-bot demo` drives the app with these, and so do the tests (tests/slack_requests.py adds
interactivity and Events API builders). Every builder returns a `SlackRequest` (unpacks as
`body, headers`). Shapes follow Slack's documentation:
- signing: https://api.slack.com/authentication/verifying-requests-from-slack
  (`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`; Bolt rejects timestamps over 5 min old);
- slash commands: https://api.slack.com/interactivity/slash-commands (form fields, in the order
  Slack sends them);
- interactivity: https://api.slack.com/reference/interaction-payloads/views (form body with
  one `payload` field holding JSON).
Slack writes its JSON compactly, with `/` escaped as `\\/` and non-ASCII as `\\uXXXX`; so do we.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode

from bot.devtools.slack_standin import APP_ID, BOT_ID, TEAM_DOMAIN, TEAM_ID

VERIFICATION_TOKEN = "legacy-verification-token"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
STALE_AFTER = 5 * 60  # Bolt's and slack_sdk's window for X-Slack-Request-Timestamp

_sequence = itertools.count(1)


class SlackRequest(NamedTuple):
    """A request body and its headers, as Slack would send them."""

    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode()


def sign(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    content_type: str = FORM,
    wrong_signature: bool = False,
) -> dict[str, str]:
    """Slack's v0 request headers for `body`; `wrong_signature` flips one hex digit."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    signature = digest.hexdigest()
    if wrong_signature:
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={signature}",
    }


def stale_timestamp(age: int = STALE_AFTER + 60) -> int:
    """A request timestamp old enough (default 6 minutes) to be rejected as a replay."""
    return int(time.time()) - age


def fresh_trigger_id() -> str:
    """A trigger id shaped like Slack's (`<digits>.<digits>.<hex>`), unique per call."""
    return (
        f"{int(time.time() * 1000)}{next(_sequence):04d}.{TEAM_ID[1:]}0001.{secrets.token_hex(16)}"
    )


def slack_json(value: Any) -> str:
    """JSON as Slack writes it: compact, `\\/` for slashes, ASCII only."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def signed(
    secret: str,
    body: bytes,
    timestamp: int | None,
    content_type: str,
    wrong_signature: bool,
) -> SlackRequest:
    headers = sign(
        secret, body, timestamp, content_type=content_type, wrong_signature=wrong_signature
    )
    return SlackRequest(body, headers)


def payload_form(payload: Mapping[str, Any]) -> bytes:
    return urlencode({"payload": slack_json(payload)}).encode()


# ------------------------------------------------------------------------- slash command


def slash_command(
    secret: str,
    *,
    command: str = "/viber",
    text: str = "",
    user_id: str = "U123",
    user_name: str = "alice",
    channel_id: str = "C123",
    channel_name: str = "general",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
    is_enterprise_install: bool = False,
    api_app_id: str = APP_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
    timestamp: int | None = None,
    wrong_signature: bool = False,
) -> SlackRequest:
    """A slash command: the form fields Slack posts, in Slack's order.

    `enterprise_id`/`enterprise_name` appear only on Enterprise Grid, after `team_domain`.
    `response_url` defaults to a hooks.slack.com-shaped URL; pass the stand-in's to capture.
    """
    fields: list[tuple[str, str]] = [
        ("token", token),
        ("team_id", team_id),
        ("team_domain", team_domain),
    ]
    if enterprise_id is not None:
        fields.append(("enterprise_id", enterprise_id))
        fields.append(("enterprise_name", enterprise_name or "Stand-in Org"))
    fields += [
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", api_app_id),
        ("is_enterprise_install", "true" if is_enterprise_install else "false"),
        (
            "response_url",
            response_url
            or f"https://hooks.slack.com/commands/{team_id}/{next(_sequence)}/{secrets.token_hex(12)}",
        ),
        ("trigger_id", trigger_id or fresh_trigger_id()),
    ]
    return signed(secret, urlencode(fields).encode(), timestamp, FORM, wrong_signature)


# ------------------------------------------------------------------------ view submission


def state_value(element_type: str, value: Any = None) -> dict[str, Any]:
    """One element's entry in `view.state.values`, as Slack reports it; None means left empty.

    plain_text_input / url_text_input / number_input: `value` (a string; numbers are sent
    as their text); checkboxes: `selected_options` from the given option values (or option
    dicts); datetimepicker: `selected_date_time` as int epoch seconds; file_input: `files`
    from the given file objects.
    """
    if element_type in ("plain_text_input", "url_text_input", "email_text_input"):
        return {"type": element_type, "value": None if value in (None, "") else str(value)}
    if element_type == "number_input":
        return {"type": element_type, "value": None if value in (None, "") else str(value)}
    if element_type == "checkboxes":
        return {"type": element_type, "selected_options": _options(value or [])}
    if element_type == "datetimepicker":
        return {"type": element_type, "selected_date_time": None if value is None else int(value)}
    if element_type == "file_input":
        # `value`: the uploaded files' objects (SlackStandIn.add_file returns one).
        return {"type": element_type, "files": [dict(f) for f in value or []]}
    if element_type == "datepicker":
        return {"type": element_type, "selected_date": value}
    if element_type == "static_select":
        options = _options([value] if value is not None else [])
        return {"type": element_type, "selected_option": options[0] if options else None}
    raise ValueError(f"no state shape for element type {element_type!r}")


def _options(values: Iterable[Any]) -> list[dict[str, Any]]:
    options = []
    for value in values:
        if isinstance(value, Mapping):
            options.append(dict(value))
        else:
            text = {"type": "plain_text", "text": str(value), "emoji": True}
            options.append({"text": text, "value": str(value)})
    return options


def _initial_state(element: Mapping[str, Any]) -> dict[str, Any]:
    """What Slack reports for an input the person did not touch: its initial value."""
    kind = str(element.get("type"))
    if kind == "checkboxes":
        return {"type": kind, "selected_options": list(element.get("initial_options") or [])}
    if kind == "datetimepicker":
        return state_value(kind, element.get("initial_date_time"))
    if kind == "datepicker":
        return state_value(kind, element.get("initial_date"))
    if kind == "static_select":
        return {"type": kind, "selected_option": element.get("initial_option")}
    if kind == "file_input":
        return {"type": kind, "files": []}
    return {"type": kind, "value": element.get("initial_value") or None}


def view_values(
    values: Mapping[str, Any], blocks: Iterable[Mapping[str, Any]] = ()
) -> dict[str, dict[str, Any]]:
    """`view.state.values`: every input block of `blocks` (untouched ones at their initial
    value), overridden by `values`.

    `values` maps block_id to either a state entry (`state_value(...)`, filed under
    action_id == block_id, the contract's rule) or a plain value (its type taken from the
    block's element), or to a `{action_id: state entry}` dict.
    """
    elements: dict[str, Mapping[str, Any]] = {}
    state: dict[str, dict[str, Any]] = {}
    for block in blocks:
        element = block.get("element")
        if block.get("type") == "input" and isinstance(element, Mapping):
            elements[str(block["block_id"])] = element
            state[str(block["block_id"])] = {str(element["action_id"]): _initial_state(element)}
    for block_id, given in values.items():
        element = elements.get(block_id)
        action_id = str(element["action_id"]) if element else block_id
        if isinstance(given, Mapping) and "type" in given:
            state[block_id] = {action_id: dict(given)}
        elif isinstance(given, Mapping):
            state[block_id] = {key: dict(entry) for key, entry in given.items()}
        elif element is not None:
            state[block_id] = {action_id: state_value(str(element["type"]), given)}
        else:
            raise ValueError(f"block {block_id!r}: pass state_value(...) (no view blocks given)")
    return state


def view_submission(
    secret: str,
    *,
    values: Mapping[str, Any],
    view: Mapping[str, Any] | None = None,
    view_id: str | None = None,
    callback_id: str | None = None,
    private_metadata: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    hash: str | None = None,
    user_id: str = "U123",
    user_name: str = "alice",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    trigger_id: str | None = None,
    response_urls: list[dict[str, Any]] | None = None,
    token: str = VERIFICATION_TOKEN,
    timestamp: int | None = None,
    wrong_signature: bool = False,
) -> SlackRequest:
    """A modal submitted: `payload=<JSON>` shaped like Slack's `view_submission`.

    Pass `view=` (a view the stand-in opened) to submit that modal: its id, callback_id,
    private_metadata, blocks and hash are used, and inputs not named in `values` keep their
    initial values. Explicit keyword arguments win over the view's.
    """
    base = dict(view or {})
    view_id = view_id or base.get("id") or f"V{next(_sequence):08d}"
    blocks = blocks if blocks is not None else list(base.get("blocks") or [])
    submitted = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": blocks,
        "private_metadata": (
            private_metadata if private_metadata is not None else base.get("private_metadata", "")
        ),
        "callback_id": callback_id or base.get("callback_id") or "viber_send",
        "state": {"values": view_values(values, blocks)},
        "hash": hash or base.get("hash") or f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": base.get("title") or {"type": "plain_text", "text": "Send Viber", "emoji": True},
        "clear_on_close": bool(base.get("clear_on_close", False)),
        "notify_on_close": bool(base.get("notify_on_close", False)),
        "close": base.get("close") or {"type": "plain_text", "text": "Cancel", "emoji": True},
        "submit": base.get("submit") or {"type": "plain_text", "text": "Send", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": api_app_id,
        "external_id": base.get("external_id", ""),
        "app_installed_team_id": team_id,
        "bot_id": base.get("bot_id", BOT_ID),
    }
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id or fresh_trigger_id(),
        "view": submitted,
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return signed(secret, payload_form(payload), timestamp, FORM, wrong_signature)
