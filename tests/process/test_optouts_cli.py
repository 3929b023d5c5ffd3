"""`viber-bot optouts import FILE`, `optouts export` and `show` (personal texts) as processes."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from storage.store import NewRecipient, NewSend, Store
from tests.process.test_cli import viber_bot, workdir  # noqa: F401  (workdir: the fixture)


async def test_import_an_excel_csv_then_export_it(workdir: Path):  # noqa: F811
    db = workdir / "bot.db"
    env = {"VIBER_BOT_DB": str(db)}
    upload = workdir / "optouts.csv"
    upload.write_bytes(
        "\ufeffName;Phone;Reason\r\n"
        "Olena;+380 97 292 0283;asked by phone\r\n"
        "\r\n"
        "Taras;00380972920282;\r\n"
        "Nobody;+3801;bad\r\n"
        "Again;380972920283;twice\r\n".encode()
    )
    ran = await viber_bot("optouts", "import", str(upload), env=env, cwd=workdir)
    assert ran.code == 0, ran.err
    assert "opted out 2 number(s); 0 were already opted out; 1 line(s) not a number" in ran.out
    assert "+3801" in ran.err
    # One number per line, the same numbers again: nothing new.
    plain = workdir / "numbers.txt"
    plain.write_text("380972920283\n+380972920282\n\n+380972920281\n")
    ran = await viber_bot("optouts", "import", str(plain), env=env, cwd=workdir)
    assert "opted out 1 number(s); 2 were already opted out" in ran.out

    ran = await viber_bot("optouts", "export", env=env, cwd=workdir)
    assert ran.code == 0, ran.err
    rows = list(csv.DictReader(io.StringIO(ran.out)))
    assert {r["phone"]: r["reason"] for r in rows} == {
        "380972920283": "asked by phone",
        "380972920282": "",
        "380972920281": "",
    }
    assert all(r["source"].startswith("import:") and r["opted_out_at"] for r in rows)

    store = Store.open(db)
    try:
        assert await store.opted_out_among(["380972920283", "380972920200"]) == {"380972920283"}
        audited = [r for r in await store.audit_log() if r["action"] == "optout"]
        assert audited and audited[0]["detail"]["source"].startswith("import:")
    finally:
        await store.close()


async def test_import_problems_are_one_line_errors(workdir: Path):  # noqa: F811
    env = {"VIBER_BOT_DB": str(workdir / "bot.db")}
    ran = await viber_bot("optouts", "import", "missing.csv", env=env, cwd=workdir)
    assert ran.code != 0 and "cannot read missing.csv" in ran.err
    (workdir / "empty.csv").write_text("\n\n")
    ran = await viber_bot("optouts", "import", "empty.csv", env=env, cwd=workdir)
    assert ran.code != 0 and "empty" in ran.err and "Traceback" not in ran.err
    ran = await viber_bot("optouts", "export", env={"VIBER_BOT_DB": "nope.db"}, cwd=workdir)
    assert ran.code != 0 and "no database" in ran.err
    ran = await viber_bot("optouts", "--help", env=env, cwd=workdir)
    assert ran.code == 0 and "import" in ran.out and "export" in ran.out


async def test_show_displays_what_that_recipient_was_sent(workdir: Path):  # noqa: F811
    db = workdir / "bot.db"
    store = Store.open(db)
    try:
        await store.add_send(
            NewSend(channel_id="C123", user_id="U123", text="Hello {name}", sender="Acme"),
            [
                NewRecipient("380972920283", "refolena", "Hello Olena", "SMS Olena"),
                NewRecipient("380972920282", "refplain"),
            ],
            now=datetime.now(UTC),
        )
    finally:
        await store.close()
    env = {"VIBER_BOT_DB": str(db)}
    ran = await viber_bot("show", "refolena", "--json", env=env, cwd=workdir)
    assert ran.code == 0, ran.err
    shown = json.loads(ran.out)
    assert shown["text"] == "Hello Olena" and shown["sms_text"] == "SMS Olena"
    assert shown["send"]["text"] == "Hello {name}"
    ran = await viber_bot("show", "refplain", env=env, cwd=workdir)
    assert ran.code == 0 and "Hello {name}" in ran.out
    ran = await viber_bot("show", "refolena", env=env, cwd=workdir)
    assert "Hello Olena" in ran.out and "SMS Olena" in ran.out
