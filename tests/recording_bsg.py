"""The BSG simulator that also keeps every request as it arrived: method, path, headers, body."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.devtools.simulator import BsgSimulator


class RecordingBsg(BsgSimulator):
    """BsgSimulator plus `wire`: every request, failed ones too, as it reached the server."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.wire: list[tuple[str, str, dict[str, str], bytes]] = []

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.middlewares.insert(0, self._keep_request)  # outermost: sees scripted failures too
        return app

    @web.middleware
    async def _keep_request(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.wire.append((request.method, request.path, headers, body))
        return await handler(request)

    def bodies(self) -> str:
        """Every request body, as text, one after the other."""
        return "\n".join(body.decode("utf-8", "replace") for *_, body in self.wire)

    @property
    def create_bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the create requests, in order."""
        bodies = []
        for _, path, _, raw in self.wire:
            if path.endswith("/viber/create"):
                try:
                    body = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(body, dict):
                    bodies.append(body)
        return bodies

    @property
    def create_references(self) -> list[list[str]]:
        """Per create request, the references it carried."""
        return [
            [to["reference"] for message in body.get("messages", []) for to in message["to"]]
            for body in self.create_bodies
        ]
