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
    assert app.bot.metrics.slack_ratelimited._value.get() >= 1
    assert app.slack.calls_to("chat.postEphemeral") == []  # the response_url took it
    assert outbox_errors(caplog) == []


async def test_web_api_retry_after_as_an_http_date_is_honoured(app, caplog):
    caplog.set_level(logging.INFO, logger="bot.slack.outbox")
    app.slack.fail_next("chat.postMessage", 1, retry_after=http_date(1))
    await app.command("send +380972920280 Posted after the date")
    await app.wait_for(lambda: app.slack.channel_messages("C123"), timeout=15)
    await app.settle()
    assert len(app.slack.channel_messages("C123")) == 1
    assert app.bot.metrics.slack_ratelimited._value.get() >= 1
    [item] = [i for i in app.store.outbox_items() if i.kind == "parent"]
    assert item.state == "done"
    assert outbox_errors(caplog) == []
