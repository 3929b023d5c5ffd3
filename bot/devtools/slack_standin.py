"""A local stand-in for Slack's Web API and response URLs, for `viber-bot demo` and the tests.

It speaks HTTP on 127.0.0.1 so the app's own `AsyncWebClient(base_url=...)` runs unchanged:
form-encoded, query-string and JSON bodies are all read, the token comes from
`Authorization: Bearer` (or a `token` parameter), and answers are shaped like Slack's.
Tests script failures (`fail_next`, `delay`, `drop_response_after_post`) and inspect what
arrived (`calls`, `channel_messages`, `thread`, `ephemerals`, `responses`, ...).
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Params = dict[str, Any]
Handler = Callable[[Params], dict[str, Any]]

# Identity the stand-in answers with; tests/slack_requests.py uses the same team and app.
TEAM_ID = "T123"
TEAM_DOMAIN = "standin"
APP_ID = "A123"
BOT_ID = "B123"
BOT_USER_ID = "UBOT123"

# Slack's documented limits, checked so the bot fails here the way it would fail in Slack.
MAX_TEXT = 40_000
MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3_000
MAX_CALLBACK_ID = 255
DEFAULT_PAGE = 100

# Parameters Slack accepts as JSON-encoded strings when the body is form-encoded.
JSON_PARAMS = ("blocks", "attachments", "metadata", "view", "files")
BLOCK_TYPES = {
    "section",
    "context",
    "header",
    "divider",
    "image",
    "actions",
    "input",
    "rich_text",
    "markdown",
    "file",
    "video",
}


class SlackCallError(Exception):
    """A Web API call Slack would answer with `ok: false` and this error."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Failure:
    count: int
    status: int
    error: str
    retry_after: int | str | None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _require(params: Params, name: str, error: str | None = None) -> Any:
    value = params.get(name)
    if value in (None, ""):
        raise SlackCallError(error or "invalid_arguments", missing=name)
    return value


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


