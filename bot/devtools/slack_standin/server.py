"""The stand-in's HTTP server: routing, tokens, scripted failures, response URLs, recorded calls.

It speaks HTTP on 127.0.0.1 so the app's own `AsyncWebClient(base_url=...)` runs unchanged:
form-encoded, query-string and JSON bodies are all read, the token comes from
`Authorization: Bearer` (or a `token` parameter), and answers are shaped like Slack's.
Tests script failures (`fail_next`, `delay`, `drop_response_after_post`) and inspect what
arrived (`calls`, `channel_messages`, `thread`, `ephemerals`, `responses`, ...).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.devtools.slack_standin.calls import Handler, Params, SlackCallError
from bot.devtools.slack_standin.files import FilesApi
from bot.devtools.slack_standin.messages import MessagesApi
from bot.devtools.slack_standin.socket_mode import SocketMode
from bot.devtools.slack_standin.views import ViewsApi

# Parameters Slack accepts as JSON-encoded strings when the body is form-encoded.
JSON_PARAMS = ("blocks", "attachments", "metadata", "view", "files")


@dataclass
class _Failure:
    count: int
    status: int
    error: str
    retry_after: int | str | None


class SlackStandIn(MessagesApi, ViewsApi, FilesApi, SocketMode):
    """Slack's Web API (the methods viber-bot calls) plus response URLs, kept in memory."""

    def __init__(
        self,
        *,
        token: str | None = None,
        app_token: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        # The state each part works on is declared, with its meaning, in that part's class.
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
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.downloads: list[tuple[str, bool]] = []
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
