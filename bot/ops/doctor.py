"""`viber-bot doctor`: check the settings, the database, BSG and Slack, and say how to fix each."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.markup import escape

from bot.domain.errors import (
    BsgCode,
    BsgError,
    BsgProtocolError,
    BsgRefused,
    BsgUnavailable,
    StorageError,
)
from bot.domain.redact import scrub
from bot.domain.wording import plural
from bot.ops import COMMANDS
from bot.ops.output import console, price, when
from bot.settings import DatabaseSettings, Settings, redact_url
from bot.slack.render.bsg_errors import explain_bsg_code
from storage.store import OutboxItem, Store, SweepRecord

DEFAULT_HEARTBEAT = 5.0  # seconds: VIBER_BOT_HEARTBEAT_INTERVAL's default, when settings fail


@dataclass(frozen=True)
class Check:
    """One line of `viber-bot doctor`: what was checked, how it went and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _setting_problems(error: ValidationError) -> str:
    """Every bad setting in one line (start-up names only the first; doctor names them all)."""
    problems = []
    for item in error.errors():
        loc = item.get("loc") or ()
        name = str(loc[0]) if loc else ""
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        if item.get("type") == "missing":
            message = "required but not set"
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems)


def check_settings() -> tuple[Settings | None, Check]:
    try:
        settings = Settings()  # type: ignore[call-arg]  # every field comes from env/.env
    except ValidationError as error:
        return None, Check(
            "settings",
            False,
            _setting_problems(error),
            "set each in the environment or in .env in the working directory (see README)",
        )
    mode = (
        "Socket Mode" if settings.socket_mode else f"HTTP mode on {settings.host}:{settings.port}"
    )
    detail = f"loaded ({mode}, command {settings.command}, sender {settings.default_sender})"
    return settings, Check("settings", True, detail)


def _database_fix(problem: str, path: Path) -> str:
    lowered = problem.lower()
    if "newer than this viber-bot" in lowered:
        return "run the viber-bot that migrated it (a database is never migrated backwards)"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return (
            f"the file is damaged or is not a viber-bot database: stop the bot, move it aside "
            f"(mv {path} {path}.broken) and restore a backup, or start the bot to create a "
            "fresh one (the history of earlier messages stays in the moved file)"
        )
    if "locked" in lowered:
        return "another process holds a lock on it: wait and run doctor again"
    if "directory" in lowered:
        return "point VIBER_BOT_DB at a file, e.g. VIBER_BOT_DB=/data/viber-bot.db"
    return (
        f"check that {path} is readable and writable by this user, or point VIBER_BOT_DB elsewhere"
    )


def check_database(path: Path) -> Check:
    if not path.exists() and not path.is_symlink():
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            return Check(
                "database",
                False,
                f"{path}: the directory {folder} does not exist",
                "create the directory, or point VIBER_BOT_DB at a file in an existing one",
            )
        if not os.access(folder, os.W_OK):
            return Check(
                "database",
                False,
                f"{path} does not exist and {folder} is not writable",
                f"let this user write to {folder}, or point VIBER_BOT_DB elsewhere",
            )
        return Check("database", True, f"{path} does not exist yet; `viber-bot run` creates it")
    try:
        store = Store.open(path)
    except StorageError as error:
        return Check("database", False, str(error), _database_fix(str(error), path))

    async def read() -> tuple[int, int, int, list[SweepRecord]]:
        try:
            now = datetime.now(UTC)
            return (
                await store.count_messages(),
                await store.count_due(now),
                await store.outbox_depth(),
                await store.recent_sweeps(1),
            )
        finally:
            await store.close()

    try:
        messages, due, waiting, sweeps = asyncio.run(read())
    except Exception as error:  # a file that opens but cannot be read is still damaged
        return Check("database", False, f"{path}: {error}", _database_fix(str(error), path))
    last = (
        f"last sweep {when(sweeps[0].finished_at)} UTC"
        if sweeps and sweeps[0].finished_at
        else "no sweep yet"
    )
    return Check(
        "database",
        True,
        f"{path}: {plural(messages, 'message')}, {due} due for a status check, "
        f"{plural(waiting, 'Slack post')} waiting, {last}",
    )


