"""Crashes and signals against a real `viber-bot run` process: nothing lost, nothing doubled.

The BSG simulator and the Slack stand-in run in the test's event loop on 127.0.0.1; the bot is
a subprocess (tests/processes.py) on a real port with its own working directory and database,
killed with SIGKILL mid-create, mid-sweep and mid-post, stopped with SIGTERM, and restarted.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from bot.domain.errors import StorageError
from bot.domain.models import DeliveryStatus
from storage.store import Store
from tests.conftest import BOT_TOKEN, BSG_KEY, CHANNEL, SIGNING_SECRET
from tests.processes import BotProcess, bot_env, run_once
from tests.waiting import wait_until

QUIET_NUMBER = "+380972920285"  # lifecycle 5: sent, then nothing until the test moves it
QUIET_MSISDN = QUIET_NUMBER.removeprefix("+")
NUMBER = "+380972920280"  # lifecycle 0: sent, delivered, read
MSISDN = NUMBER.removeprefix("+")
STOP_CONTRACT = 5.0  # seconds from SIGTERM to exit


@pytest.fixture
def settings_env(tmp_path: Path, sim: BsgSimulator, standin: SlackStandIn) -> dict[str, str]:
    return bot_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=standin.base_url,
        BSG_API_KEY=BSG_KEY,
        BSG_API_URL=sim.base_url,
        VIBER_BOT_DB=tmp_path / "viber-bot.db",
        VIBER_BOT_DEFAULT_SENDER="Acme",
        VIBER_BOT_POLL_INTERVAL=0.3,
        VIBER_BOT_POLL_MAX_INTERVAL=1,
        VIBER_BOT_RECONCILE_GRACE=2,
        VIBER_BOT_SLACK_POST_INTERVAL=0,
        VIBER_BOT_BSG_TIMEOUT=20,
        HOST="127.0.0.1",
        PORT=0,  # any free port; BotProcess reads the bound one from the log
    )


@pytest.fixture
async def bot(settings_env, tmp_path: Path) -> AsyncIterator[BotProcess]:
    process = BotProcess(settings_env, tmp_path, SIGNING_SECRET)
    yield process
    await process.close()


async def stored_messages(db: Path) -> list:
    """The bot's messages as stored (read while the bot is down)."""
    store = Store.open(db)
    try:
        return [
            m for send in await store.recent_sends(100) for m in await store.send_messages(send.id)
        ]
    finally:
        await store.close()


def thread_texts(slack: SlackStandIn) -> list[str]:
    [parent] = slack.channel_messages(CHANNEL)
    return [reply.get("text", "") for reply in slack.thread(CHANNEL, parent["ts"])]


def thread_posts(slack: SlackStandIn) -> list[dict]:
    return [call for call in slack.calls_to("chat.postMessage") if call.get("thread_ts")]


async def outbox_drained(bot: BotProcess) -> bool:
    return (await bot.health()).get("outbox_depth") == 0


async def send_one(bot: BotProcess, slack: SlackStandIn, number: str, text: str) -> None:
    response = await bot.command(f"send {number} {text}", response_url=slack.response_url())
    assert response.status_code == 200 and "Sending to 1 recipient" in response.text


# ------------------------------------------------------------------ (a) SIGKILL mid-create


