"""The HTTP face of delivery callbacks: `POST /bsg/callback/{token}` read and answered."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bot.tracking.callbacks import MAX_BODY, CallbackService

# Answers written once: a flood of callbacks is answered without building JSON each time.
_BODIES = {
    status: json.dumps({"ok": status == 200, "error": reason}).encode()
    for status, reason in ((200, None), (404, "not found"), (413, "too large"), (429, "slow down"))
}


async def receive_callback(service: CallbackService, request: web.Request) -> web.Response:
    """Read at most 64 KB of the body (any content type), then let the service decide."""
    truncated = request.content_length is not None and request.content_length > MAX_BODY
    chunks: list[bytes] = []
    size = 0
    if not truncated:
        while size <= MAX_BODY:
            chunk = await request.content.readany()
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        truncated = size > MAX_BODY
    answer = await service.receive(
        request.match_info["token"],
        b"" if truncated else b"".join(chunks),
        truncated=truncated,
        content_type=request.headers.get("Content-Type"),
        source=request.remote or "unknown",
    )
    status = answer.status
    if answer.hold > 0:
        # Over its limit: the sender waits, this bot does not (a sleeping answer costs nothing).
        service.held += 1
        try:
            await asyncio.sleep(answer.hold)
        finally:
            service.held -= 1
    return web.Response(body=_BODIES[status], status=status, content_type="application/json")
