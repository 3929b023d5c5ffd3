"""Delivery tracking through the real HTTP path: the poller, the notifier and the outbox."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from bot.clock import Grid, utcnow
from bot.domain.models import DeliveryStatus
from bot.slack.render.text import status_text
from tests.slack_requests import modal_values

EXPIRED_REPLY = "⌛ Expired — +380 ••••• 0285 · "


async def submit_modal(app, **fields):
    return await app.submit(
        modal_values(fields), private_metadata=json.dumps({"channel_id": "C123"})
    )


async def test_sent_delivered_read_gives_two_replies_and_current_counts(app, clock):
    await app.command("send +380972920280 Your order has shipped")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    clock.advance(6)  # lifecycle 0: delivered after 5 s
    await app.wait_for(lambda: len(app.replies()) == 1)
    assert "Delivered" in app.replies()[0]
    clock.advance(30)  # read after 30 s
    await app.wait_for(lambda: len(app.replies()) == 2)
    assert "Read" in app.replies()[1]
    await app.settle()
    parent = app.parent()
    rendered = json.dumps(parent["blocks"])
    assert "read 1" in rendered
    assert "380972920280" not in rendered + json.dumps(app.replies())
    # read is final: the message is never asked about again
    calls = app.bsg.status_by_id_calls
    clock.advance(3600)
    await app.sweeps_after(3)
    assert app.bsg.status_by_id_calls == calls
    message = (await app.store.recent_sends(1))[0]
    [stored] = await app.store.send_messages(message.id)
    assert stored.final and stored.status == DeliveryStatus.READ
    # replies are threaded under the parent, never under a reply, and ping no one
    for reply in app.slack.thread("C123", parent["ts"]):
        assert reply["thread_ts"] == parent["ts"]
        assert not reply.get("reply_broadcast")
        assert "<!" not in reply["text"] and "<@" not in reply["text"]


async def test_not_viber_user_falls_back_to_sms_and_sms_is_delivered(app, clock):
    await submit_modal(
        app, recipients="+380972920283", text="Parcel arrived", sms_text="Parcel arrived (SMS)"
    )
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    clock.advance(13)  # lifecycle 3: not_viber_user at 10 s, SMS sent at 12 s
    await app.wait_for(lambda: any("SMS" in r for r in app.replies()))
    clock.advance(10)  # SMS delivered at 20 s
    await app.wait_for(lambda: any("SMS delivered" in r for r in app.replies()))
    replies = app.replies()
    assert any("Fell back to SMS" in r for r in replies)
    assert sum("SMS delivered" in r for r in replies) == 1
    [stored] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    assert stored.sms_status == DeliveryStatus.DELIVERED
    assert stored.sms_id
    await app.settle()
    # A fallback whose SMS was delivered is final: the card says so and polling stops.
    assert stored.final and stored.status == DeliveryStatus.NOT_VIBER_USER
    card = json.dumps(app.parent()["blocks"], ensure_ascii=False)
    assert f"SMS {status_text(DeliveryStatus.DELIVERED)}" in card


async def test_message_pending_past_validity_expires(make_bot, clock):
    app = await make_bot(VIBER_BOT_EXPIRY_GRACE=5)
    await submit_modal(app, recipients="+380972920285", text="Never lands", validity="30")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    clock.advance(40)
    await app.wait_for(lambda: any(r.startswith(EXPIRED_REPLY) for r in app.replies()))
    [stored] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    assert stored.final and stored.status == DeliveryStatus.EXPIRED


async def test_unknown_status_words_do_not_crash(app, clock):
    await app.command("send +380972920285 Hello")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    [stored] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    app.bsg.set_status(stored.reference, "teleported")
    clock.advance(1)
    await app.sweeps_after(2)
    [stored] = await app.store.send_messages(stored.send_id)
    assert stored.status == DeliveryStatus.UNKNOWN
    assert stored.raw_status == "teleported"
    assert (await app.bot.health())[0] == 200
    app.bsg.set_status(stored.reference, "delivered")
    clock.advance(5)
    await app.wait_for(lambda: any("Delivered" in r for r in app.replies()))


async def test_scheduled_messages_are_not_polled_before_their_time(app, clock):
    from datetime import timedelta

    send_at = int((clock() + timedelta(hours=1)).timestamp())
    await submit_modal(app, recipients="+380972920280", text="Later", send_at=send_at)
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    body = json.loads((await app.store.recent_sends(1))[0].request_json)
    assert body["messages"][0]["scheduledDatetime"].endswith("Z")
    await app.sweeps_after(3)
    assert app.bsg.status_by_id_calls == 0
    clock.advance(3600 + 6)
    await app.wait_for(lambda: app.bsg.status_by_id_calls > 0)
    await app.wait_for(lambda: any("Delivered" in r for r in app.replies()))


async def test_fifty_recipients_delivered_in_one_sweep_get_one_summary_reply(make_bot, clock):
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=50)  # sent at once, without the confirmation
    numbers = ",".join(f"+3809729{i:03d}02" for i in range(50))
    response = await app.command(f"send {numbers} Big announcement")
    assert "50 recipients" in response.text
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    clock.advance(6)  # lifecycle 2: all delivered at 5 s
    await app.wait_for(lambda: len(app.replies()) >= 1)
    await app.sweeps_after(3)
    await app.settle()
    replies = app.replies()
    assert len(replies) == 1
    assert "Delivered (50)" in replies[0]
    assert "380972900002" not in replies[0]  # masked


async def test_slack_rate_limits_delay_but_never_lose_or_double_replies(make_bot, clock):
    app = await make_bot()
    await app.command("send +380972920288 Quick one")  # lifecycle 8: delivered 1 s, read 2 s
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    app.slack.fail_next("chat.postMessage", 4, retry_after=1)
    clock.advance(1.5)
    await app.sweeps_after(1)
    clock.advance(1.0)
    await app.wait_for(lambda: len(app.replies()) == 2, timeout=20)
    await app.settle()
    replies = app.replies()
    assert "Delivered" in replies[0] and "Read" in replies[1]
    await app.sweeps_after(2)
    assert len(app.replies()) == 2
    assert await app.metric("viber_bot_slack_ratelimited_total") >= 1


async def test_bsg_outage_for_several_sweeps_then_recovery(app, clock):
    await app.command("send +380972920280 Hello")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    app.bsg.fail_next("/viber/", 2, status="timeout")
    app.bsg.fail_next("/viber/", 10_000, status=500)
    clock.advance(6)

    async def condition() -> object:
        return (await app.bot.health())[1]["bsg"] == "degraded"

    await app.wait_for(condition)
    status, body = await app.bot.health()
    assert status == 200 and "unavailable" in body["bsg_error"]
    for _ in range(4):  # several sweeps in a row meet the outage
        clock.advance(5)
        await app.sweeps_after(1)
    assert app.replies() == []
    assert (await app.bot.health())[1]["bsg"] == "degraded"
    app.bsg.clear_failures()
    clock.advance(60)
    await app.wait_for(lambda: len(app.replies()) >= 1, timeout=15)
    assert any("Read" in r or "Delivered" in r for r in app.replies())
    assert (await app.bot.health())[1]["bsg"] == "ok"


async def test_restart_between_sweeps_continues_without_duplicates(make_bot, clock):
    first = await make_bot()
    await first.command("send +380972920280 Survives restarts")
    await first.wait_for(lambda: first.slack.channel_messages("C123"))
    clock.advance(6)
    await first.wait_for(lambda: len(first.replies()) == 1)
    await first.settle()
    await first.stop()
    clock.advance(30)
    second = await make_bot()
    await second.wait_for(lambda: len(second.replies()) == 2)
    await second.settle()
    await second.sweeps_after(2)
    replies = second.replies()
    assert len(replies) == 2 and "Read" in replies[1]
    assert len(second.slack.channel_messages("C123")) == 1  # one parent, never reposted
    assert second.bsg.create_calls == 1


async def test_status_command_shows_history(app, clock):
    await app.command("send +380972920280 History please")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    clock.advance(6)
    await app.wait_for(lambda: len(app.replies()) == 1)
    [stored] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    response = await app.command(f"status {stored.bsg_id}")
    assert response.status_code == 200
    answer = await app.wait_for(
        lambda: [
            r
            for r in app.slack.responses
            if "History" in json.dumps(r) or "history" in json.dumps(r)
        ]
    )
    text = answer[-1]["text"]
    assert "sent" in text and "delivered" in text
    assert "380972920280" in text  # private answers may show the full number


async def test_quiet_parent_is_refreshed_with_last_checked_time(make_bot, clock):
    app = await make_bot(VIBER_BOT_PARENT_REFRESH=60)
    await app.command("send +380972920285 Stays sent")  # lifecycle 5: never changes
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    await app.settle()
    updates = len(app.slack.calls_to("chat.update"))
    clock.advance(61)
    await app.wait_for(lambda: len(app.slack.calls_to("chat.update")) > updates)
    assert "last checked" in json.dumps(app.parent()["blocks"]).lower()
    assert app.replies() == []


async def test_message_bsg_never_answers_for_expires_after_validity_and_grace(make_bot, clock):
    app = await make_bot(VIBER_BOT_EXPIRY_GRACE=5)
    await submit_modal(app, recipients="+380972920285", text="Lost at BSG", validity="30")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    app.bsg.fail_next("/viber/", 100_000, status=500)  # BSG never answers about it again
    clock.advance(40)
    await app.wait_for(lambda: any(r.startswith(EXPIRED_REPLY) for r in app.replies()))
    [stored] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    assert stored.final and stored.status == DeliveryStatus.EXPIRED
    app.bsg.clear_failures()


async def test_a_change_during_an_update_in_flight_still_reaches_the_parent(app, clock):
    await app.command("send +380972920280 Stale parent")  # lifecycle 0: delivered 5 s, read 30 s
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    await app.settle()
    app.slack.delay("chat.update", 2.0)
    clock.advance(6)
    send = (await app.store.recent_sends(1))[0]

    async def update_in_flight() -> bool:
        return any(
            i.kind == "update" and i.in_flight and i.state == "pending"
            for i in await app.store.outbox_items(send.id)
        )

    await app.wait_for(update_in_flight)
    clock.advance(30)  # read (final) is recorded while the "delivered" update is at Slack
    await app.wait_for(lambda: len(app.replies()) == 2, timeout=15)
    app.slack.delay("chat.update", 0)
    await app.settle()
    [message] = await app.store.send_messages(send.id)
    assert message.final
    assert "read 1" in json.dumps(app.parent()["blocks"])


async def test_parent_that_slack_refuses_is_explained_to_the_sender(app, clock):
    app.slack.fail_next("chat.postMessage", 1, error="channel_not_found")
    url = app.slack.response_url()
    await app.command("send +380972920280 Nowhere to post", response_url=url)
    notes = await app.wait_for(
        lambda: [r for r in app.slack.responses_to(url) if "could not post" in r.get("text", "")]
    )
    assert "channel_not_found" in notes[0]["text"]
    assert app.bsg.create_calls == 1


def status_gets(app) -> dict[str, int]:
    """Status GETs by BSG id the simulator has answered so far, per id."""
    counts: dict[str, int] = {}
    for method, path in app.bsg.requests:
        if method == "GET" and path.startswith("/rest/viber/") and "/reference/" not in path:
            bsg_id = path.rsplit("/", 1)[1]
            counts[bsg_id] = counts.get(bsg_id, 0) + 1
    return counts


async def test_no_status_get_after_any_kind_of_final_state(make_bot, clock):
    """Read, Viber failure, SMS delivered, every failed SMS, delivered past validity, expired:
    once final, a message is never asked about again, over many poll intervals."""
    app = await make_bot(VIBER_BOT_EXPIRY_GRACE=5)
    # read quickly (8), undelivered (4), rejected at once (9): no fallback asked for
    await app.command("send +380972920288,+380972920284,+380972920289 No fallback")
    # SMS delivered (3), SMS undelivered (7)
    await submit_modal(
        app, recipients="+380972920283,+380972920287", text="Fallback", sms_text="Fallback SMS"
    )
    # delivered and never read (2), sent for ever (5): a 30 s window
    await submit_modal(app, recipients="+380972920282,+380972920285", text="Short", validity="30")
    # every other final SMS status, scripted on messages that otherwise stay "sent"
    scripted = ["expired", "undeliverable", "rejected", "failed", "deleted"]
    numbers = [f"+3809729201{i}5" for i in range(len(scripted))]
    await submit_modal(app, recipients=",".join(numbers), text="Scripted", sms_text="SMS text")
    await app.wait_for(lambda: len(app.slack.channel_messages("C123")) == 4)
    [scripted_send] = [s for s in await app.store.recent_sends(4) if s.text == "Scripted"]
    by_msisdn = {m.msisdn: m for m in await app.store.send_messages(scripted_send.id)}
    for number, sms in zip(numbers, scripted, strict=True):
        app.bsg.set_status(by_msisdn[number.lstrip("+")].reference, "not_viber_user", sms)

    async def everything_final() -> bool:
        sends = await app.store.recent_sends(4)
        return all([m.final for s in sends for m in await app.store.send_messages(s.id)])

    for _ in range(8):  # through every lifecycle step, one sweep at a time
        clock.advance(6)
        await app.sweeps_after(1)
    await app.wait_for(everything_final)
    messages = {
        m.msisdn: m
        for s in await app.store.recent_sends(4)
        for m in await app.store.send_messages(s.id)
    }
    assert messages["380972920288"].status == DeliveryStatus.READ
    assert messages["380972920284"].status == DeliveryStatus.UNDELIVERED
    assert messages["380972920289"].status == DeliveryStatus.REJECTED
    assert messages["380972920283"].sms_status == DeliveryStatus.DELIVERED
    assert messages["380972920287"].sms_status == DeliveryStatus.UNDELIVERED
    assert messages["380972920282"].status == DeliveryStatus.DELIVERED
    assert messages["380972920285"].status == DeliveryStatus.EXPIRED
    for number, sms in zip(numbers, scripted, strict=True):
        assert messages[number.lstrip("+")].sms_status == DeliveryStatus(sms)
    await app.settle()
    before = status_gets(app)
    assert set(before) == {m.bsg_id for m in messages.values() if m.bsg_id}
    by_reference = app.bsg.status_by_reference_calls
    for _ in range(6):  # at least 5 poll intervals, with the clock far past every window
        clock.advance(3600)
        await app.sweeps_after(1)
    assert status_gets(app) == before
    assert app.bsg.status_by_reference_calls == by_reference


async def test_a_bug_in_reconciliation_is_logged_as_a_bug_not_as_bsg_degraded(
    app, clock, caplog, monkeypatch
):
    async def broken(**_: object) -> int:
        raise RuntimeError("reconciliation bug")

    monkeypatch.setattr(app.bot.sending, "reconcile", broken)
    await app.command("send +380972920280 Still tracked")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    clock.advance(6)
    await app.sweeps_after(2)
    status, body = await app.bot.health()
    assert status == 200 and body["status"] == "degraded"
    assert body["bsg"] == "ok" and "bsg_error" not in body
    assert body["reconciliation"] == "error: RuntimeError: reconciliation bug"
    bugs = [r for r in caplog.records if "a bug in viber-bot" in r.getMessage()]
    assert bugs and bugs[0].levelno == logging.ERROR and bugs[0].exc_info
    # The sweep went on: the message was still polled and its change announced.
    await app.wait_for(lambda: any("Delivered" in r for r in app.replies()))
    monkeypatch.undo()
    await app.sweeps_after(1)
    assert "reconciliation" not in (await app.bot.health())[1]


async def test_an_answer_recorded_late_in_a_sweep_is_looked_at_again_by_the_next_sweep(
    make_bot, clock, monkeypatch
):
    """Sweeps run on a fixed grid of ticks. A look whose answer comes late in its sweep is
    due again one interval after the sweep's tick, not after the answer: the very next sweep
    looks again. (Counted from the answer, the next tick would just miss it and the look would
    wait a whole extra interval.)"""
    interval = 60.0  # the scheduler's own next sweep is a minute away: this test runs them
    app = await make_bot(VIBER_BOT_POLL_INTERVAL=interval, VIBER_BOT_POLL_MAX_INTERVAL=interval)
    await app.sweeps_after(1)  # the start's sweep is over
    bot = app.bot
    # A grid whose tick is now: every sweep_tick() below is in the same cell of wall time, so
    # a tick moves only with the test's clock.
    bot.grid = Grid(utcnow(), timedelta(seconds=interval))
    await app.command("send +380972920285 Quiet")  # lifecycle 5: sent, then nothing
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    [message] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)

    status_by_id = bot.poller.bsg.status_by_id
    asked: list[str] = []

    async def slow(bsg_id: str):
        answer = await status_by_id(bsg_id)
        asked.append(bsg_id)
        clock.advance(7)  # BSG's answer comes late in the sweep
        return answer

    monkeypatch.setattr(bot.poller.bsg, "status_by_id", slow)
    clock.advance(interval + 5)  # the message is due (its first look: one interval after)
    first_tick = bot.sweep_tick()
    await bot._sweep_job()
    assert asked == [message.bsg_id]
    [looked] = await app.store.send_messages(message.send_id)
    assert looked.next_poll_at == first_tick + timedelta(seconds=interval)

    clock.advance(interval - 7)  # the next tick, whatever the first answer's lateness
    assert bot.sweep_tick() == first_tick + timedelta(seconds=interval)
    await bot._sweep_job()
    assert asked == [message.bsg_id, message.bsg_id]