async def test_killed_while_bsg_holds_the_create_the_restart_adopts_it_once(
    bot, sim, standin, settings_env
):
    sim.create_delay = 30.0  # BSG records the message, then holds its answer
    await bot.start()
    await send_one(bot, standin, NUMBER, "Held while we crash")
    await wait_until(lambda: sim.create_calls == 1, what="create reached BSG")
    assert sim.sent_to(MSISDN) == 1
    await bot.kill()

    [message] = await stored_messages(Path(settings_env["VIBER_BOT_DB"]))
    assert message.bsg_id is None and message.status == DeliveryStatus.PENDING
    assert standin.channel_messages(CHANNEL) == []

    await bot.start()
    await wait_until(lambda: standin.channel_messages(CHANNEL), 10, "parent posted")
    await wait_until(lambda: any("Read" in r for r in thread_texts(standin)), 10, "tracked")
    await wait_until(lambda: outbox_drained(bot), 5, "outbox drained")
    await bot.kill()  # stop polling before reading the database

    [message] = await stored_messages(Path(settings_env["VIBER_BOT_DB"]))
    assert message.bsg_id == sim.message(message.reference).id
    assert message.status == DeliveryStatus.READ
    assert len(standin.channel_messages(CHANNEL)) == 1
    assert len(standin.calls_to("chat.postMessage")) == 1 + len(thread_texts(standin))
    assert sim.create_calls == 1 and sim.sent_to(MSISDN) == 1
    assert sim.status_by_reference_calls >= 1


# ------------------------------------------------------------------ recovery in seconds


async def test_after_a_kill_mid_create_every_send_is_settled_within_a_poll_interval(
    sim, standin, settings_env, tmp_path
):
    """Killed while BSG holds one create (taken) and hangs on another (never taken): the restart
    looks both up at once, creates the second again with its own reference, and tracks both
    within two poll intervals; the reconcile grace (10 min here) plays no part.

    The start-up sweep (the grid's first tick) settles both messages and gives each its first
    look one interval after its tick, not after the moment it settled them: the next tick,
    one interval after the start, looks, and the replies land about one interval after the
    restart. (Counted from the settling, a few ms past the tick, that look waited for the
    tick after, and the replies landed two intervals plus a sweep and a post after the
    restart: a coin toss against issue 9's bound on a loaded machine.)"""
    interval = 5.0
    env = dict(
        settings_env,
        VIBER_BOT_POLL_INTERVAL=str(interval),
        VIBER_BOT_POLL_MAX_INTERVAL=str(interval),
        VIBER_BOT_RECONCILE_GRACE="600",
    )
    bot = BotProcess(env, tmp_path, SIGNING_SECRET)
    try:
        sim.create_delay = 30.0  # the first create is recorded, then its answer is held
        await bot.start()
        await send_one(bot, standin, "+380972920280", "Taken, answer held")
        await wait_until(lambda: sim.create_calls == 1, what="first create reached BSG")
        sim.fail_next("/viber/create", 1, status="timeout")  # the second hangs, not taken
        await send_one(bot, standin, "+380972920281", "Never taken")
        await wait_until(lambda: sim.create_calls == 2, what="second create reached BSG")
        assert sim.sent_to("380972920280") == 1 and sim.sent_to("380972920281") == 0
        await bot.kill()
        sim.create_delay = 0.0

        stored = await stored_messages(Path(env["VIBER_BOT_DB"]))
        assert [m.bsg_id for m in stored] == [None, None]
        assert standin.channel_messages(CHANNEL) == []

        await bot.start()
        restarted = time.monotonic()

        async def all_known() -> bool:
            return all(m.bsg_id for m in await stored_messages(Path(env["VIBER_BOT_DB"])))

        await wait_until(all_known, interval, "every id known within one poll interval")
        await wait_until(
            lambda: len(standin.channel_messages(CHANNEL)) == 2, interval, "both parents"
        )

        def threads_told() -> int:  # lifecycle 0 is read by now: "Read" is what a look sees
            return sum(
                any("Read" in r.get("text", "") for r in standin.thread(CHANNEL, p["ts"]))
                for p in standin.channel_messages(CHANNEL)
            )

        # Issue 9's bound: thread replies within two poll intervals of the restart. What the
        # first sweep's recovery adopts or creates again is due one interval after that
        # sweep's tick, so the second sweep (one interval after the start) looks at it and the
        # replies come about one interval after the restart, an interval to spare.
        deadline = restarted + 2 * interval
        await wait_until(lambda: threads_told() == 2, deadline - time.monotonic(), "thread replies")
        assert time.monotonic() - restarted <= 2 * interval
        await bot.kill()

        stored = await stored_messages(Path(env["VIBER_BOT_DB"]))
        for message in stored:
            assert message.bsg_id == sim.message(message.reference).id
        assert sim.sent_to("380972920280") == 1 and sim.sent_to("380972920281") == 1
        assert len(sim.messages) == 2  # no number got a second message
        assert len(standin.channel_messages(CHANNEL)) == 2  # one parent per send, never twice
        parents = [c for c in standin.calls_to("chat.postMessage") if not c.get("thread_ts")]
        assert len(parents) == 2
        assert sim.create_calls == 3  # the held one, the hung one, the second again
        assert "a bug" not in bot.logs() and "Traceback" not in bot.logs()
    finally:
        await bot.close()


