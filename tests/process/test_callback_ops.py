"""Operating callbacks: `doctor` probes the public URL; `show` lists a message's raw callbacks."""

from __future__ import annotations

import json

from tests.process.test_cli import doctor_env, lines_of, viber_bot, workdir  # noqa: F401


async def test_doctor_posts_a_signed_probe_to_the_public_url(callback_bot, workdir):  # noqa: F811
    app = await callback_bot()
    forged_before = await app.metric("viber_bot_callbacks_forged_total")
    env = doctor_env(app, VIBER_BOT_PUBLIC_URL=app.url)
    result = await viber_bot("doctor", env=env, cwd=workdir)
    checks = lines_of(result.out)
    assert result.code == 0, result.out + result.err
    assert checks["callbacks"][0].startswith("✓"), result.out
    assert "answered the bot's own signed test callback" in checks["callbacks"][0]
    probes = await app.metric("viber_bot_callbacks_received_total", outcome="probe")
    assert probes == 1
    assert await app.metric("viber_bot_callbacks_forged_total") == forged_before
    assert app.bsg.status_calls == 0  # a probe never leads to a BSG request
    secret = await app.store.stored_callback_secret()
    assert secret and secret not in result.out + result.err


async def test_doctor_says_when_the_public_url_reaches_no_bot(
    callback_bot,
    workdir,  # noqa: F811
    refusing_port,
):
    app = await callback_bot()
    nobody = f"http://127.0.0.1:{refusing_port()}"
    result = await viber_bot(
        "doctor", env=doctor_env(app, VIBER_BOT_PUBLIC_URL=nobody), cwd=workdir
    )
    assert result.code == 1
    line, fix = lines_of(result.out)["callbacks"]
    assert line.startswith("✗") and "could not be reached" in line
    assert "/bsg/callback/" in fix


async def test_doctor_says_when_the_url_answers_for_another_secret(callback_bot, workdir):  # noqa: F811
    app = await callback_bot()
    env = doctor_env(
        app, VIBER_BOT_PUBLIC_URL=app.url, VIBER_BOT_CALLBACK_SECRET="not-the-bots-secret-123"
    )
    result = await viber_bot("doctor", env=env, cwd=workdir)
    assert result.code == 1
    line, fix = lines_of(result.out)["callbacks"]
    assert "404" in line and "another" in fix


async def test_show_lists_the_raw_callbacks_of_a_message(callback_bot, workdir):  # noqa: F811
    app = await callback_bot()
    await app.command("send +380972920285 Hello")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    [message] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    url = app.bsg.message(message.reference).callback_url
    answer = await app.http.post(
        url,
        content=b"status=delivered&id=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200

    async def kept() -> bool:
        return len(await app.store.callback_bodies(message.id)) >= 1

    await app.wait_for(kept)
    env = doctor_env(app)
    shown = await viber_bot("show", message.reference, "--json", env=env, cwd=workdir)
    assert shown.code == 0, shown.err
    bodies = json.loads(shown.out)["callbacks"]
    ours = [b for b in bodies if b["body"] == "status=delivered&id=1"]
    assert ours and ours[0]["parsed_status"] == "delivered"
    assert ours[0]["content_type"] == "application/x-www-form-urlencoded"
    table = await viber_bot("show", message.reference, env=env, cwd=workdir)
    assert "Delivery callbacks" in table.out and "status=delivered" in table.out
