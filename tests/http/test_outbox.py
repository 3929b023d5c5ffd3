"""The Slack outbox through the running app: Retry-After forms, response_url, dead rows."""

from __future__ import annotations

import asyncio
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


async def queue_posts(app, send_id: int, now, *posts: str) -> None:
    """Queue these in C123 in one transaction, then wake the outbox: "update" is a parent
    update, any other text a thread reply saying it."""
    async with app.store.atomic():
        for post in posts:
            update = post == "update"
            await app.store.enqueue(
                channel_id="C123",
                kind="update" if update else "reply",
                payload={"send_id": send_id} if update else {"send_id": send_id, "text": post},
                now=now,
                send_id=send_id,
            )
    app.bot.outbox.wake()


async def test_a_parent_update_does_not_take_the_channels_posting_turn(make_bot, clock):
    """chat.update is limited apart from chat.postMessage: an update queued before a reply
    goes beside it, not one posting interval ahead of it (nor after it)."""
    # Long beside the test: the clock (real time plus an offset) moves on only when told.
    app = await make_bot(VIBER_BOT_SLACK_POST_INTERVAL=30, VIBER_BOT_SLACK_POST_BURST=1)
    await app.command("send +380972920285 Quiet one")  # lifecycle 5: sent, then nothing
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    await app.settle()
    clock.advance(30)  # the parent's posting interval is over
    send = (await app.store.recent_sends(1))[0]
    await queue_posts(app, send.id, clock(), "update", "first reply", "second reply")
    await app.wait_for(lambda: app.slack.calls_to("chat.update"))
    await app.wait_for(lambda: "first reply" in app.replies())
    await app.sweeps_after(1)
    # One post per channel per interval: the second reply waits for the clock, the update did not.
    assert app.replies() == ["first reply"]
    clock.advance(30)
    app.bot.outbox.wake()
    await app.wait_for(lambda: app.replies() == ["first reply", "second reply"])


async def test_a_quiet_channel_takes_a_short_burst_then_one_post_an_interval(make_bot, clock):
    """Slack allows a channel one post a second with short bursts: after a quiet spell two
    replies go together (a two-recipient send's), the third waits for the interval."""
    app = await make_bot(VIBER_BOT_SLACK_POST_INTERVAL=30)  # burst: the default, 2
    await app.command("send +380972920285 Quiet one")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    await app.settle()
    clock.advance(60)  # quiet long enough for the whole burst
    send = (await app.store.recent_sends(1))[0]
    await queue_posts(app, send.id, clock(), "first reply", "second reply", "third reply")
    await app.wait_for(lambda: app.replies() == ["first reply", "second reply"])
    await app.sweeps_after(1)
    assert app.replies() == ["first reply", "second reply"]  # the third waits its turn
    clock.advance(30)
    app.bot.outbox.wake()
    await app.wait_for(lambda: app.replies() == ["first reply", "second reply", "third reply"])
    # Posted at the burst's pace, the rest go one an interval: no burst right after a burst.
    clock.advance(5)
    await queue_posts(app, send.id, clock(), "fourth reply", "fifth reply")
    await app.sweeps_after(1)
    assert "fourth reply" not in app.replies()
    clock.advance(30)
    app.bot.outbox.wake()
    await app.wait_for(lambda: "fourth reply" in app.replies())
    await app.sweeps_after(1)
    assert "fifth reply" not in app.replies()


async def test_channels_are_posted_to_at_once(make_bot, clock):
    """A slow answer in one channel holds no other channel's post."""
    app = await make_bot()
    channels = ["C1", "C2", "C3"]
    for channel in channels:
        await app.command("send +380972920285 Quiet one", channel_id=channel)
    await app.wait_for(lambda: all(app.slack.channel_messages(c) for c in channels))
    await app.settle()
    sends = {s.channel_id: s for s in await app.store.recent_sends(10)}
    app.slack.delay("chat.postMessage", 1.0)
    started = asyncio.get_running_loop().time()
    async with app.store.atomic():
        for channel in channels:
            await app.store.enqueue(
                channel_id=channel,
                kind="reply",
                payload={"send_id": sends[channel].id, "text": f"to {channel}"},
                now=clock(),
                send_id=sends[channel].id,
            )
    app.bot.outbox.wake()
    await app.wait_for(lambda: all(app.replies(c) for c in channels))
    # One by one they would take 3 s; at once, one delay and a little.
    assert asyncio.get_running_loop().time() - started < 2.5
