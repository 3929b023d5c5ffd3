"""The Slack outbox through the running app: Retry-After forms, response_url, dead rows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


def outbox_errors(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.slack.outbox" and r.levelno >= logging.ERROR
    ]


async def test_response_url_retry_after_as_an_http_date_is_honoured(app, caplog):
    caplog.set_level(logging.INFO, logger="bot.slack.outbox")
    url = app.slack.response_url()
    app.bsg.registered_senders = frozenset({"Other"})  # BSG refuses the sender: code 45
    app.slack.fail_next("response_url", 1, retry_after=http_date(1))
    await app.command("send +380972920280 Refused sender", response_url=url)
    notes = await app.wait_for(
        lambda: [r for r in app.slack.responses_to(url) if "code 45" in r.get("text", "")],
        timeout=15,
    )
    await app.settle()
    assert len(notes) == 1 and notes[0]["response_type"] == "ephemeral"
    assert await app.metric("viber_bot_slack_ratelimited_total") >= 1
    assert app.slack.calls_to("chat.postEphemeral") == []  # the response_url took it
    assert outbox_errors(caplog) == []


async def test_web_api_retry_after_as_an_http_date_is_honoured(app, caplog):
    caplog.set_level(logging.INFO, logger="bot.slack.outbox")
    app.slack.fail_next("chat.postMessage", 1, retry_after=http_date(1))
    await app.command("send +380972920280 Posted after the date")
    await app.wait_for(lambda: app.slack.channel_messages("C123"), timeout=15)
    await app.settle()
    assert len(app.slack.channel_messages("C123")) == 1
    assert await app.metric("viber_bot_slack_ratelimited_total") >= 1
    [item] = [i for i in await app.store.outbox_items() if i.kind == "parent"]
    assert item.state == "done"
    assert outbox_errors(caplog) == []


async def test_a_row_failing_on_our_side_is_set_aside_as_dead_after_bounded_tries(
    make_bot, clock, caplog
):
    caplog.set_level(logging.INFO, logger="bot.slack.outbox")
    app = await make_bot(VIBER_BOT_OUTBOX_MAX_ATTEMPTS=3)
    await app.command("send +380972920285 Quiet one")  # lifecycle 5: sent, then nothing
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    await app.settle()
    send = (await app.store.recent_sends(1))[0]
    # A reply row without its text: no retry can ever post it (as a bug would leave one).
    bad = await app.store.enqueue(
        channel_id="C123", kind="reply", payload={"send_id": send.id}, now=clock(), send_id=send.id
    )
    app.bot.outbox.wake()
    for tries in (1, 2):

        async def tried(t: int = tries) -> bool:
            return (await app.store.get_outbox(bad)).attempts >= t

        await app.wait_for(tried)
        assert (await app.store.get_outbox(bad)).state == "pending"
        clock.advance(6)  # past the 5 s before a failed row is tried again
        app.bot.outbox.wake()

    async def condition() -> object:
        return (await app.store.get_outbox(bad)).state == "dead"

    await app.wait_for(condition)
    item = await app.store.get_outbox(bad)
    assert item.attempts == 3 and item.last_error.startswith("KeyError")
    assert any("set aside as dead" in r.getMessage() for r in caplog.records)
    health = (await app.http.get(f"{app.url}/healthz")).json()
    assert health["outbox_dead"] == 1
    metrics = (await app.http.get(f"{app.url}/metrics")).text
    assert 'viber_bot_outbox_dead_total{kind="reply",reason="failed"} 1.0' in metrics
    # Never tried again, and the channel's later posts are no longer held behind it.
    [message] = await app.store.send_messages(send.id)
    app.bsg.set_status(message.reference, "delivered")
    clock.advance(60)
    await app.wait_for(lambda: any("Delivered" in r for r in app.replies()))
    await app.sweeps_after(3)
    assert (await app.store.get_outbox(bad)).attempts == 3
