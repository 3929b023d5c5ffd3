"""`viber-bot demo` through its entry point: the whole flow, fast, isolated, leaving nothing."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from bot.devtools import demo
from bot.domain.phones import mask

REPO = Path(__file__).resolve().parents[2]
WALL_LIMIT = 30.0  # the promise

# Settings a newcomer may have lying around; none of them may reach the demo.
HOSTILE_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-real-workspace-token",
    "SLACK_APP_TOKEN": "xapp-1-real-app-token",  # would switch to Socket Mode
    "SLACK_API_URL": "http://127.0.0.1:9/api/",  # discard port: nothing answers
    "BSG_API_URL": "http://127.0.0.1:9/rest",
    "BSG_API_KEY": "live_real_bsg_key",
    "VIBER_BOT_MASK_NUMBERS": "false",
    "VIBER_BOT_ALLOWED_USERS": "UNOBODY",
    "VIBER_BOT_COMMAND": "/other",
    "VIBER_BOT_PUBLIC_URL": "https://bot.example.com",  # callbacks must come to the demo's bot
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
}
DOTENV = "VIBER_BOT_DB=from-dotenv.db\nVIBER_BOT_MASK_NUMBERS=false\nSLACK_BOT_TOKEN=xoxb-dotenv\n"


def run_cli(*args: str, cwd: Path, tmpdir: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "TMPDIR": str(tmpdir),
        "PYTHONPATH": str(REPO),
        **HOSTILE_ENV,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=90,
    )
    return done, time.monotonic() - started


def reply_lines(transcript: str, words: str, msisdn: str) -> list[str]:
    return [line for line in transcript.splitlines() if words in line and mask(msisdn) in line]


def test_demo_shows_the_whole_flow_in_under_30_seconds_and_leaves_only_the_kept_db(tmp_path):
    cwd, tmpdir, kept_dir = tmp_path / "work", tmp_path / "tmp", tmp_path / "kept"
    for folder in (cwd, tmpdir, kept_dir):
        folder.mkdir()
    (cwd / ".env").write_text(DOTENV)
    kept = kept_dir / "demo.db"

    done, elapsed = run_cli("demo", "--keep-db", str(kept), cwd=cwd, tmpdir=tmpdir)
    out = done.stdout

    assert done.returncode == 0, out + done.stderr
    assert elapsed < WALL_LIMIT
    assert done.stderr == ""  # no warnings, no tracebacks, no unclosed sessions or tasks
    # the person's side: the modal opened through views.open, the quick send was acknowledged
    assert out.count("form opens") == 2
    assert "Only visible to you: Sending to 1 recipient" in out
    # the channel's side: a parent per send, then replies as the statuses came in
    assert set(re.findall(r"#general · viber-bot · message (\d)", out)) == {"1", "2", "3"}
    assert "edited" in out
    # Callbacks are on, said so, and the simulator's callbacks reached the bot.
    assert "Delivery callbacks are on" in " ".join(out.split())
    made = re.search(r"Delivery callbacks: (\d+) made, (\d+) led", " ".join(out.split()))
    assert made and int(made[1]) > 0 and int(made[2]) > 0
    assert reply_lines(out, "Delivered —", demo.READ_LATER)
    assert reply_lines(out, "Read —", demo.READ_LATER)
    assert reply_lines(out, "Fell back to SMS", demo.NOT_ON_VIBER)
    assert reply_lines(out, "SMS delivered", demo.NOT_ON_VIBER)
    assert reply_lines(out, "Read —", demo.READ_QUICKLY)
    assert reply_lines(out, "Expired —", demo.NEVER_LANDS)
    # numbers appear masked everywhere, also where the person typed them
    for number in (demo.READ_LATER, demo.NOT_ON_VIBER, demo.READ_QUICKLY, demo.NEVER_LANDS):
        assert number not in out
    assert not re.search(r"\d{9,}", out)
    assert "+380 ••••• 0285" in out

    # nothing left behind: not in the working directory (the .env was ignored), not in TMPDIR
    assert sorted(p.name for p in cwd.iterdir()) == [".env"]
    assert list(tmpdir.iterdir()) == []
    assert sorted(p.name for p in kept_dir.iterdir()) == ["demo.db"]
    with sqlite3.connect(kept) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM sends").fetchone() == (3,)
        statuses = dict(db.execute("SELECT msisdn, status FROM messages").fetchall())
        sms = dict(db.execute("SELECT msisdn, sms_status FROM messages").fetchall())
    assert statuses == {
        demo.READ_LATER: "read",
        demo.NOT_ON_VIBER: "not_viber_user",
        demo.READ_QUICKLY: "read",
        demo.NEVER_LANDS: "expired",
    }
    assert sms[demo.NOT_ON_VIBER] == "delivered"


def test_keep_db_never_overwrites_an_existing_file(tmp_path, capsys):
    existing = tmp_path / "viber-bot.db"
    existing.write_bytes(b"production data")

    assert demo.run_demo(keep_db=str(existing)) == 2

    assert "exists" in capsys.readouterr().err
    assert existing.read_bytes() == b"production data"
    assert demo.run_demo(keep_db=str(tmp_path / "no-such-dir" / "demo.db")) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["viber-bot.db"]


async def test_the_demo_says_what_never_showed_and_fails(tmp_path):
    # A deadline too short for the 15 s validity: the expiry (and the late read) cannot show.
    pace = dataclasses.replace(demo.FAST, deadline=2.0, settle=0.5)
    output = io.StringIO()
    console = Console(file=output, width=100, highlight=False, emoji=False)

    code = await demo.play(pace, tmp_path / "demo.db", console)

    transcript = output.getvalue()
    assert code == 1
    assert "never showed" in transcript
    assert f"expired for {mask(demo.NEVER_LANDS)}" in transcript
    assert f"read for {mask(demo.READ_LATER)}" in transcript
    assert "all shown" not in transcript