# ------------------------------------------------------------------ (b) SIGKILL mid-sweep


async def test_killed_mid_sweep_the_restart_reports_each_change_once(bot, sim, standin):
    await bot.start()
    await send_one(bot, standin, QUIET_NUMBER, "Watch me")
    await wait_until(lambda: standin.channel_messages(CHANNEL), 10, "parent posted")
    reference = next(iter(sim.messages.values())).reference

    sim.get_delay = 2.0
    calls = sim.status_by_id_calls
    sim.set_status(reference, "delivered")
    await wait_until(lambda: sim.status_by_id_calls > calls, 5, "a sweep asks BSG")
    await bot.kill()  # the sweep's GET is held at BSG
    sim.get_delay = 0.0

    await bot.start()
    await wait_until(lambda: any("Delivered" in r for r in thread_texts(standin)), 10, "told")
    sim.set_status(reference, "read")
    await wait_until(lambda: any("Read" in r for r in thread_texts(standin)), 10, "read told")
    await wait_until(lambda: outbox_drained(bot), 5, "outbox drained")
    replies = thread_texts(standin)
    assert len(replies) == 2, replies
    assert len(standin.channel_messages(CHANNEL)) == 1
    assert sim.create_calls == 1 and sim.sent_to(QUIET_MSISDN) == 1


# ------------------------------------------------------------------ (b) SIGKILL mid-post


async def test_killed_mid_post_the_landed_post_is_found_not_made_again(bot, sim, standin):
    standin.delay("chat.postMessage", 1.5)  # Slack takes the post, answers late
    await bot.start()
    await send_one(bot, standin, QUIET_NUMBER, "Posted while we crash")
    await wait_until(lambda: standin.calls_to("chat.postMessage"), 10, "parent post started")
    await bot.kill()
    await wait_until(lambda: standin.channel_messages(CHANNEL), 5, "parent landed after kill")

    await bot.start()  # still slow: the reply below is also cut short
    reference = next(iter(sim.messages.values())).reference
    await wait_until(lambda: standin.calls_to("conversations.history"), 10, "parent looked up")
    sim.set_status(reference, "delivered")
    await wait_until(lambda: thread_posts(standin), 10, "reply post started")
    await bot.kill()
    await wait_until(lambda: thread_texts(standin), 5, "reply landed after kill")
    standin.delay("chat.postMessage", 0)

    await bot.start()
    await wait_until(lambda: standin.calls_to("conversations.replies"), 10, "reply looked up")
    sim.set_status(reference, "read")
    await wait_until(lambda: any("Read" in r for r in thread_texts(standin)), 10, "read told")
    await wait_until(lambda: outbox_drained(bot), 5, "outbox drained")
    replies = thread_texts(standin)
    assert len(replies) == 2 and "Delivered" in replies[0] and "Read" in replies[1], replies
    assert len(standin.channel_messages(CHANNEL)) == 1
    assert len(standin.calls_to("chat.postMessage")) == 3  # parent, delivered, read: once each
    assert sim.create_calls == 1 and sim.sent_to(QUIET_MSISDN) == 1


# ------------------------------------------------------------------ SIGTERM


