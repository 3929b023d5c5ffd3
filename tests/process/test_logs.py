"""The operator's log: a line per send and per status change with the ids, text or JSON lines,
and no configured secret in any of it."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
from pathlib import Path

import pytest

from bot.logs import REDACTED, configure_logging
from storage.store import Store
from tests.conftest import BOT_TOKEN, BSG_KEY, CHANNEL, SIGNING_SECRET
from tests.processes import BotProcess, env_for

ROOT = Path(__file__).resolve().parents[2]
QUIETED = ("apscheduler", "aiohttp.access", "httpx", "httpcore", "slack_sdk", "slack_bolt")


@pytest.fixture
def captured_log():
    """Install the bot's own log handler on a buffer (as `viber-bot run` does on stderr)."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, {name: logging.getLogger(name).level for name in QUIETED})

    def configure(secrets: list[str], fmt: str = "text") -> io.StringIO:
        configure_logging(level="INFO", fmt=fmt, secrets=secrets, stream=stream)
        return stream

    yield configure
    for handler in list(root.handlers):
        if handler.get_name() == "viber-bot":
            root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


def lines_with(lines: list[str], *parts: str) -> list[str]:
    return [line for line in lines if all(part in line for part in parts)]


async def test_one_line_per_send_and_per_transition_with_the_ids(make_bot, clock, captured_log):
    app = await make_bot()
    stream = captured_log(app.bot.settings.secrets())
    await app.command("send +380972920280 Hello logs")  # sent, delivered at 5 s, read at 30 s
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    clock.advance(6)
    await app.wait_for(lambda: len(app.replies()) == 1)
    clock.advance(30)
    await app.wait_for(lambda: len(app.replies()) == 2)

    send = (await app.store.recent_sends(1))[0]
    [message] = await app.store.send_messages(send.id)
    lines = stream.getvalue().splitlines()
    assert lines_with(lines, f"send {send.id} stored", "recipients=1")
    [accepted] = lines_with(lines, f"message {message.id} accepted")
    assert f"send={send.id}" in accepted and f"bsg_id={message.bsg_id}" in accepted
    for status in ("delivered", "read"):
        [changed] = lines_with(lines, f"message {message.id}:", f"-> {status}")
        assert f"send={send.id}" in changed and f"bsg_id={message.bsg_id}" in changed
    assert all(" INFO " in line or " WARNING " in line for line in lines_with(lines, "message "))

    # Whatever reaches a log line, the configured secrets do not.
    logging.getLogger("bot.test").error("leaked? %s %s %s", BSG_KEY, BOT_TOKEN, SIGNING_SECRET)
    text = stream.getvalue()
    assert text.splitlines()[-1].count(REDACTED) == 3
    for secret in (BSG_KEY, BOT_TOKEN, SIGNING_SECRET):
        assert secret not in text


def test_json_lines_scrub_secrets_even_where_json_escapes_them(captured_log):
    awkward = 'pa"ss\\wörd-0123'  # quote, backslash, non-ASCII: all escaped in JSON
    stream = captured_log([awkward, BSG_KEY], fmt="json")
    log = logging.getLogger("bot.tracking.sending")
    log.info("send %s stored with %s and %s", 7, awkward, BSG_KEY)
    try:
        raise RuntimeError(f"boom {BSG_KEY}")
    except RuntimeError:
        log.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "INFO" and first["logger"] == "bot.tracking.sending"
    assert first["message"] == f"send 7 stored with {REDACTED} and {REDACTED}"
    assert second["level"] == "ERROR" and BSG_KEY not in json.dumps(second)
    assert "wörd" not in stream.getvalue() and "w\\u00f6rd" not in stream.getvalue()


async def test_viber_bot_run_writes_json_lines_with_ids_and_no_secrets(bsg, slack, clock, tmp_path):
    db = tmp_path / "viber-bot.db"
    env = env_for(bsg, slack, db, VIBER_BOT_POLL_INTERVAL=0.2, VIBER_BOT_LOG_FORMAT="json")
    process = BotProcess(env, tmp_path, SIGNING_SECRET)
    try:
        await process.start()
        response = await process.command(
            "send +380972920288 Quick one", response_url=slack.response_url()
        )
        assert response.status_code == 200
        await slack.wait_for(lambda s: s.channel_messages(CHANNEL), timeout=10)
        parent = slack.channel_messages(CHANNEL)[0]
        clock.advance(1.5)  # lifecycle ...8: delivered at 1 s, read at 2 s
        await slack.wait_for(lambda s: len(s.thread(CHANNEL, parent["ts"])) == 1, timeout=10)
        clock.advance(1)
        await slack.wait_for(lambda s: len(s.thread(CHANNEL, parent["ts"])) == 2, timeout=10)
        _, code = await process.terminate()
    finally:
        await process.close()
    assert code == 0
    written = process.log_of(1)

    records = [json.loads(line) for line in written.splitlines() if line.strip()]
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    messages = [r["message"] for r in records]

    store = Store.open(db)
    try:
        send = (await store.recent_sends(1))[0]
        [message] = await store.send_messages(send.id)
    finally:
        await store.close()
    assert lines_with(messages, f"send {send.id} stored")
    assert lines_with(messages, f"message {message.id} accepted", f"bsg_id={message.bsg_id}")
    for status in ("delivered", "read"):
        [changed] = lines_with(messages, f"message {message.id}:", f"-> {status}")
        assert f"send={send.id}" in changed and f"bsg_id={message.bsg_id}" in changed
    assert lines_with(messages, "viber-bot stopped")
    # `viber-bot run` runs on uvloop where it is installed (bot/runtime.py).
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert lines_with(messages, f"running on the {loop} event loop")
    everything = written
    for secret in (BOT_TOKEN, SIGNING_SECRET, BSG_KEY):
        assert secret not in everything
