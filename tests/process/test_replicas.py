"""Several `viber-bot run` processes on one PostgreSQL database (real server, real processes):
migrations applied once when they start together, a database newer than the code refused in
one line (on SQLite too), a replica killed mid-sweep or mid-post loses nothing and doubles
nothing (the other takes over within the lease time), and a database that goes away for 5 s
is retried, shown on /healthz, and recovered from."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from sqlite_utils import Database

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from storage.postgres_schema import LATEST, migrate
from storage.schema import migrations as sqlite_migrations
from tests.conftest import BOT_TOKEN, CHANNEL, SIGNING_SECRET
from tests.processes import BotProcess, env_for, run_once, wait_until

QUIET_NUMBER = "+380972920285"  # lifecycle 5: sent, then nothing until the test moves it
LEASE = 2.0  # seconds: short, so that take-overs are quick to see
OUTAGE = 5.0  # seconds the database server is stopped for (at least)


def replica_env(url: str, sim: BsgSimulator, standin: SlackStandIn) -> dict[str, str]:
    """`env_for` a replica on `url`: short leases and heartbeats, so take-overs are quick."""
    return env_for(
        sim,
        standin,
        url,
        VIBER_BOT_POLL_MAX_INTERVAL=1,
        VIBER_BOT_RECONCILE_GRACE=2,
        VIBER_BOT_BSG_TIMEOUT=20,
        VIBER_BOT_LEASE_SECONDS=LEASE,
        VIBER_BOT_HEARTBEAT_INTERVAL=0.5,
    )


async def _replicas(
    url: str, sim: BsgSimulator, standin: SlackStandIn, tmp_path: Path, n: int = 2
) -> list[BotProcess]:
    processes = []
    for index in range(n):
        cwd = tmp_path / f"replica-{index}"
        cwd.mkdir()
        processes.append(BotProcess(replica_env(url, sim, standin), cwd, SIGNING_SECRET))
    return processes


@pytest.fixture
async def pair(pg_url, sim, standin, tmp_path) -> AsyncIterator[list[BotProcess]]:
    processes = await _replicas(pg_url, sim, standin, tmp_path)
    yield processes
    for process in processes:
        await process.close()


def thread_texts(slack: SlackStandIn) -> list[str]:
    parents = slack.channel_messages(CHANNEL)
    assert len(parents) == 1, [(p.get("text"), p.get("metadata")) for p in parents]
    [parent] = parents
    return [reply.get("text", "") for reply in slack.thread(CHANNEL, parent["ts"])]


async def holder(replicas: list[BotProcess], kind: str) -> BotProcess | None:
    """The replica whose /healthz says it holds a lease of this kind now."""
    for replica in replicas:
        if (await replica.health())["leases"][kind] > 0:
            return replica
    return None


async def send_one(replica: BotProcess, slack: SlackStandIn, text: str) -> None:
    response = await replica.command(
        f"send {QUIET_NUMBER} {text}", response_url=slack.response_url()
    )
    assert response.status_code == 200 and "Sending to 1 recipient" in response.text


def stored_events(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT message_id, channel, status FROM status_events ORDER BY id"
        ).fetchall()


# ------------------------------------------------------------------ start-up


async def test_replicas_starting_together_on_an_empty_database_migrate_it_once(pair, pg_url):
    await asyncio.gather(*(replica.start() for replica in pair))
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version, applied_by FROM schema_migrations").fetchall()
        live = conn.execute("SELECT id FROM replicas").fetchall()
    assert sorted(version for version, _ in rows) == list(range(1, LATEST + 1))
    assert len({by for _, by in rows}) == 1
    migrated = [r for r in pair if "applied migration" in r.logs()]
    assert len(migrated) == 1, [r.logs() for r in pair]
    bodies = [await replica.health() for replica in pair]
    assert all(b["status"] == "ok" and b["backend"] == "postgresql" for b in bodies), bodies
    assert len({b["replica"] for b in bodies}) == 2
    await wait_until(lambda: len(live) == 2 or _count_replicas(pg_url) == 2, 5, "heartbeats")


def _count_replicas(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM replicas").fetchone()[0]


def _from_the_future(backend: str, url: str, tmp_path: Path) -> tuple[str, int]:
    """A database a newer viber-bot migrated: one migration past what this code knows.
    Returns VIBER_BOT_DB for it and the version it is at."""
    if backend == "postgresql":
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, 'future')", [LATEST + 1]
            )
        return url, LATEST + 1
    path = tmp_path / "future.db"
    db = Database(str(path))
    sqlite_migrations.apply(db)
    db["_sqlite_migrations"].insert(
        {"migration_set": "viber-bot", "name": "m999_from_the_future", "applied_at": "2099"}
    )
    version = db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    db.close()
    return str(path), version


def _migrations_recorded(backend: str, setting: str) -> list:
    if backend == "postgresql":
        with psycopg.connect(setting) as conn:
            return conn.execute("SELECT * FROM schema_migrations ORDER BY version").fetchall()
    with closing(sqlite3.connect(setting)) as conn:
        return conn.execute("SELECT * FROM _sqlite_migrations ORDER BY id").fetchall()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_newer_than_the_code_refuses_to_start_in_one_line(
    backend, request, sim, standin, tmp_path
):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else ""
    setting, version = _from_the_future(backend, url, tmp_path)
    before = _migrations_recorded(backend, setting)
    result = run_once(replica_env(setting, sim, standin), tmp_path, timeout=30)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert "VIBER_BOT_DB: " in line, line
    assert f"version {version}" in line and "newer than this viber-bot" in line, line
    assert "Traceback" not in result.stderr + result.stdout
    assert _migrations_recorded(backend, setting) == before  # nothing was migrated or touched


# ------------------------------------------------------------------ Socket Mode

APP_TOKEN = "xapp-1-replicas-0123456789"


def _sends_counted(metrics_text: str) -> float:
    """viber_bot_sends_total over every outcome: the sends this replica delivered."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("viber_bot_sends_total")
    )


