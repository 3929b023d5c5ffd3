"""The operator commands (messages, show, export, doctor) through the `viber-bot` entry point."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot import cli
from bot.domain.models import DeliveryStatus, SendOutcome
from bot.ops.export import EXPORT_COLUMNS
from storage.store import NewRecipient, NewSend, Store
from tests.conftest import BOT_TOKEN, BSG_KEY, CHANNEL, SIGNING_SECRET, USER

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_VARS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "BSG_API_KEY",
    "BSG_API_URL",
    "VIBER_BOT_DB",
    "VIBER_BOT_DEFAULT_SENDER",
    "VIBER_BOT_POLL_INTERVAL",
)


@dataclass
class Ran:
    code: int
    out: str
    err: str


async def viber_bot(*args: str, env: dict[str, str], cwd: Path) -> Ran:
    """`viber-bot ARGS` in a fresh process with only `env` (no inherited Slack/BSG settings)."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONIOENCODING": "utf-8",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=base | env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no .env) and no settings in this process's environment."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workdir: Path):
    """`viber-bot ARGS` in this process (cli.main in a thread, so the test's servers keep
    answering), with exactly the settings given."""

    async def invoke(*args: str, **env: str) -> Ran:
        for name in SETTINGS_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = await asyncio.to_thread(cli.main, list(args))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return invoke


@pytest.fixture
async def sent(make_bot, clock):
    """A running bot whose database holds a real send to two numbers (one delivered, one
    undelivered) and a send BSG refused for lack of funds (code 8)."""
    app = await make_bot()
    await app.command("send +380972920280,+380972920284 Parcel is on its way")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    clock.advance(16)  # lifecycles: ...0 delivered at 5 s, ...4 undelivered at 15 s

    async def settled() -> bool:
        send = (await app.store.recent_sends(1))[0]
        statuses = {m.status for m in await app.store.send_messages(send.id)}
        return statuses == {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED}

    await app.wait_for(settled)
    app.bsg.balance = Decimal(0)
    await app.command("send +380972920282 Nobody pays for this")

    async def condition() -> object:
        return (await app.store.recent_sends(1))[0].outcome == SendOutcome.REFUSED

    await app.wait_for(condition)
    await app.settle()
    return app


async def messages_by_number(app) -> dict[str, object]:
    return {m.msisdn: m async for m in app.store.messages()}


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# ---------------------------------------------------------------- help


