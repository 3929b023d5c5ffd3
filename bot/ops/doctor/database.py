"""`viber-bot doctor`'s database checks: the SQLite file or the PostgreSQL server, its live
replicas, and Slack posts the outbox set aside as dead."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.domain.errors import StorageError
from bot.domain.wording import plural
from bot.ops.doctor.check import Check
from bot.ops.output import when
from bot.settings import redact_url
from storage.store import OutboxItem, Store, SweepRecord


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