async def test_two_replicas_in_socket_mode_each_answer_over_their_own_connection(
    pg_url, sim, tmp_path
):
    slack = SlackStandIn(token=BOT_TOKEN, app_token=APP_TOKEN)
    await slack.start()
    replicas: list[BotProcess] = []
    try:
        for index in range(2):
            env = replica_env(pg_url, sim, slack)
            env.update(SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")
            cwd = tmp_path / f"replica-{index}"
            cwd.mkdir()
            replicas.append(BotProcess(env, cwd, SIGNING_SECRET))
            await replicas[index].start()
            # Connections open in start order: connection `index` is replica `index`'s own.
            await wait_until(
                lambda want=index + 1: slack.socket_connections == want, 10, "connected"
            )

        commands = 6
        acks = await asyncio.gather(
            *(
                slack.socket_request(
                    "slash_commands",
                    {
                        "command": "/viber",
                        "text": f"send +38097292{n:03d}5 Parcel {n}",
                        "user_id": "U123",
                        "channel_id": CHANNEL,
                        "team_id": "T123",
                        "trigger_id": f"1337.{n}.abc",
                        "response_url": slack.response_url(),
                    },
                    connection=n % 2,  # Slack spreads envelopes over the app's connections
                    wait=10,
                )
                for n in range(commands)
            )
        )
        assert all("Sending to 1 recipient" in json.dumps(ack) for ack in acks), acks
        await wait_until(
            lambda: len(slack.channel_messages(CHANNEL)) == commands, 15, "every parent posted"
        )
        await asyncio.sleep(1.0)  # time for a doubled send or post to show, were there one
        parents = slack.channel_messages(CHANNEL)
        assert len(parents) == commands, [p.get("text") for p in parents]
        shown = {int(n) for p in parents for n in re.findall(r"Parcel (\d+)", json.dumps(p))}
        assert shown == set(range(commands))  # one parent for each command, none twice
        # Every number once (sends that met while BSG held a create may share a request).
        assert len(sim.messages) == commands and sim.create_calls <= commands
        assert all(sim.sent_to(f"38097292{n:03d}5") == 1 for n in range(commands))
        # Each replica delivered exactly the commands that came over its own connection.
        counted = [
            _sends_counted((await replica.http.get(f"{replica.url}/metrics")).text)
            for replica in replicas
        ]
        assert counted == [commands / 2, commands / 2], counted
        assert slack.socket_connections == 2  # nobody reconnected meanwhile
    finally:
        for replica in replicas:
            await replica.close()
        await slack.stop()


# ------------------------------------------------------------------ kill -9


async def test_a_replica_killed_mid_sweep_is_taken_over_within_the_lease(
    pair, pg_url, sim, standin
):
    await asyncio.gather(*(replica.start() for replica in pair))
    await send_one(pair[0], standin, "Watch me")
    await wait_until(lambda: standin.channel_messages(CHANNEL), 10, "parent posted")
    reference = next(iter(sim.messages.values())).reference

    sim.get_delay = 3.0  # the next status check is held at BSG, mid-sweep
    sim.set_status(reference, "delivered")
    calls = sim.status_by_id_calls
    await wait_until(lambda: sim.status_by_id_calls > calls, 5, "a sweep asks BSG")
    sweeping = await wait_until(lambda: holder(pair, "messages"), 5, "a replica holds it")
    await sweeping.kill()
    killed_at = time.monotonic()
    sim.get_delay = 0.0
    survivor = next(r for r in pair if r is not sweeping)
    asked = sim.status_by_id_calls

    # The survivor asks BSG about it once the lease runs out (plus a sweep interval, and
    # slack for a loaded machine), then tells the thread.
    await wait_until(lambda: sim.status_by_id_calls > asked, LEASE + 10, "taken over")
    took = time.monotonic() - killed_at
    assert took < LEASE + 4.0, took
    await wait_until(lambda: any("Delivered" in r for r in thread_texts(standin)), 10, "told")
    sim.set_status(reference, "read")
    await wait_until(lambda: any("Read" in r for r in thread_texts(standin)), 10, "read told")
    await wait_until(lambda: _drained(survivor), 5, "outbox drained")
    replies = thread_texts(standin)
    assert len(replies) == 2, replies  # nothing lost, nothing doubled
    assert len(standin.channel_messages(CHANNEL)) == 1
    events = stored_events(pg_url)
    assert len(events) == len(set(events)), events
    assert sim.create_calls == 1


async def _drained(replica: BotProcess) -> bool:
    return (await replica.health()).get("outbox_depth") == 0


async def test_a_replica_killed_mid_post_never_causes_a_double_post(pair, pg_url, sim, standin):
    await asyncio.gather(*(replica.start() for replica in pair))
    standin.delay("chat.postMessage", 2.0)  # Slack takes the post, answers late
    await send_one(pair[1], standin, "Posted while we crash")
    await wait_until(lambda: standin.calls_to("chat.postMessage"), 10, "parent post started")
    posting = await wait_until(lambda: holder(pair, "lanes"), 5, "a replica holds the lane")
    await posting.kill()
    killed_at = time.monotonic()
    await wait_until(lambda: standin.channel_messages(CHANNEL), 5, "parent landed after kill")
    standin.delay("chat.postMessage", 0)
    survivor = next(r for r in pair if r is not posting)

    # The survivor takes the lane once its lease is out, finds the post, does not repeat it.
    await wait_until(lambda: standin.calls_to("conversations.history"), 10, "parent looked up")
    assert time.monotonic() - killed_at < LEASE + 4.0  # the lease time, a pass, and slack
    reference = next(iter(sim.messages.values())).reference
    sim.set_status(reference, "delivered")
    await wait_until(lambda: thread_texts(standin), 10, "reply posted")
    await wait_until(lambda: _drained(survivor), 5, "outbox drained")
    assert len(standin.channel_messages(CHANNEL)) == 1
    assert len(thread_texts(standin)) == 1
    assert len(standin.calls_to("chat.postMessage")) == 2  # the parent and the reply, once each

    async def lanes_given_up() -> bool:  # a drained lane goes back at the next pass
        return (await survivor.health())["leases"]["lanes"] == 0

    await wait_until(lanes_given_up, 5, "drained lanes given up")


# ------------------------------------------------------------------ the database goes away


async def test_a_five_second_database_outage_is_retried_shown_and_recovered(
    own_pg_server, sim, standin, tmp_path
):
    url = own_pg_server.create_database()
    replicas = await _replicas(url, sim, standin, tmp_path)
    try:
        await asyncio.gather(*(replica.start() for replica in replicas))
        await send_one(replicas[0], standin, "Through an outage")
        await wait_until(lambda: standin.channel_messages(CHANNEL), 10, "parent posted")
        reference = next(iter(sim.messages.values())).reference

        async def all_report(status: int) -> bool:
            codes = []
            for replica in replicas:
                response = await replica.http.get(f"{replica.url}/healthz", timeout=5)
                codes.append(response.status_code)
            return all(code == status for code in codes)

        with own_pg_server.paused():
            stopped = time.monotonic()
            await wait_until(lambda: all_report(503), 10, "/healthz shows the outage")
            body = await replicas[0].health()
            assert body["database"].startswith("error")
            sim.set_status(reference, "delivered")  # changes while the database is away
            await asyncio.sleep(max(2.0, OUTAGE - (time.monotonic() - stopped)))
            assert all(r.process.returncode is None for r in replicas)  # they wait, not die
        await wait_until(lambda: all_report(200), 15, "/healthz recovers")
        await wait_until(lambda: any("Delivered" in r for r in thread_texts(standin)), 15, "told")
        await wait_until(lambda: _drained(replicas[0]), 5, "outbox drained")
        assert len(thread_texts(standin)) == 1
        assert len(standin.channel_messages(CHANNEL)) == 1
        logs = "".join(r.logs() for r in replicas)
        assert "unavailable" in logs and "Traceback" not in logs, logs[-3000:]
    finally:
        for replica in replicas:
            await replica.close()


# ------------------------------------------------------------------ doctor


async def test_doctor_shows_the_backend_the_schema_version_and_the_live_replicas(
    pair, pg_url, sim, standin
):
    await asyncio.gather(*(replica.start() for replica in pair))
    ids = [(await replica.health())["replica"] for replica in pair]
    await wait_until(lambda: _count_replicas(pg_url) == 2, 5, "both heartbeats")
    # The simulator and the stand-in answer doctor's BSG and Slack checks from this loop.
    doctor = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "doctor",
        env=pair[0].env,
        cwd=pair[0].cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(doctor.communicate(), 60))[0].decode()
    assert doctor.returncode == 0, output
    assert "PostgreSQL at postgresql://" in output
    assert f"schema version {LATEST}" in output
    assert "2 live:" in output
    for replica in ids:
        assert replica in output
