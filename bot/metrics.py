"""Prometheus metrics, one registry per running app (so tests can run several apps at once)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """Every figure `/metrics` exposes."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sends = Counter(
            "viber_bot_sends", "Sends submitted from Slack", ["outcome"], registry=r
        )
        self.recipients = Counter("viber_bot_recipients", "Recipients submitted to BSG", registry=r)
        self.bsg_errors = Counter(
            "viber_bot_bsg_errors", "BSG refusals and failures by code", ["code"], registry=r
        )
        self.transitions = Counter(
            "viber_bot_status_transitions",
            "Observed status changes by channel and status",
            ["channel", "status"],
            registry=r,
        )
        self.poll_latency = Histogram(
            "viber_bot_poll_latency_seconds",
            "Time for one BSG status request",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.sweep_duration = Histogram(
            "viber_bot_sweep_duration_seconds", "Time for one polling sweep", registry=r
        )
        self.slack_ratelimited = Counter(
            "viber_bot_slack_ratelimited", "Slack answers with HTTP 429", registry=r
        )
        self.slack_posts = Counter(
            "viber_bot_slack_posts", "Slack posts made by the outbox", ["kind"], registry=r
        )
        self.outbox_dead = Counter(
            "viber_bot_outbox_dead",
            "Outbox rows set aside as dead (never posted)",
            ["kind", "reason"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "viber_bot_outbox_depth", "Slack posts waiting in the outbox", registry=r
        )
        self.last_sweep = Gauge(
            "viber_bot_last_sweep_timestamp_seconds",
            "Unix time the last polling sweep finished",
            registry=r,
        )
        self.messages_due = Gauge(
            "viber_bot_messages_due", "Messages due for a status check", registry=r
        )

        self.callbacks = Counter(
            "viber_bot_callbacks_received",
            "Delivery callbacks received, by what became of them",
            ["outcome"],
            registry=r,
        )
        self.callbacks_forged = Counter(
            "viber_bot_callbacks_forged", "Callbacks with a token the bot never issued", registry=r
        )
        self.callbacks_coalesced = Counter(
            "viber_bot_callbacks_coalesced",
            "Callbacks that shared a status request with an earlier one",
            registry=r,
        )
        self.callback_post_delay = Histogram(
            "viber_bot_callback_to_post_seconds",
            "Time from a delivery callback to the thread post it caused",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