def check_postgres(url: str, heartbeat_interval: float) -> list[Check]:
    """The PostgreSQL database (backend, schema version, what waits) and its live replicas.

    Read-only: an older schema is reported, not migrated (`viber-bot run` migrates)."""
    import psycopg

    from storage.postgres import PostgresBackend
    from storage.postgres_schema import LATEST, check_version
    from storage.replicas import live_replicas

    label = redact_url(url)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            version = check_version(conn)
    except StorageError as error:  # newer than this code
        return [Check("database", False, str(error), "run the viber-bot that migrated it")]
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        return [
            Check(
                "database",
                False,
                f"PostgreSQL at {label}: {reason}",
                "check VIBER_BOT_DB (host, port, database, user and password) and that the "
                "server is up and reachable from here",
            )
        ]
    if version < LATEST:
        return [
            Check(
                "database",
                True,
                f"PostgreSQL at {label}: schema version {version} of {LATEST}; "
                "`viber-bot run` migrates it at start-up",
            )
        ]
    store = Store(PostgresBackend(url, pool_size=2, schema_version=version))

    async def read() -> tuple[int, int, int, list[SweepRecord], list[Any]]:
        try:
            now = datetime.now(UTC)
            async with store.backend.connection() as conn:
                replicas = await live_replicas(conn, within=3 * heartbeat_interval)
            return (
                await store.count_messages(),
                await store.count_due(now),
                await store.outbox_depth(),
                await store.recent_sweeps(1),
                replicas,
            )
        finally:
            await store.close()

    try:
        messages, due, waiting, sweeps, replicas = asyncio.run(read())
    except Exception as error:
        return [Check("database", False, f"PostgreSQL at {label}: {error}")]
    last = (
        f"last sweep {when(sweeps[0].finished_at)} UTC"
        if sweeps and sweeps[0].finished_at
        else "no sweep yet"
    )
    database = Check(
        "database",
        True,
        f"PostgreSQL at {label}, schema version {version}: {plural(messages, 'message')}, "
        f"{due} due for a status check, {plural(waiting, 'Slack post')} waiting, {last}",
    )
    if not replicas:
        live = Check(
            "replicas",
            True,
            f"none live (no heartbeat in the last {3 * heartbeat_interval:g} s)",
        )
    else:
        described = "; ".join(
            f"{r.id} (seen {when(r.seen_at)} UTC, holds {plural(r.message_leases, 'message')}"
            f" and {plural(r.lane_leases, 'outbox lane')})"
            for r in replicas
        )
        live = Check("replicas", True, f"{len(replicas)} live: {described}")
    return [database, live]


def check_outbox(path: Path) -> Check | None:
    """Slack posts the outbox set aside as dead (never to be posted); None when there are none."""
    if not path.exists():
        return None
    try:
        store = Store.open(path)
    except StorageError:
        return None  # the database check says what is wrong

    async def read() -> tuple[int, list[OutboxItem]]:
        try:
            return await store.outbox_dead_count(), await store.outbox_dead_rows(3)
        finally:
            await store.close()

    try:
        dead, rows = asyncio.run(read())
    except Exception:  # damaged: the database check reports it
        return None
    if not dead:
        return None  # nothing to say: the database line shows what waits
    latest = "; ".join(f"#{r.id} {r.kind}: {r.last_error or '-'}" for r in rows)
    return Check(
        "outbox",
        False,
        f"{plural(dead, 'Slack post')} set aside as dead, never posted (latest: {latest})",
        "the bot's log has each row's error (search for `set aside`); fix the cause (the "
        "channel, the bot's scopes, or report a bug), then bring the channel up to date by hand",
    )


