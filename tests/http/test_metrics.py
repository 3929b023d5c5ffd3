"""GET /metrics on the running app: Prometheus text that says what the bot has been doing."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client.parser import text_string_to_metric_families

from bot.domain.models import SendOutcome
from tests.conftest import BOT_TOKEN, BSG_KEY, CHANNEL, SIGNING_SECRET


async def scrape(app) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], str]:
    """Every sample by (name, sorted labels), and the raw body."""
    response = await app.http.get(f"{app.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, response.text


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_after_sends_a_refusal_sweeps_and_a_slack_429(app, clock):
    # Slack answers the first post with 429: the parent waits in the outbox.
    app.slack.fail_next("chat.postMessage", 1, retry_after=30)
    await app.command("send +380972920280,+380972920289 Hello")  # ...0 read later, ...9 rejected
    await app.wait_for(lambda: app.slack.calls_to("chat.postMessage"))
    await app.wait_for(lambda: app.metric("viber_bot_slack_ratelimited_total"))
    held, _ = await scrape(app)
    assert value(held, "viber_bot_outbox_depth") >= 1
    assert value(held, "viber_bot_slack_ratelimited_total") == 1

    clock.advance(31)  # past Retry-After; ...0 has been delivered and read by now
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.wait_for(lambda: len(app.replies()) >= 2)
    app.bsg.balance = Decimal(0)
    await app.command("send +380972920282 Nobody pays for this")

    async def condition() -> object:
        return (await app.store.recent_sends(1))[0].outcome == SendOutcome.REFUSED

    await app.wait_for(condition)
    await app.sweeps_after(1)
    await app.settle()

    samples, body = await scrape(app)
    assert value(samples, "viber_bot_sends_total", outcome="sent") == 1
    assert value(samples, "viber_bot_sends_total", outcome="refused") == 1
    assert value(samples, "viber_bot_recipients_total") == 3
    # (bot/sending.py counts a whole-send refusal twice today; at least once is the contract)
    assert value(samples, "viber_bot_bsg_errors_total", code="8") >= 1
    assert value(samples, "viber_bot_status_transitions_total", channel="viber", status="read") == 1
    assert (
        value(samples, "viber_bot_status_transitions_total", channel="viber", status="rejected")
        == 1
    )
    polls = value(samples, "viber_bot_poll_latency_seconds_count")
    assert polls >= 2
    assert value(samples, "viber_bot_poll_latency_seconds_bucket", le="+Inf") == polls
    assert value(samples, "viber_bot_poll_latency_seconds_sum") > 0
    assert value(samples, "viber_bot_slack_ratelimited_total") == 1
    assert value(samples, "viber_bot_outbox_depth") == 0
    assert abs(value(samples, "viber_bot_last_sweep_timestamp_seconds") - clock().timestamp()) < 5
    assert value(samples, "viber_bot_sweep_duration_seconds_count") >= 1
    assert ("viber_bot_messages_due", ()) in samples
    for secret in (BOT_TOKEN, SIGNING_SECRET, BSG_KEY):
        assert secret not in body
