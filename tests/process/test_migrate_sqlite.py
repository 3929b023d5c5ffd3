"""`viber-bot migrate-sqlite FILE` as a real process: a SQLite bot's database copied into
PostgreSQL, and a bot started on PostgreSQL carries on tracking in the same Slack thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from tests.conftest import CHANNEL, SIGNING_SECRET
from tests.processes import REPO, BotProcess, env_for, wait_until

QUIET_NUMBER = "+380972920285"  # lifecycle 5: sent, then nothing until the test moves it


def _env(database: str | Path, sim: BsgSimulator, standin: SlackStandIn) -> dict[str, str]:
    return env_for(sim, standin, database, VIBER_BOT_POLL_MAX_INTERVAL=1)


def migrate(env: dict[str, str], cwd: Path, file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate-sqlite", str(file)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def thread_texts(slack: SlackStandIn) -> list[str]:
    [parent] = slack.channel_messages(CHANNEL)
    return [reply.get("text", "") for reply in slack.thread(CHANNEL, parent["ts"])]


async def test_tracking_continues_on_postgres_after_the_copy(pg_url, sim, standin, tmp_path):
    sqlite_file = tmp_path / "viber-bot.db"
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "pg").mkdir()
    before = BotProcess(_env(sqlite_file, sim, standin), tmp_path / "sqlite", SIGNING_SECRET)
    after = BotProcess(_env(pg_url, sim, standin), tmp_path / "pg", SIGNING_SECRET)
    try:
        await before.start()
        response = await before.command(
            f"send {QUIET_NUMBER} Moved house", response_url=standin.response_url()
        )
        assert response.status_code == 200
        await wait_until(lambda: standin.channel_messages(CHANNEL), 10, "parent posted")
        _, code = await before.terminate()
        assert code == 0

        done = migrate(_env(pg_url, sim, standin), tmp_path, sqlite_file)
        assert done.returncode == 0, done.stderr
        assert "messages: 1 rows" in done.stdout and "sends: 1 rows" in done.stdout
        assert "tracking continues" in done.stdout

        await after.start()
        assert (await after.health())["backend"] == "postgresql"
        reference = next(iter(sim.messages.values())).reference
        sim.set_status(reference, "delivered")
        await wait_until(lambda: thread_texts(standin), 10, "the reply, in the old thread")
        assert "Delivered" in thread_texts(standin)[0]
        assert len(standin.channel_messages(CHANNEL)) == 1  # the same parent, not a new one
        assert sim.create_calls == 1
    finally:
        await before.close()
        await after.close()


def test_a_sqlite_target_is_refused_in_one_line(sim, standin, tmp_path):
    done = migrate(_env(tmp_path / "other.db", sim, standin), tmp_path, tmp_path / "x.db")
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "VIBER_BOT_DB" in lines[0] and "postgresql://" in lines[0]


def test_migrate_sqlite_has_help():
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate-sqlite", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and "PostgreSQL" in done.stdout