def test_every_subcommand_has_help(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    listing = capsys.readouterr().out
    names = ("run", "demo", "simulate-bsg", "messages", "show", "export", "doctor")
    for name in names:
        assert name in listing
    for name in names:
        with pytest.raises(SystemExit) as exited:
            cli.main([name, "--help"])
        assert exited.value.code == 0
        assert f"usage: viber-bot {name}" in capsys.readouterr().out


# ---------------------------------------------------------------- messages


async def test_messages_lists_recipients_with_ids_statuses_and_prices(sent, workdir, run):
    db = str(sent.bot.settings.db_path)
    listed = await viber_bot("messages", env={"VIBER_BOT_DB": db}, cwd=workdir)
    assert listed.code == 0, listed.err
    assert listed.err == ""
    rows = {line.split()[0]: line for line in listed.out.splitlines() if line.strip()[:1].isdigit()}
    stored = await messages_by_number(sent)
    assert len(rows) == 3
    for msisdn, status in (
        ("380972920280", "delivered"),
        ("380972920284", "undelivered"),
        ("380972920282", "refused"),
    ):
        message = stored[msisdn]
        line = rows[str(message.id)]
        assert f"+{msisdn}" in line  # the operator sees full numbers
        assert message.reference in line
        assert f" {status} " in line
        if message.bsg_id:
            assert message.bsg_id in line
            assert "0.02 EUR" in line

    delivered = await run("messages", "--status", "DELIVERED", "--json", VIBER_BOT_DB=db)
    assert delivered.code == 0
    [only] = json.loads(delivered.out)
    assert only["msisdn"] == "380972920280"
    assert only["status"] == "delivered"
    assert only["price"] == str(stored["380972920280"].price)  # exact, as text
    assert Decimal(only["price"]) == Decimal("0.02") and only["currency"] == "EUR"
    assert only["bsg_id"] == stored["380972920280"].bsg_id
    assert only["reference"] == stored["380972920280"].reference

    refused = json.loads(
        (await run("messages", "--status", "refused", "--json", VIBER_BOT_DB=db)).out
    )
    assert [(m["msisdn"], m["error_code"]) for m in refused] == [("380972920282", 8)]

    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert (
        json.loads((await run("messages", "--since", tomorrow, "--json", VIBER_BOT_DB=db)).out)
        == []
    )
    later = await run("messages", "--since", f"{tomorrow}T10:00:00+02:00", VIBER_BOT_DB=db)
    assert later.code == 0 and "No messages match" in later.out
    today = datetime.now(UTC).date().isoformat()
    assert (
        len(json.loads((await run("messages", "--since", today, "--json", VIBER_BOT_DB=db)).out))
        == 3
    )

    newest = await run("messages", "--limit", "1", VIBER_BOT_DB=db)
    assert "+380972920282" in newest.out and "+380972920280" not in newest.out
    assert "latest 1 of 3" in newest.out


async def test_bad_options_and_a_missing_database_are_one_line_and_exit_2(sent, workdir, run):
    db = str(sent.bot.settings.db_path)
    unknown = await run("messages", "--status", "teleported", VIBER_BOT_DB=db)
    assert unknown.code == 2 and unknown.out == ""
    line = one_line(unknown.err)
    assert (
        "unknown status 'teleported'" in line and "delivered" in line and "not_viber_user" in line
    )

    since = await run("messages", "--since", "last tuesday", VIBER_BOT_DB=db)
    assert since.code == 2 and "--since" in one_line(since.err) and "2026-01-31" in since.err

    limit = await run("messages", "--limit", "-1", VIBER_BOT_DB=db)
    assert limit.code == 2 and "--limit" in one_line(limit.err)

    missing = workdir / "nowhere.db"
    for args in (["messages"], ["show", "123"], ["export", "--csv", "out.csv"]):
        result = await run(*args, VIBER_BOT_DB=str(missing))
        assert result.code == 2
        assert "VIBER_BOT_DB" in one_line(result.err) and str(missing) in result.err
    assert not missing.exists()  # a read-only command never creates a database


async def test_db_path_comes_from_dotenv_like_run(sent, workdir, run):
    (workdir / ".env").write_text(
        f"VIBER_BOT_DB={sent.bot.settings.db_path}\nSLACK_BOT_TOKEN=xoxb-in-dotenv\nOTHER=1\n"
    )
    result = await run("messages", "--json")
    assert result.code == 0
    assert len(json.loads(result.out)) == 3


# ---------------------------------------------------------------- show


async def test_show_gives_the_send_status_and_full_history(sent, workdir, run):
    db = str(sent.bot.settings.db_path)
    message = (await messages_by_number(sent))["380972920280"]
    shown = await viber_bot("show", message.bsg_id, env={"VIBER_BOT_DB": db}, cwd=workdir)
    assert shown.code == 0, shown.err
    out = shown.out
    for expected in (
        message.bsg_id,
        message.reference,
        "+380972920280",
        "Parcel is on its way",
        USER,
        CHANNEL,
        "Acme",
        "0.02 EUR",
        "History",
    ):
        assert expected in out, expected
    history = out[out.index("History") :]
    assert history.index(" sent ") < history.index(" delivered ")

    by_reference = await run("show", message.reference, "--json", VIBER_BOT_DB=db)
    body = json.loads(by_reference.out)
    assert body["bsg_id"] == message.bsg_id
    assert body["send"]["text"] == "Parcel is on its way"
    assert body["send"]["user_id"] == USER and body["send"]["channel_id"] == CHANNEL
    assert [(e["channel"], e["status"]) for e in body["history"]] == [
        ("viber", "sent"),
        ("viber", "delivered"),
    ]

    refused = (await messages_by_number(sent))["380972920282"]
    answer = await run("show", refused.reference, VIBER_BOT_DB=db)
    assert "code 8" in answer.out and "refused" in answer.out

    unknown = await run("show", "no-such-thing", VIBER_BOT_DB=db)
    assert unknown.code == 1 and unknown.out == ""
    assert "no message with BSG id or reference 'no-such-thing'" in one_line(unknown.err)


# ---------------------------------------------------------------- export


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
        return list(reader)


async def test_export_writes_one_row_per_recipient_with_send_columns(sent, workdir, run):
    db = str(sent.bot.settings.db_path)
    target = workdir / "sends.csv"
    done = await viber_bot("export", "--csv", str(target), env={"VIBER_BOT_DB": db}, cwd=workdir)
    assert done.code == 0, done.err
    assert "Exported 3 rows" in done.err
    rows = {row["msisdn"]: row for row in read_csv(target)}
    stored = await messages_by_number(sent)
    assert set(rows) == set(stored)
    first = rows["380972920280"]
    message = stored["380972920280"]
    assert first["send_id"] == str(message.send_id) and first["message_id"] == str(message.id)
    assert first["user_id"] == USER and first["channel_id"] == CHANNEL
    assert first["sender"] == "Acme" and first["text"] == "Parcel is on its way"
    assert first["outcome"] == "sent" and first["status"] == "delivered"
    assert first["bsg_id"] == message.bsg_id and first["reference"] == message.reference
    assert Decimal(first["price"]) == Decimal("0.02") and first["currency"] == "EUR"
    assert rows["380972920284"]["status"] == "undelivered"
    refused = rows["380972920282"]
    assert refused["outcome"] == "refused" and refused["status"] == "refused"
    assert refused["error_code"] == "8" and refused["price"] == "" and refused["bsg_id"] == ""

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    empty = await run("export", "--csv", str(target), "--since", future, VIBER_BOT_DB=db)
    assert empty.code == 0 and read_csv(target) == []

    to_stdout = await run("export", "--csv", "-", VIBER_BOT_DB=db)
    assert len(list(csv.DictReader(io.StringIO(to_stdout.out)))) == 3

    nowhere = await run("export", "--csv", str(workdir / "missing" / "x.csv"), VIBER_BOT_DB=db)
    assert nowhere.code == 2 and "does not exist" in one_line(nowhere.err)


async def test_export_streams_many_rows_and_defuses_formulas(workdir, run):
    db_path = workdir / "big.db"
    store = Store.open(db_path)
    now = datetime.now(UTC)
    per_send, sends = 2_000, 3
    for number in range(sends):
        await store.add_send(
            NewSend(
                channel_id=CHANNEL,
                user_id=USER,
                text='=HYPERLINK("http://evil")' if number == 0 else f"Batch {number}",
                sender="@Acme" if number == 0 else "Acme",
            ),
            [NewRecipient(f"38097{number}{i:06d}", f"ref{number}x{i}") for i in range(per_send)],
            now=now + timedelta(seconds=number),
        )
    empty, _ = await store.add_send(
        NewSend(channel_id=CHANNEL, user_id=USER, text="nobody", sender="Acme"),
        [],
        now=now + timedelta(seconds=10),
    )
    await store.close()

    target = workdir / "big.csv"
    started = time.perf_counter()
    done = await run("export", "--csv", str(target), VIBER_BOT_DB=str(db_path))
    elapsed = time.perf_counter() - started
    assert done.code == 0, done.err
    rows = read_csv(target)
    assert len(rows) == per_send * sends + 1
    assert elapsed < 5, f"{len(rows)} rows took {elapsed:.1f}s"
    assert rows[0]["text"] == '\'=HYPERLINK("http://evil")'  # not run as a formula
    assert rows[0]["sender"] == "'@Acme"
    assert rows[per_send]["text"] == "Batch 1" and rows[per_send]["msisdn"] == "380971000000"
    assert [int(r["message_id"]) for r in rows[:-1]] == sorted(
        int(r["message_id"]) for r in rows[:-1]
    )
    assert rows[-1]["send_id"] == str(empty.id) and rows[-1]["msisdn"] == ""

    # --since starts the merge part-way: still every row of the later sends, with their sends.
    since = (now + timedelta(seconds=1)).isoformat()
    later = await run("export", "--csv", str(target), "--since", since, VIBER_BOT_DB=str(db_path))
    assert later.code == 0
    rows = read_csv(target)
    assert len(rows) == per_send * 2 + 1
    assert {r["text"] for r in rows} == {"Batch 1", "Batch 2", "nobody"}


# ---------------------------------------------------------------- doctor


def doctor_env(app, **overrides: str) -> dict[str, str]:
    settings = app.bot.settings
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": settings.slack_api_url,
        "BSG_API_KEY": BSG_KEY,
        "BSG_API_URL": settings.bsg_api_url,
        "VIBER_BOT_DB": str(settings.db_path),
        "VIBER_BOT_DEFAULT_SENDER": "Acme",
        "VIBER_BOT_BSG_TIMEOUT": "2",
    }
    env.update(overrides)
    return env