class SlackStandIn:
    """Slack's Web API (the methods viber-bot calls) plus response URLs, kept in memory."""

    def __init__(
        self,
        *,
        token: str | None = None,
        app_token: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._clock = clock or time.time
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None
        self._last_ts_micros = 0
        self._view_ids = itertools.count(1)
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._drops: dict[str, int] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self._channel_order: dict[str, list[str]] = {}
        self._replies: dict[tuple[str, str], list[str]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._used_triggers: set[str] = set()
        self._response_posts: list[tuple[str, dict[str, Any]]] = []
        self._response_names = itertools.count(1)
        self.calls: list[tuple[str, Params]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.opened_views: list[dict[str, Any]] = []
        self.published_views: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        # files.uploadV2's three steps: URL issued -> bytes uploaded -> completed (shared).
        self.files: dict[str, dict[str, Any]] = {}
        # Files people uploaded in a file_input (add_file), served by files.info and url_private.
        self.uploads: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.downloads: list[tuple[str, bool]] = []  # (file id, authorised)
        self._file_ids = itertools.count(1)
        self._methods: dict[str, Handler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "files.info": self._files_info,
            "apps.connections.open": self._apps_connections_open,
        }

    # ----------------------------------------------------------------- server lifecycle

    def make_app(self) -> web.Application:
        """The aiohttp application: `/api/<method>` and `/response/<name>`."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{name:.*}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._handle_file_download)
        app.router.add_get("/login", self._handle_login)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port); returns the base URL ending in `/api/`."""
        self._runner = web.AppRunner(self.make_app(), shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}/api/"
        return self.base_url

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def response_url(self, name: str | None = None) -> str:
        """A URL on this server that records what is POSTed to it, as a `response_url`."""
        if self.base_url is None:
            raise RuntimeError("start() the stand-in before asking for a response URL")
        name = name or f"cmd{next(self._response_names)}"
        return f"{self.base_url.removesuffix('/api/')}/response/{name}"

    # ---------------------------------------------------------------------- scripting

    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        status: int | None = None,
        retry_after: int | str | None = 1,
        error: str | None = None,
    ) -> None:
        """Answer the next `count` calls to `method` with a failure instead of processing them.

        No `status` and no `error`: HTTP 429 `ratelimited` with `Retry-After: retry_after`
        (seconds, or a string such as an HTTP date, sent as it is).
        `status=5xx`: that HTTP status with `{"ok": false, "error": error or "internal_error"}`.
        `error` alone: HTTP 200 with `{"ok": false, "error": error}`.
        `method` "response_url" scripts the response URLs.
        """
        if status is None:
            status = 200 if error is not None else 429
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        failure = _Failure(count, status, error, retry_after if status == 429 else None)
        self._failures.setdefault(method, []).append(failure)

    def delay(self, method: str, seconds: float) -> None:
        """Hold every call to `method` this long before processing it (0 turns it off).

        The call is still processed after the delay, even when the client gave up waiting,
        as Slack processes a request that reached it.
        """
        if seconds > 0:
            self._delays[method] = seconds
        else:
            self._delays.pop(method, None)

    def drop_response_after(self, method: str, count: int = 1) -> None:
        """Process the next `count` calls to `method`, then cut the connection unanswered."""
        self._drops[method] = self._drops.get(method, 0) + count

    def drop_response_after_post(self, count: int = 1) -> None:
        """The next `count` chat.postMessage calls are stored, but their answer is lost."""
        self.drop_response_after("chat.postMessage", count)

    # --------------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[Params]:
        return [params for name, params in self.calls if name == method]

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

    def uploaded_files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files completed with files.completeUploadExternal (in `channel`), oldest first;
        each has `content` (bytes), `name`, `title`, `channel`, `thread_ts`."""
        done = [f for f in self.files.values() if f.get("completed")]
        return [copy.deepcopy(f) for f in done if channel is None or f["channel"] == channel]

    def view(self, view_id: str) -> dict[str, Any] | None:
        """A modal's current state (after any views.update), or None."""
        found = self._views.get(view_id)
        return copy.deepcopy(found) if found is not None else None

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Bodies POSTed to response URLs, in order."""
        return [body for _, body in self._response_posts]

    def responses_to(self, name_or_url: str) -> list[dict[str, Any]]:
        name = name_or_url.rsplit("/response/", 1)[-1]
        return [body for posted, body in self._response_posts if posted == name]

    # A `timeout` argument reads better in tests than asyncio.timeout around each call, and
    # polling (not an Event) lets the predicate look at state outside the stand-in too.
    async def wait_for(
        self,
        predicate: Callable[[SlackStandIn], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Any:
        """Poll until `predicate(self)` is truthy and return its value; TimeoutError if not."""
        try:
            async with asyncio.timeout(timeout):
                while not (result := predicate(self)):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise TimeoutError(f"stand-in condition not met within {timeout}s") from None
        return result

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params, token = await self._read_params(request)
        except SlackCallError as exc:
            return web.json_response({"ok": False, "error": exc.error})
        self.calls.append((method, params))

        if method in self._delays:
            await asyncio.sleep(self._delays[method])
        failure = self._take_failure(method)
        if failure is not None:
            return self._failure_response(failure)

        if method == "apps.connections.open":
            if self.app_token is None or token != self.app_token:
                return web.json_response({"ok": False, "error": "invalid_auth"})
        elif self.token is not None and method != "api.test":
            if not token:
                return web.json_response({"ok": False, "error": "not_authed"})
            if token != self.token:
                return web.json_response({"ok": False, "error": "invalid_auth"})

        handler = self._methods.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            body = {"ok": True, **handler(params)}
        except SlackCallError as exc:
            body = {"ok": False, "error": exc.error}
            messages = exc.extra.get("messages")
            if messages:
                body["response_metadata"] = {"messages": messages}

        if body["ok"] and self._drops.get(method):
            self._drops[method] -= 1
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # the answer is lost with the connection
        return web.json_response(body)

    # ------------------------------------------------------------------ Socket Mode

    def _apps_connections_open(self, params: Params) -> dict[str, Any]:
        assert self.base_url is not None
        return {"url": self.base_url.replace("http://", "ws://").removesuffix("/api/") + "/socket"}

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode as Slack speaks it: `hello`, then envelopes the app acknowledges."""
        socket = web.WebSocketResponse(heartbeat=None)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": APP_ID},
                "debug_info": {"host": "standin", "approximate_connection_time": 3600},
            }
        )
        try:
            async for frame in socket:
                if frame.type != web.WSMsgType.TEXT:
                    continue
                try:
                    ack = json.loads(frame.data)
                except ValueError:
                    continue
                waiter = self._socket_acks.pop(str(ack.get("envelope_id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(ack.get("payload") or {})
        finally:
            self._sockets.remove(socket)
        return socket

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    @property
    def socket_connections(self) -> int:
        """Socket Mode connections open now (one app may hold several, e.g. one per replica)."""
        return len(self._sockets)

    async def socket_request(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        wait: float = 5.0,
        connection: int = -1,
    ) -> dict[str, Any]:
        """Send one envelope (`slash_commands`, `interactive`, `events_api`) over Socket Mode
        and return the app's acknowledgement payload (raises TimeoutError without one).
        `connection` picks the open connection that carries it, in the order they opened (the
        latest by default): Slack hands each envelope to one of an app's connections."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection")
        envelope_id = f"env-{next(self._view_ids)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._socket_acks[envelope_id] = waiter
        await self._sockets[connection].send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": envelope_type != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return await asyncio.wait_for(waiter, wait)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        failure = self._take_failure("response_url")
        if failure is not None:
            return self._failure_response(failure)
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self._response_posts.append((name, body))
        return web.json_response({"ok": True})

    async def _read_params(self, request: web.Request) -> tuple[Params, str | None]:
        params: Params = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    loaded = json.loads(await request.text())
                except ValueError as exc:
                    raise SlackCallError("invalid_json") from exc
                if not isinstance(loaded, dict):
                    raise SlackCallError("invalid_json")
                params.update(loaded)
            else:
                form = await request.post()
                params.update({key: value for key, value in form.items() if isinstance(value, str)})
        # Form fields and query parameters carry these as JSON text (slack_sdk sends some
        # methods' arguments, files.completeUploadExternal's among them, in the query string).
        for name in JSON_PARAMS:
            if isinstance(params.get(name), str) and params[name]:
                try:
                    params[name] = json.loads(params[name])
                except ValueError as exc:
                    raise SlackCallError(f"invalid_{name}_format") from exc
        token = params.pop("token", None)
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
        return params, token

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.count -= 1
        if failure.count <= 0:
            queue.pop(0)
        return failure

    @staticmethod
    def _failure_response(failure: _Failure) -> web.Response:
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return web.json_response(
            {"ok": False, "error": failure.error}, status=failure.status, headers=headers
        )

    # --------------------------------------------------------------------- helpers

    def _next_ts(self) -> str:
        micros = max(int(self._clock() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, params: Params) -> str:
        return str(_require(params, "channel", "channel_not_found"))

    def _stored(self, channel: str, ts: str) -> dict[str, Any] | None:
        return self._messages.get(channel, {}).get(ts)

    @staticmethod
    def _check_content(params: Params) -> None:
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            raise SlackCallError("no_text")
        if len(str(params.get("text") or "")) > MAX_TEXT:
            raise SlackCallError("msg_too_long")
        if "blocks" in params:
            messages = _block_problems(params["blocks"], MAX_BLOCKS_MESSAGE, "/blocks")
            if messages:
                raise SlackCallError("invalid_blocks", messages=messages)
        metadata = params.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackCallError("invalid_metadata_format")

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
        self._check_content(params)
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
            if _flag(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
                self._channel_order.setdefault(channel, []).append(ts)
        else:
            self._channel_order.setdefault(channel, []).append(ts)
        return {"channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_update(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(_require(params, "ts", "message_not_found"))
        message = self._stored(channel, ts)
        if message is None:
            raise SlackCallError("message_not_found")
        self._check_content(params)
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
        user = str(_require(params, "user", "user_not_in_channel"))
        self._check_content(params)
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

    def _new_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._view_ids):08d}"
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self._clock())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self._views[view_id] = stored
        return stored

    def _views_open(self, params: Params) -> dict[str, Any]:
        view = params.get("view")
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
        if not trigger_id:
            raise SlackCallError("invalid_arguments", messages=["[ERROR] missing trigger_id"])
        if trigger_id in self._used_triggers:
            raise SlackCallError("expired_trigger_id")
        _raise_view_problems(view, expected_type="modal")
        self._used_triggers.add(trigger_id)
        stored = self._new_view(view)
        self.opened_views.append(copy.deepcopy(stored))
        return {"view": copy.deepcopy(stored)}

    def _views_update(self, params: Params) -> dict[str, Any]:
        view = params.get("view")
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next(
                (
                    v["id"]
                    for v in self._views.values()
                    if v["external_id"] == params["external_id"]
                ),
                None,
            )
        current = self._views.get(str(view_id)) if view_id else None
        if current is None:
            raise SlackCallError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackCallError("hash_conflict")
        _raise_view_problems(view, expected_type=current["type"])
        stored = self._new_view(view, view_id=current["id"])
        return {"view": copy.deepcopy(stored)}

    def _views_publish(self, params: Params) -> dict[str, Any]:
        user_id = str(_require(params, "user_id", "invalid_arguments"))
        view = params.get("view")
        _raise_view_problems(view, expected_type="home")
        current = self.published_views.get(user_id)
        if current is not None and params.get("hash") and params["hash"] != current["hash"]:
            raise SlackCallError("hash_conflict")
        stored = self._new_view(view, view_id=current["id"] if current else None)
        self.published_views[user_id] = copy.deepcopy(stored)
        return {"view": copy.deepcopy(stored)}

    def _conversations_replies(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(_require(params, "ts", "thread_not_found"))
        message = self._stored(channel, ts)
        if message is None:
            raise SlackCallError("thread_not_found")
        parent_ts = message.get("thread_ts", ts)
        ordered = [parent_ts, *self._replies.get((channel, parent_ts), [])]
        include = _flag(params.get("include_all_metadata"))
        messages = [self._visible(self._messages[channel][t], include) for t in ordered]
        return self._page(messages, params)

    def _conversations_history(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        include = _flag(params.get("include_all_metadata"))
        inclusive = _flag(params.get("inclusive"))
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

    def _files_get_upload_url(self, params: Params) -> dict[str, Any]:
        filename = str(_require(params, "filename", "invalid_arguments"))
        try:
            length = int(_require(params, "length", "invalid_arguments"))
        except ValueError:
            raise SlackCallError("invalid_arguments") from None
        if length < 1:
            raise SlackCallError("invalid_arguments")
        assert self.base_url is not None
        file_id = f"F{next(self._file_ids):08d}"
        self.files[file_id] = {
            "id": file_id,
            "name": filename,
            "length": length,
            "content": None,
            "completed": False,
        }
        upload_url = f"{self.base_url.removesuffix('/api/')}/upload/{file_id}"
        return {"upload_url": upload_url, "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["file_id"])
        if found is None or found["completed"]:
            return web.Response(status=404, text="not found")
        content = await request.read()
        if len(content) != found["length"]:
            # Slack refuses an upload whose size differs from the announced length.
            return web.Response(status=400, text="length mismatch")
        found["content"] = content
        return web.Response(status=200, text=f"OK - {len(content)}")

    def _files_complete_upload(self, params: Params) -> dict[str, Any]:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackCallError("invalid_arguments", messages=["[ERROR] missing files"])
        channel = params.get("channel_id") or params.get("channel")
        thread_ts = params.get("thread_ts")
        if thread_ts and not channel:
            raise SlackCallError("invalid_arguments")
        parent = None
        if thread_ts:
            parent = self._stored(str(channel), str(thread_ts))
            if parent is None:
                raise SlackCallError("invalid_thread_ts")
        completed = []
        for entry in entries:
            found = self.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if found is None or found["content"] is None:
                raise SlackCallError("file_not_found")
            found.update(
                completed=True,
                title=entry.get("title") or found["name"],
                channel=channel,
                thread_ts=thread_ts,
                initial_comment=params.get("initial_comment"),
            )
            completed.append({k: v for k, v in found.items() if k != "content"})
        if channel:
            # Slack shares the files as one message (in the thread when thread_ts is given).
            self._chat_post_message(
                {
                    "channel": channel,
                    "thread_ts": thread_ts,
                    "text": params.get("initial_comment") or "",
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": f["title"]}}
                        for f in completed
                    ],
                }
            )
        return {"files": completed}

    # ------------------------------------------------------------------ files

    def add_file(
        self, content: bytes, *, name: str = "recipients.csv", filetype: str | None = None
    ) -> dict[str, Any]:
        """Store an upload as `file_input` would; returns the file object a view state carries."""
        assert self.base_url is not None, "start() the stand-in first"
        file_id = f"F{next(self._file_ids):08d}"
        root = self.base_url.removesuffix("/api/")
        kind = filetype or ("csv" if name.lower().endswith(".csv") else "text")
        url = f"{root}/files-pri/{TEAM_ID}-{file_id}/{name}"
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": "text/csv" if kind == "csv" else "text/plain",
            "filetype": kind,
            "size": len(content),
            "url_private": url,
            "url_private_download": url + "?download=1",
            "created": int(self._clock()),
            "user": "U123",
        }
        self.uploads[file_id] = (info, content)
        return {k: info[k] for k in ("id", "name", "title", "mimetype", "filetype")}

    def _files_info(self, params: Params) -> dict[str, Any]:
        file_id = _require(params, "file")
        if file_id in self.uploads:
            return {"file": copy.deepcopy(self.uploads[file_id][0])}
        shared = self.files.get(file_id)
        if shared is None or not shared["completed"]:
            raise SlackCallError("file_not_found")
        return {"file": {k: v for k, v in shared.items() if k != "content"}}

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        # Like Slack: without the bot token a private file URL leads to the sign-in page.
        file_id = request.match_info["file_id"].removeprefix(f"{TEAM_ID}-")
        header = request.headers.get("Authorization", "")
        authorised = self.token is None or header == f"Bearer {self.token}"
        self.downloads.append((file_id, authorised))
        if not authorised:
            raise web.HTTPFound("/login")
        if file_id not in self.uploads:
            return web.Response(status=404, text="file not found")
        info, content = self.uploads[file_id]
        return web.Response(body=content, content_type=info["mimetype"])

    async def _handle_login(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body>Sign in to Slack</body></html>", content_type="text/html"
        )

    def _users_info(self, params: Params) -> dict[str, Any]:
        user_id = str(_require(params, "user", "user_not_found"))
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


# ------------------------------------------------------------------------ validation


def _block_problems(blocks: Any, limit: int, pointer: str) -> list[str]:
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.append(f"[ERROR] unsupported type [json-pointer:{where}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"[ERROR] duplicate block_id [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"[ERROR] must provide text or fields [json-pointer:{where}]")
            if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters "
                    f"[json-pointer:{where}/text/text]"
                )
            fields = block.get("fields") or []
            if len(fields) > MAX_SECTION_FIELDS:
                problems.append(
                    f"[ERROR] no more than {MAX_SECTION_FIELDS} items allowed "
                    f"[json-pointer:{where}/fields]"
                )
            for number, field in enumerate(fields):
                if len(_text_of(field)) > MAX_FIELD_TEXT:
                    problems.append(
                        f"[ERROR] must be less than {MAX_FIELD_TEXT + 1} characters "
                        f"[json-pointer:{where}/fields/{number}/text]"
                    )
        elif kind == "header":
            if len(_text_of(block.get("text"))) > MAX_HEADER_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_HEADER_TEXT + 1} characters "
                    f"[json-pointer:{where}/text/text]"
                )
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(
                    f"[ERROR] must have 1 to {MAX_CONTEXT_ELEMENTS} items "
                    f"[json-pointer:{where}/elements]"
                )
        elif kind == "input" and (
            "label" not in block or not isinstance(block.get("element"), dict)
        ):
            problems.append(f"[ERROR] needs a label and an element [json-pointer:{where}]")
    return problems


def _raise_view_problems(view: Any, *, expected_type: str) -> None:
    if not isinstance(view, dict):
        raise SlackCallError("invalid_arguments", messages=["[ERROR] missing view"])
    problems = []
    if view.get("type") != expected_type:
        problems.append(f"[ERROR] must be '{expected_type}' [json-pointer:/view/type]")
    problems += _block_problems(view.get("blocks", []), MAX_BLOCKS_VIEW, "/view/blocks")
    if expected_type == "modal":
        for name in ("title", "submit", "close"):
            if name in view and len(_text_of(view[name])) > MAX_VIEW_TITLE:
                problems.append(
                    f"[ERROR] must be less than {MAX_VIEW_TITLE + 1} characters "
                    f"[json-pointer:/view/{name}/text]"
                )
        if not _text_of(view.get("title")):
            problems.append("[ERROR] missing required field: title [json-pointer:/view/title]")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view["blocks"])
        if has_input and not view.get("submit"):
            problems.append("[ERROR] submit is required with input blocks [json-pointer:/view]")
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        problems.append(
            f"[ERROR] must be less than {MAX_PRIVATE_METADATA + 1} characters "
            "[json-pointer:/view/private_metadata]"
        )
    if len(str(view.get("callback_id", ""))) > MAX_CALLBACK_ID:
        problems.append(
            f"[ERROR] must be less than {MAX_CALLBACK_ID + 1} characters "
            "[json-pointer:/view/callback_id]"
        )
    if problems:
        raise SlackCallError("invalid_arguments", messages=problems)


# ------------------------------------------------------------------------- rendering

_SPECIAL = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def _plain(text: str) -> str:
    """Slack mrkdwn's links and mentions as a person reads them, entities unescaped."""

    def readable(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return label or target
        if target.startswith("#"):
            return f"#{label}" if label else target
        if target.startswith("!"):
            if label:
                return label
            return "@" + target[1:].split("^", 1)[0]
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_SPECIAL.sub(readable, text))


def _element_text(element: Any) -> str:
    if not isinstance(element, dict):
        return ""
    if element.get("type") == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if element.get("type") == "button":
        return f"[{_plain(_text_of(element.get('text')))}]"
    if "text" in element and isinstance(element["text"], str):
        return _plain(element["text"])
    if "elements" in element:
        return "".join(_element_text(child) for child in element["elements"])
    if "url" in element:
        return str(element["url"])
    return _text_of(element.get("text"))


def render_text(message: dict[str, Any]) -> str:
    """A stored message's blocks as readable plain-text lines (its `text` if it has none)."""
    blocks = message.get("blocks") or []
    if not blocks:
        return _plain(str(message.get("text", "")))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "section"):
            if block.get("text"):
                lines.extend(_plain(_text_of(block["text"])).splitlines())
            lines.extend(
                line
                for field in block.get("fields") or []
                for line in _plain(_text_of(field)).splitlines()
            )
            accessory = _element_text(block.get("accessory"))
            if accessory:
                lines.append(accessory)
        elif kind == "context":
            lines.append("  ".join(_element_text(e) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "image":
            lines.append(_element_text(block))
        elif kind == "actions":
            lines.append(" ".join(_element_text(e) for e in block.get("elements") or []))
        elif kind == "markdown":
            lines.extend(str(block.get("text", "")).splitlines())
        elif kind == "rich_text":
            lines.extend(
                "".join(_element_text(e) for e in section.get("elements") or []).rstrip("\n")
                for section in block.get("elements") or []
            )
    return "\n".join(lines)


__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "SlackCallError",
    "SlackStandIn",
    "render_text",
]
