"""Socket Mode: apps.connections.open, the WebSocket, and envelopes the app acknowledges."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import web

from bot.devtools.slack_standin.calls import Params
from bot.devtools.slack_standin.identity import APP_ID


class SocketMode:
    """Slack's side of a Socket Mode connection: the tests send envelopes through it."""

    app_token: str | None
    base_url: str | None
    _sockets: list[web.WebSocketResponse]
    _socket_acks: dict[str, asyncio.Future[dict[str, Any]]]
    _view_ids: itertools.count[int]

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