async def test_sigterm_mid_sweep_and_mid_post_stops_in_time_and_resumes(bot, sim, standin):
    await bot.start()
    await send_one(bot, standin, QUIET_NUMBER, "Stop and go")
    await wait_until(lambda: standin.channel_messages(CHANNEL), 10, "parent posted")
    reference = next(iter(sim.messages.values())).reference

    sim.get_delay = 5.0  # a sweep is under way when the signal comes, and outlasts the grace
    calls = sim.status_by_id_calls
    await wait_until(lambda: sim.status_by_id_calls > calls, 5, "a sweep asks BSG")
    took, code = await bot.terminate()
    assert took < STOP_CONTRACT and code == 0, (took, code)
    assert "sweep interrupted by the stop" in bot.log_of(1)
    assert "Traceback" not in bot.log_of(1) and " ERROR " not in bot.log_of(1)
    sim.get_delay = 0.0

    standin.delay("chat.postMessage", 3.0)  # a post is under way when the signal comes
    sim.set_status(reference, "delivered")
    await bot.start()
    await wait_until(lambda: thread_posts(standin), 10, "reply post started")
    took, code = await bot.terminate()
    assert took < STOP_CONTRACT and code == 0, (took, code)
    # Slack holds the post 3 s, then takes it; on a loaded machine that can take longer.
    await wait_until(lambda: thread_texts(standin), 15, "reply landed after the stop")
    standin.delay("chat.postMessage", 0)

    await bot.start()
    sim.set_status(reference, "read")
    await wait_until(lambda: any("Read" in r for r in thread_texts(standin)), 10, "read told")
    await wait_until(lambda: outbox_drained(bot), 5, "outbox drained")
    replies = thread_texts(standin)
    assert len(replies) == 2 and "Delivered" in replies[0], replies
    assert len(standin.channel_messages(CHANNEL)) == 1
    assert sim.create_calls == 1


# ------------------------------------------------------------------ (c) bad database at start


def one_line_naming_the_db(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "VIBER_BOT_DB" in lines[0], stderr
    return lines[0]


def test_corrupt_database_stops_start_up_and_is_left_untouched(settings_env, tmp_path):
    db = Path(settings_env["VIBER_BOT_DB"])
    garbage = os.urandom(64 * 1024)
    db.write_bytes(garbage)
    result = run_once(settings_env, tmp_path, timeout=15)
    assert result.returncode != 0
    line = one_line_naming_the_db(result.stderr)
    assert "not a database" in line
    assert db.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(db.name)) == [db.name]


def test_unwritable_database_path_stops_start_up_with_one_line(settings_env, tmp_path):
    # Tests run as root, where chmod 000 does not stop a write: use a path no one can create,
    # under a regular file. (A directory at the path is refused too: see the test below.)
    (tmp_path / "not-a-dir").write_text("a file")
    env = dict(settings_env, VIBER_BOT_DB=str(tmp_path / "not-a-dir" / "viber-bot.db"))
    result = run_once(env, tmp_path, timeout=15)
    assert result.returncode != 0
    assert "unable to open" in one_line_naming_the_db(result.stderr)


@pytest.mark.parametrize("shape", ["last page torn", "directory at the path"])
def test_store_refuses_a_torn_database_or_a_directory_untouched(tmp_path, shape):
    # In-process (the CLI prints StorageError as its one line, as the tests above show).
    db = tmp_path / "viber-bot.db"
    if shape == "last page torn":
        asyncio.run(Store.open(db).close())  # a real database, then a page no first table uses
        db.write_bytes(db.read_bytes()[:-4096] + os.urandom(4096))
        before = db.read_bytes()
    else:
        db.mkdir()
    with pytest.raises(StorageError) as refused:
        Store.open(db)
    assert str(refused.value).startswith("VIBER_BOT_DB: ")
    assert "\n" not in str(refused.value)
    if shape == "last page torn":
        assert "malformed" in str(refused.value)
        assert db.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir()) == [db.name]
