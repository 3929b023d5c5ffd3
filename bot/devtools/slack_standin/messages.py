"""Messages: chat.*, conversations.*, users.info, auth.test and api.test, and what channels show."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bot.devtools.slack_standin.calls import Params, SlackCallError, flag, require
from bot.devtools.slack_standin.identity import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID
from bot.devtools.slack_standin.validation import check_message_content

DEFAULT_PAGE = 100


class MessagesApi:
    """The stand-in's message store and the Web API methods that read and write it."""

    _clock: Callable[[], float]
    _last_ts_micros: int
    _messages: dict[str, dict[str, dict[str, Any]]]
    _channel_order: dict[str, list[str]]
    _replies: dict[tuple[str, str], list[str]]
    ephemerals: list[dict[str, Any]]
    users: dict[str, dict[str, Any]]

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """What the channel shows, oldest first: top-level posts and broadcast replies."""
        stored = self._messages.get(channel, {})
        return [copy.deepcopy(stored[ts]) for ts in self._channel_order.get(channel, [])]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies under the parent `ts`, oldest first (the parent itself not included)."""
        stored = self._messages.get(channel, {})
        return [copy.deepcopy(stored[reply]) for reply in self._replies.get((channel, ts), [])]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The message's current state (after any chat.update), or None."""
        found = self._messages.get(channel, {}).get(ts)
        return copy.deepcopy(found) if found is not None else None

    # --------------------------------------------------------------------- helpers

    def _next_ts(self) -> str:
        micros = max(int(self._clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, params: Params) -> str:
        return str(require(params, "channel", "channel_not_found"))

    def _stored(self, channel: str, ts: str) -> dict[str, Any] | None:
        return self._messages.get(channel, {}).get(ts)

    @staticmethod
    def _visible(message: dict[str, Any], include_metadata: bool) -> dict[str, Any]:
        shown = copy.deepcopy(message)
        if not include_metadata:
            shown.pop("metadata", None)
        return shown

    @staticmethod
    def _page(items: list[dict[str, Any]], params: Params) -> dict[str, Any]:
        limit = int(params.get("limit") or DEFAULT_PAGE)
        cursor = str(params.get("cursor") or "")
        start = int(cursor.removeprefix("offset:")) if cursor.startswith("offset:") else 0
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": f"offset:{start + limit}" if more else ""},
        }

    # ------------------------------------------------------------------ API methods

    def _api_test(self, params: Params) -> dict[str, Any]:
        return {"args": params} if params else {}

    def _auth_test(self, params: Params) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Stand-in",
            "user": "viber-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        check_message_content(params)
        thread_ts = params.get("thread_ts")
        if thread_ts:
            parent = self._stored(channel, str(thread_ts))
            if parent is None:
                raise SlackCallError("thread_not_found")
            # A reply to a reply joins the same thread, as in Slack.
            thread_ts = parent.get("thread_ts", parent["ts"])
            parent = self._messages[channel][thread_ts]
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": params.get("text") or "",
            "ts": ts,
        }
        for name in ("blocks", "attachments", "metadata"):
            if params.get(name) is not None:
                message[name] = params[name]
        self._messages.setdefault(channel, {})[ts] = message
        if thread_ts:
            message["thread_ts"] = thread_ts
            replies = self._replies.setdefault((channel, thread_ts), [])
            replies.append(ts)
            parent.update(
                thread_ts=thread_ts,
                reply_count=len(replies),
                latest_reply=ts,
                reply_users=[BOT_USER_ID],
            )
            if flag(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
                self._channel_order.setdefault(channel, []).append(ts)
        else:
            self._channel_order.setdefault(channel, []).append(ts)
        return {"channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_update(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(require(params, "ts", "message_not_found"))
        message = self._stored(channel, ts)
        if message is None:
            raise SlackCallError("message_not_found")
        check_message_content(params)
        if "text" in params:
            message["text"] = params["text"] or ""
        for name in ("blocks", "attachments", "metadata"):
            if params.get(name) is not None:
                message[name] = params[name]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": copy.deepcopy(message),
        }

    def _chat_post_ephemeral(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        user = str(require(params, "user", "user_not_in_channel"))
        check_message_content(params)
        message_ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": params.get("text") or "",
                "blocks": params.get("blocks"),
                "thread_ts": params.get("thread_ts"),
                "message_ts": message_ts,
            }
        )
        return {"message_ts": message_ts}

    def _conversations_replies(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(require(params, "ts", "thread_not_found"))
        message = self._stored(channel, ts)
        if message is None:
            raise SlackCallError("thread_not_found")
        parent_ts = message.get("thread_ts", ts)
        ordered = [parent_ts, *self._replies.get((channel, parent_ts), [])]
        include = flag(params.get("include_all_metadata"))
        messages = [self._visible(self._messages[channel][t], include) for t in ordered]
        return self._page(messages, params)

    def _conversations_history(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        include = flag(params.get("include_all_metadata"))
        inclusive = flag(params.get("inclusive"))
        oldest = float(params.get("oldest") or 0)
        latest = float(params["latest"]) if params.get("latest") else None
        messages = []
        for ts in reversed(self._channel_order.get(channel, [])):
            value = float(ts)
            if value < oldest or (value == oldest and oldest and not inclusive):
                continue
            if latest is not None and (value > latest or (value == latest and not inclusive)):
                continue
            messages.append(self._visible(self._messages[channel][ts], include))
        return self._page(messages, params)

    def _users_info(self, params: Params) -> dict[str, Any]:
        user_id = str(require(params, "user", "user_not_found"))
        user = self.users.get(user_id) or {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": user_id.lower(),
            "real_name": f"User {user_id}",
            "tz": "Europe/Kyiv",
            "is_bot": False,
            "profile": {"real_name": f"User {user_id}", "display_name": user_id.lower()},
        }
        return {"user": copy.deepcopy(user)}