def lines_of(out: str) -> dict[str, list[str]]:
    """Doctor's output by check name: the ✓/✗ line and its fix line."""
    found: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line[:1] in ("✓", "✗"):
            current = line.split()[1]
            found[current] = [line]
        elif current and line.strip().startswith("fix:"):
            found[current].append(line)
    return found


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in (BOT_TOKEN, SIGNING_SECRET, BSG_KEY, "live_wrong_key_9876", "xoxb-wrong-1"):
            assert secret not in text


async def test_doctor_passes_against_the_running_simulator_and_standin(app, workdir):
    await app.command("send +380972920280,+380972920281 Hello")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    auth_tests = len(app.slack.calls_to("auth.test"))  # Bolt makes its own
    result = await viber_bot("doctor", env=doctor_env(app), cwd=workdir)
    assert result.code == 0, result.out + result.err
    checks = lines_of(result.out)
    assert set(checks) == {"settings", "database", "BSG", "Slack"}
    assert all(lines[0].startswith("✓") for lines in checks.values()), result.out
    assert "2 messages" in checks["database"][0]
    assert "balance 99.96 EUR" in checks["BSG"][0]  # 100 minus two accepted recipients
    assert "T123" in checks["Slack"][0]
    assert "All 4 checks passed" in result.out
    assert app.bsg.calls["balance"] == 1
    assert len(app.slack.calls_to("auth.test")) == auth_tests + 1
    assert_no_secrets(result.out, result.err)