async def check_bsg(settings: Settings) -> Check:
    from bot.bsg.client import BsgClient

    url = settings.bsg_api_url
    client = BsgClient(
        api_key=settings.bsg_api_key,
        base_url=url,
        timeout=settings.bsg_timeout,
        retries=0,
    )
    try:
        balance = await client.balance()
    except BsgRefused as error:
        said = f", HTTP {error.http_status}" if error.http_status else ""
        what = f"(code {error.code}{said}): {error.description or '-'}"
        if error.code == BsgCode.INVALID_KEY or error.http_status in (401, 403):
            return Check(
                "BSG",
                False,
                f"BSG at {url} refused the API key {what}",
                "check BSG_API_KEY: copy the key from BSG's dashboard (live keys start with live_)",
            )
        return Check(
            "BSG", False, f"BSG refused the balance request {what}", explain_bsg_code(error.code)
        )
    except BsgUnavailable as error:
        return Check(
            "BSG",
            False,
            f"BSG could not be reached at {url}: {error.reason}",
            "check BSG_API_URL (BSG's is https://api.bsg.world/rest) and that this machine can "
            "reach it (network, proxy, firewall); if both are right, BSG may be down",
        )
    except BsgProtocolError as error:
        return Check(
            "BSG",
            False,
            f"{url} does not answer like BSG's REST API: {error}",
            "check BSG_API_URL: it is BSG's REST base URL, e.g. https://api.bsg.world/rest",
        )
    except BsgError as error:
        return Check("BSG", False, f"BSG at {url}: {error}", "run doctor again in a minute")
    finally:
        await client.aclose()
    amount = price(balance.amount, balance.currency)
    return Check("BSG", True, f"API key accepted at {url}; balance {amount}")


_SLACK_TOKEN_FIX = (
    "copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page at "
    "https://api.slack.com/apps into SLACK_BOT_TOKEN"
)
_SLACK_ERRORS = {
    "invalid_auth": ("Slack rejected SLACK_BOT_TOKEN (invalid_auth)", _SLACK_TOKEN_FIX),
    "not_authed": ("no token reached Slack (not_authed)", _SLACK_TOKEN_FIX),
    "account_inactive": (
        "the token's app or workspace is inactive (account_inactive)",
        "reinstall the app to the workspace and copy the new bot token into SLACK_BOT_TOKEN",
    ),
    "token_revoked": (
        "the token was revoked (token_revoked)",
        "reinstall the app to the workspace and copy the new bot token into SLACK_BOT_TOKEN",
    ),
    "token_expired": (
        "the token expired (token_expired)",
        "turn off token rotation for the app, or reinstall it and copy the new bot token",
    ),
    "ratelimited": ("Slack rate-limited the check (ratelimited)", "run doctor again in a minute"),
}


