"""`viber-bot doctor`'s callback check: the public URL answers a signed test callback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from bot.domain.callback_tokens import PROBE_REFERENCE, CallbackTokens
from bot.domain.errors import StorageError
from bot.ops.doctor.check import Check
from storage.store import Store

if TYPE_CHECKING:
    from bot.settings import Settings

_REACH_FIX = (
    "start `viber-bot run`, and make VIBER_BOT_PUBLIC_URL reach it: a reverse proxy or tunnel "
    "must forward POST /bsg/callback/… to the bot's HOST:PORT"
)


async def _secret(settings: Settings, db_path: Path) -> str | None:
    if settings.callback_secret is not None:
        return settings.callback_secret.get_secret_value()
    if not await asyncio.to_thread(db_path.exists):
        return None
    store = Store.open(db_path)
    try:
        return await store.stored_callback_secret()
    finally:
        await store.close()


async def check_callbacks(settings: Settings) -> Check:
    """POST a signed probe to {PUBLIC_URL}/bsg/callback/…; 200 means this very bot answered."""
    import aiohttp

    assert settings.public_url is not None
    try:
        secret = await _secret(settings, settings.db_path)
    except StorageError as error:
        return Check("callbacks", False, f"the callback secret cannot be read: {error}")
    if secret is None:
        return Check(
            "callbacks",
            False,
            "no callback secret yet: the bot makes one on its first start",
            "start `viber-bot run` once, or set VIBER_BOT_CALLBACK_SECRET",
        )
    url = CallbackTokens(secret).url(settings.public_url, PROBE_REFERENCE)
    shown = f"{settings.public_url}/bsg/callback/…"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.post(url, json={"probe": "viber-bot doctor"}) as answer,
        ):
            status = answer.status
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            "callbacks", False, f"{shown} could not be reached: {type(error).__name__}", _REACH_FIX
        )
    if status == 200:
        return Check("callbacks", True, f"{shown} answered the bot's own signed test callback")
    if status == 404:
        return Check(
            "callbacks",
            False,
            f"{shown} answered 404 to a token signed with this bot's secret",
            "the URL reaches another program or another bot (a different database or "
            "VIBER_BOT_CALLBACK_SECRET): point VIBER_BOT_PUBLIC_URL at this bot",
        )
    return Check("callbacks", False, f"{shown} answered HTTP {status}", _REACH_FIX)