async def test_doctor_explains_a_wrong_bsg_key(app, run):
    result = await run("doctor", **doctor_env(app, BSG_API_KEY="live_wrong_key_9876"))
    assert result.code == 1
    checks = lines_of(result.out)
    bsg, fix = checks["BSG"]
    assert bsg.startswith("✗") and "code 1" in bsg and "HTTP 401" in bsg
    assert "BSG_API_KEY" in fix and "live_" in fix
    assert all(checks[name][0].startswith("✓") for name in ("settings", "database", "Slack"))
    assert "1 of 4 checks failed" in result.out
    assert_no_secrets(result.out, result.err)


async def test_doctor_explains_a_wrong_slack_token(app, run):
    result = await run("doctor", **doctor_env(app, SLACK_BOT_TOKEN="xoxb-wrong-1"))
    assert result.code == 1
    slack, fix = lines_of(result.out)["Slack"]
    assert slack.startswith("✗") and "invalid_auth" in slack
    assert "SLACK_BOT_TOKEN" in fix and "Bot User OAuth Token" in fix
    assert lines_of(result.out)["BSG"][0].startswith("✓")
    assert_no_secrets(result.out, result.err)


async def test_doctor_explains_a_corrupt_database(app, run, workdir):
    broken = workdir / "broken.db"
    broken.write_bytes(b"this is not an SQLite database, just bytes\n" * 200)
    result = await run("doctor", **doctor_env(app, VIBER_BOT_DB=str(broken)))
    assert result.code == 1
    database, fix = lines_of(result.out)["database"]
    assert database.startswith("✗") and "not a database" in database
    assert f"mv {broken} {broken}.broken" in fix and "backup" in fix
    assert broken.read_bytes().startswith(b"this is not")  # never replaced