async def check_slack(settings: Settings) -> Check:
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    url = settings.slack_api_url
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=url,
        retry_handlers=[],
        timeout=10,
    )
    try:
        answer = await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if code in _SLACK_ERRORS:
            detail, fix = _SLACK_ERRORS[code]
            return Check("Slack", False, f"{detail} at {url}", fix)
        if code:
            return Check(
                "Slack",
                False,
                f"Slack answered auth.test with {code} at {url}",
                "see https://api.slack.com/methods/auth.test for what it means",
            )
        return Check(
            "Slack",
            False,
            f"{url} answered HTTP {error.response.status_code}, not like Slack's Web API",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            "Slack",
            False,
            f"Slack could not be reached at {url}: {type(error).__name__}",
            "check SLACK_API_URL and that this machine can reach it (network, proxy, firewall)",
        )
    except Exception as error:  # a diagnosis must report, not crash
        return Check(
            "Slack",
            False,
            f"auth.test at {url} failed: {type(error).__name__}: {error}",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    if not answer.get("bot_id"):
        return Check(
            "Slack",
            False,
            f"SLACK_BOT_TOKEN belongs to a person ({answer.get('user')}), not to the bot",
            _SLACK_TOKEN_FIX,
        )
    return Check(
        "Slack",
        True,
        f"authenticated as {answer.get('user')} in {answer.get('team')} "
        f"({answer.get('team_id')}) at {url}",
    )


_APP_TOKEN_SHAPE = re.compile(r"^xapp-[0-9]+-[A-Za-z0-9]+-[A-Za-z0-9-]+$")
_APP_TOKEN_FIX = (
    "copy an App-Level Token (xapp-…) with the connections:write scope from your app's "
    "Basic Information page at https://api.slack.com/apps into SLACK_APP_TOKEN, or unset it "
    "for HTTP mode"
)
_APP_TOKEN_ERRORS = {
    "invalid_auth": "Slack rejected SLACK_APP_TOKEN (invalid_auth)",
    "not_authed": "no app token reached Slack (not_authed)",
    "not_allowed_token_type": "SLACK_APP_TOKEN is not an app-level token",
    "missing_scope": "the app token lacks the connections:write scope (missing_scope)",
    "token_revoked": "the app token was revoked (token_revoked)",
}


async def check_app_token(settings: Settings) -> Check | None:
    """Socket Mode's token: its shape, and `apps.connections.open` at SLACK_API_URL."""
    if settings.slack_app_token is None:
        return None
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    token = settings.slack_app_token.get_secret_value()
    name = "Socket Mode"
    if not _APP_TOKEN_SHAPE.match(token):
        return Check(
            name,
            False,
            "SLACK_APP_TOKEN is not shaped like an app-level token (xapp-<n>-<app id>-…): "
            "a space, a quote or a cut-off copy?",
            _APP_TOKEN_FIX,
        )
    url = settings.slack_api_url
    client = AsyncWebClient(token=token, base_url=url, retry_handlers=[], timeout=10)
    try:
        answer = await client.apps_connections_open(app_token=token)
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if code in _APP_TOKEN_ERRORS:
            return Check(name, False, f"{_APP_TOKEN_ERRORS[code]} at {url}", _APP_TOKEN_FIX)
        if code:
            return Check(
                name,
                False,
                f"Slack answered apps.connections.open with {code} at {url}",
                "see https://api.slack.com/methods/apps.connections.open for what it means",
            )
        return Check(
            name,
            False,
            f"{url} answered HTTP {error.response.status_code}, not like Slack's Web API",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            name,
            False,
            f"Slack could not be reached at {url}: {type(error).__name__}",
            "check SLACK_API_URL and that this machine can reach it (network, proxy, firewall)",
        )
    socket_url = str(answer.get("url") or "")
    if not socket_url.startswith(("wss://", "ws://")):
        return Check(
            name,
            False,
            f"apps.connections.open at {url} gave no WebSocket URL",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    return Check(name, True, f"app token accepted at {url}; Socket Mode can connect")


async def _remote_checks(settings: Settings) -> list[Check]:
    checks = [check_bsg(settings), check_slack(settings), check_app_token(settings)]
    if settings.public_url is not None:
        from bot.ops.callback_check import check_callbacks

        checks.append(check_callbacks(settings))
    found = await asyncio.gather(*checks)
    return [check for check in found if check is not None]


def cmd_doctor(args: argparse.Namespace) -> int:
    settings, first = check_settings()
    checks = [first]
    database = settings or DatabaseSettings()
    if database.postgres_url is not None:
        interval = settings.heartbeat_interval if settings else DEFAULT_HEARTBEAT
        checks += check_postgres(database.postgres_url, interval)
    else:
        db_path = database.db_path
        checks.append(check_database(db_path))
        if checks[-1].ok and (outbox := check_outbox(db_path)) is not None:
            checks.append(outbox)
    if settings is not None:
        checks += asyncio.run(_remote_checks(settings))
    else:
        for name in ("BSG", "Slack"):
            checks.append(Check(name, False, "not checked: the settings must load first"))
    secrets = settings.secrets() if settings else []
    out = console()
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        detail = escape(scrub(check.detail, secrets))
        out.print(f"{mark} {check.name:<{width}}  {detail}", soft_wrap=True)
        if check.fix:
            fix = escape(scrub(check.fix, secrets))
            out.print(f"  {'':<{width}}  [bold]fix:[/bold] {fix}", soft_wrap=True)
    failed = sum(not c.ok for c in checks)
    if failed:
        out.print(f"{failed} of {len(checks)} checks failed.")
        return 1
    out.print(f"All {len(checks)} checks passed.")
    return 0


def add_parser(sub: Any) -> None:
    """Register `doctor` on the `viber-bot` parser."""
    doctor = sub.add_parser(
        "doctor",
        help=COMMANDS["doctor"],
        description=(
            "Check the settings, the database (and Slack posts set aside as dead), BSG "
            "(through the balance call) and Slack (through auth.test, and apps.connections.open "
            "when SLACK_APP_TOKEN is set), printing ✓ or ✗ per check with how to fix it. "
            "Exit status 0 when every check passes, 1 otherwise. No secret is printed."
        ),
    )
    doctor.set_defaults(handler=cmd_doctor)
