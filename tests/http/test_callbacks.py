"""Delivery callbacks end to end: the simulator POSTs to each create's URL, the bot asks BSG."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
from aiohttp import web

from tests.conftest import (
    APP_TOKEN,
    RunningBot,
    bound_socket,
    serving_socket_mode,
    socket_command,
)
from tests.slack_requests import modal_values
from tests.waiting import wait_until

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def requests_after(bsg, start: int) -> list[tuple[str, str]]:
    return bsg.requests[start:]


async def send_one(app: RunningBot, number: str = "+380972920285", **fields: Any) -> Any:
    if fields:
        await app.submit(
            modal_values({"recipients": number, "text": "Parcel", **fields}),
            private_metadata=json.dumps({"channel_id": "C123"}),
        )
    else:
        await app.command(f"send {number} Your parcel is ready")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    send = (await app.store.recent_sends(1))[0]
    [message] = await app.store.send_messages(send.id)
    # The channel may show an earlier send's parent already; BSG must hold this one's create.
    await app.wait_for(lambda: app.bsg.sent_to(message.msisdn) >= 1)
    return message


async def test_a_callback_brings_a_get_and_then_the_thread_reply(callback_bot, bsg):
    app = await callback_bot()
    message = await send_one(app)
    sim = bsg.message(message.reference)
    # The create named this recipient's own URL; the token reveals nothing of the number.
    assert sim.callback_url is not None
    base, token = sim.callback_url.rsplit("/", 1)
    assert base == f"{app.url}/bsg/callback"
    assert TOKEN.match(token) and "972920285" not in token
    request = json.loads((await app.store.get_send(message.send_id)).request_json)
    assert request["messages"][0]["callback_url"] == sim.callback_url

    await app.wait_for(lambda: bsg.callbacks.counts["sent"] >= 1)  # "sent" at acceptance
    await app.settle()
    mark = len(bsg.requests)
    started = time.monotonic()
    bsg.set_status(message.reference, "delivered")
    await app.wait_for(lambda: any("Delivered" in r for r in app.replies()), timeout=5)
    assert time.monotonic() - started < 3  # polling alone would take 30 s
    after = requests_after(bsg, mark)
    assert ("GET", f"/rest/viber/{message.bsg_id}") in after
    assert bsg.callbacks.sent[-1].answer == 200
    stored = await app.store.get_message(message.id)
    assert stored.status.value == "delivered"
    bodies = await app.store.callback_bodies(message.id)
    assert bodies and bodies[-1].parsed_status in ("delivered", None)
    metrics = (await app.http.get(f"{app.url}/metrics")).text
    assert 'viber_bot_callbacks_received_total{outcome="accepted"}' in metrics
    await app.wait_for(lambda: app.metric("viber_bot_callback_to_post_seconds_count"))


async def metrics_of(app: RunningBot) -> str:
    """GET /metrics, as Prometheus scrapes it."""
    return (await app.http.get(f"{app.url}/metrics")).text


async def test_sms_fallback_carries_its_own_callback_url(callback_bot, bsg):
    app = await callback_bot()
    message = await send_one(app, "+380972920283", sms_text="Parcel (SMS)")
    request = json.loads((await app.store.get_send(message.send_id)).request_json)
    item = request["messages"][0]
    assert item["options"]["viber"]["alt_route"]["callback_url"] == item["callback_url"]
    bsg.set_status(message.reference, "not_viber_user", "delivered")
    await app.wait_for(lambda: any("SMS delivered" in r for r in app.replies()), timeout=5)


async def test_each_recipient_is_its_own_message_item_with_its_own_url(callback_bot, bsg):
    app = await callback_bot()
    await app.command("send +380972920285,+380972920275 Hello both")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    send = (await app.store.recent_sends(1))[0]
    request = json.loads(send.request_json)
    assert [len(m["to"]) for m in request["messages"]] == [1, 1]
    urls = {m["callback_url"] for m in request["messages"]}
    assert len(urls) == 2


async def test_forged_altered_and_malformed_tokens_get_404_and_no_bsg_request(callback_bot, bsg):
    app = await callback_bot()
    message = await send_one(app)
    good = bsg.message(message.reference).callback_url
    token = good.rsplit("/", 1)[1]
    altered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    await app.wait_for(lambda: bsg.callbacks.counts["sent"] >= 1)
    await asyncio.sleep(0.5)  # the look that the "sent" callback asked for is done
    mark = bsg.status_calls
    for path in (
        f"/bsg/callback/{altered}",
        f"/bsg/callback/{'x' * 40}",
        "/bsg/callback/short",
        f"/bsg/callback/{token}/extra",
        "/bsg/callback/",
        f"/bsg/callback/{token[:21]}!{token[22:]}",
    ):
        answer = await app.http.post(app.url + path, content=b'{"status":"delivered"}')
        assert answer.status_code == 404, path
    await asyncio.sleep(0.6)  # longer than the coalescing window
    assert bsg.status_calls == mark
    assert "viber_bot_callbacks_forged_total 4.0" in await metrics_of(app)


async def test_a_body_over_64_kb_gets_413(callback_bot, bsg):
    app = await callback_bot()
    message = await send_one(app)
    url = bsg.message(message.reference).callback_url
    big = await app.http.post(url, content=b"x" * (64 * 1024 + 1))
    assert big.status_code == 413
    fine = await app.http.post(url, content=b"x" * (64 * 1024), headers={"Content-Type": "a/b"})
    assert fine.status_code == 200

    async def condition() -> object:
        return await app.store.callback_bodies(message.id)

    await app.wait_for(condition)
    kept = [b for b in await app.store.callback_bodies(message.id) if b.content_type == "a/b"]
    assert kept and len(kept[0].body) == 4096 and kept[0].truncated


async def test_a_final_message_token_gets_200_and_no_bsg_request(callback_bot, bsg):
    app = await callback_bot(VIBER_BOT_POLL_INTERVAL=0.3)
    message = await send_one(app, "+380972920289")  # lifecycle 9: rejected at once, final

    async def condition() -> object:
        return (await app.store.get_message(message.id)).final

    await app.wait_for(condition)
    await asyncio.sleep(0.5)
    mark = bsg.status_calls
    url = bsg.message(message.reference).callback_url
    answer = await app.http.post(url, content=b"")
    assert answer.status_code == 200  # CONTRACT.md: 200 for a token the bot issued
    await asyncio.sleep(0.5)
    assert bsg.status_calls == mark


async def test_many_callbacks_at_once_share_one_get(callback_bot, bsg):
    app = await callback_bot()
    message = await send_one(app)
    url = bsg.message(message.reference).callback_url
    await app.wait_for(lambda: bsg.callbacks.counts["sent"] >= 1)
    await asyncio.sleep(0.5)
    mark = bsg.status_by_id_calls
    started = time.monotonic()
    answers = await asyncio.gather(
        *(app.http.post(url, content=f"status=sent&n={i}".encode()) for i in range(8))
    )
    assert [a.status_code for a in answers] == [200] * 8
    # each acked fast (whatever else the loop does), and one GET followed within a second
    assert time.monotonic() - started < 1
    await app.wait_for(lambda: bsg.status_by_id_calls > mark, timeout=1.5)
    await asyncio.sleep(0.5)
    assert bsg.status_by_id_calls == mark + 1
    assert "viber_bot_callbacks_coalesced_total 7.0" in await metrics_of(app)


async def test_a_lost_callback_is_caught_up_by_polling(callback_bot, bsg, clock):
    app = await callback_bot(VIBER_BOT_POLL_INTERVAL=0.3)
    bsg.callbacks.loss = 1.0  # every callback is lost
    message = await send_one(app, "+380972920280")
    clock.advance(6)  # lifecycle 0: delivered after 5 s
    await app.wait_for(lambda: any("Delivered" in r for r in app.replies()), timeout=10)
    assert bsg.callbacks.counts["lost"] >= 1 and bsg.callbacks.counts["sent"] == 0
    assert (await app.store.get_message(message.id)).status.value == "delivered"


async def test_callbacks_arriving_stretch_the_poll_gap(callback_bot, bsg):
    app = await callback_bot(VIBER_BOT_POLL_INTERVAL=2, VIBER_BOT_CALLBACK_POLL_STRETCH=10)
    message = await send_one(app)
    bsg.set_status(message.reference, "delivered")

    async def condition() -> object:
        return (await app.store.get_message(message.id)).status.value == "delivered"

    await app.wait_for(condition)
    stored = await app.store.get_message(message.id)
    gap = (stored.next_poll_at - stored.last_polled_at).total_seconds()
    assert gap >= 15  # 2 s x 10; without callbacks it would be 2 s
    assert not stored.final  # polling never stops before final


async def test_socket_mode_serves_callbacks_beside_healthz(
    make_settings, socket_slack, bsg, clock, monkeypatch
):
    # serve() binds HOST:PORT itself; it is handed this socket, bound before the settings name
    # its port, so no one can take the port in between.
    sock = bound_socket()
    port = sock.getsockname()[1]
    monkeypatch.setattr(web, "TCPSite", lambda runner, host, port: web.SockSite(runner, sock))
    settings = make_settings(
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_SIGNING_SECRET="",
        SLACK_API_URL=socket_slack.base_url,
        PORT=port,
        VIBER_BOT_PUBLIC_URL=f"http://127.0.0.1:{port}",
        VIBER_BOT_POLL_INTERVAL=30,
    )
    async with serving_socket_mode(settings, socket_slack, clock) as address:
        await socket_command(socket_slack, "send +380972920285 Hello over a socket")
        await wait_until(lambda: socket_slack.channel_messages("C123") and bsg.messages, 6)
        [sim] = bsg.messages.values()
        assert sim.callback_url.startswith(f"http://127.0.0.1:{port}/bsg/callback/")
        bsg.set_status(sim.id, "delivered")
        parent = socket_slack.channel_messages("C123")[0]
        await wait_until(
            lambda: any(
                "Delivered" in m.get("text", "") for m in socket_slack.thread("C123", parent["ts"])
            ),
            6,
            "a thread reply after the callback",
        )
        async with httpx.AsyncClient(trust_env=False) as http:
            forged = await http.post(f"{address}/bsg/callback/{'a' * 60}", content=b"")
            assert forged.status_code == 404


async def test_a_source_over_its_rate_is_refused_and_forgers_are_held(callback_bot, bsg):
    app = await callback_bot(VIBER_BOT_CALLBACK_RATE=0.01, VIBER_BOT_CALLBACK_BURST=20)
    message = await send_one(app)
    url = bsg.message(message.reference).callback_url
    await app.wait_for(lambda: bsg.callbacks.counts["sent"] >= 1)  # took one of the 20
    answers = [(await app.http.post(url, content=b"")).status_code for _ in range(25)]
    assert answers.count(200) <= 20 and answers[-3:] == [429] * 3
    assert 'viber_bot_callbacks_received_total{outcome="rate_limited"}' in await metrics_of(app)
    # Forged tokens have an allowance of their own (a tenth): past it, each 404 is held back,
    # and real callbacks from the same address are not refused because of them.
    forged = f"{app.url}/bsg/callback/{'f' * 60}"
    for _ in range(2):
        assert (await app.http.post(forged, content=b"")).status_code == 404
    started = time.monotonic()
    assert (await app.http.post(forged, content=b"")).status_code == 404
    assert time.monotonic() - started >= 0.45
    fresh = await callback_bot()
    other = await send_one(fresh, "+380972920275")
    other_url = bsg.message(other.reference).callback_url
    for _ in range(150):
        await fresh.http.post(f"{fresh.url}/bsg/callback/{'g' * 60}", content=b"")
    quick = time.monotonic()
    assert (await fresh.http.post(other_url, content=b"")).status_code == 200
    assert time.monotonic() - quick < 0.2


async def test_a_summarised_send_takes_its_callbacks_in_rounds_a_gap_apart(callback_bot, bsg):
    app = await callback_bot(VIBER_BOT_CALLBACK_SUMMARY_GAP=2)
    numbers = ",".join(f"+38097292{i:02d}15" for i in range(6))  # 6 > the summary threshold
    await app.command(f"send {numbers} Hello all")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    await app.settle()
    messages = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    await asyncio.sleep(2.2)  # the acceptance callbacks' round is a gap behind us
    started = time.monotonic()
    for message in messages[:3]:
        bsg.set_status(message.reference, "delivered")
    await app.wait_for(lambda: len(app.replies()) == 1, timeout=5)
    first = time.monotonic() - started
    for message in messages[3:]:
        bsg.set_status(message.reference, "delivered")
    await app.wait_for(lambda: len(app.replies()) == 2, timeout=8)
    second = time.monotonic() - started
    assert first < 1.5  # the first round is as quick as any
    assert second >= 2.0  # the next waits for the gap: one summary reply per round
    for message in messages:
        assert (await app.store.get_message(message.id)).status.value == "delivered"