async def test_doctor_says_when_bsg_and_slack_cannot_be_reached(app, run, refusing_port):
    env = doctor_env(
        app,
        BSG_API_URL=f"http://127.0.0.1:{refusing_port()}/rest",
        SLACK_API_URL=f"http://127.0.0.1:{refusing_port()}/api/",
    )
    result = await run("doctor", **env)
    assert result.code == 1
    checks = lines_of(result.out)
    assert "could not be reached" in checks["BSG"][0] and "BSG_API_URL" in checks["BSG"][1]
    assert "could not be reached" in checks["Slack"][0] and "SLACK_API_URL" in checks["Slack"][1]


async def test_doctor_names_every_bad_setting(app, run):
    env = doctor_env(app, VIBER_BOT_POLL_INTERVAL="soon")
    del env["BSG_API_KEY"]
    result = await run("doctor", **env)
    assert result.code == 1
    checks = lines_of(result.out)
    settings, fix = checks["settings"]
    assert "BSG_API_KEY: required but not set" in settings
    assert "VIBER_BOT_POLL_INTERVAL" in settings and ".env" in fix
    assert checks["database"][0].startswith("✓")
    assert "not checked" in checks["BSG"][0] and "not checked" in checks["Slack"][0]
    assert app.bsg.calls["balance"] == 0


APP_TOKEN = "xapp-1-A0TEST-1234567890-0123456789abcdef"


async def test_doctor_checks_the_app_token_against_apps_connections_open(app, run):
    app.slack.app_token = APP_TOKEN
    result = await run("doctor", **doctor_env(app, SLACK_APP_TOKEN=APP_TOKEN))
    assert result.code == 0, result.out + result.err
    checks = lines_of(result.out)
    socket_mode = " ".join(checks["Socket"])
    assert checks["Socket"][0].startswith("✓") and "app token accepted" in socket_mode
    assert "All 5 checks passed" in result.out
    assert app.slack.calls_to("apps.connections.open")
    assert APP_TOKEN not in result.out + result.err


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("xapp-1-A0TEST-1234567890-wrongwrongwrong", "rejected SLACK_APP_TOKEN (invalid_auth)"),
        ("xapp-1-A0TEST 1234567890", "not shaped like an app-level token"),
        ("xapp-", "not shaped like an app-level token"),
    ],
)
async def test_doctor_explains_a_bad_app_token(app, run, token, said):
    app.slack.app_token = APP_TOKEN
    calls = len(app.slack.calls_to("apps.connections.open"))
    result = await run("doctor", **doctor_env(app, SLACK_APP_TOKEN=token))
    assert result.code == 1
    line, fix = lines_of(result.out)["Socket"]
    assert line.startswith("✗") and said in line
    assert "SLACK_APP_TOKEN" in fix and "connections:write" in fix
    assert lines_of(result.out)["Slack"][0].startswith("✓")
    shaped = "shaped" not in said
    assert len(app.slack.calls_to("apps.connections.open")) == calls + (1 if shaped else 0)
    assert token not in result.out + result.err and APP_TOKEN not in result.out


async def test_doctor_lists_slack_posts_set_aside_as_dead(app, run, workdir):
    await app.command("send +380972920285 Quiet")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    send = (await app.store.recent_sends(1))[0]
    item = await app.store.enqueue(
        channel_id=CHANNEL, kind="reply", payload={}, now=app.bot.clock(), send_id=send.id
    )
    await app.store.outbox_dead(item, "KeyError: 'text'")
    result = await run("doctor", **doctor_env(app))
    assert result.code == 1
    line, fix = lines_of(result.out)["outbox"]
    assert line.startswith("✗") and "1 Slack post set aside as dead" in line
    assert f"#{item} reply: KeyError: 'text'" in line
    assert "set aside" in fix
    assert lines_of(result.out)["database"][0].startswith("✓")
