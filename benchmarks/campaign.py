"""Benchmark: one modal send to 1,000 recipients, end to end.

The app runs as in production (`bot.app.serve`, HTTP mode) in a child process, the BSG
simulator and the Slack stand-in in another (`benchmarks.ack_load`). This process submits one
signed `view_submission` of the send modal (the per-send recipient limit raised for the run),
then times until every recipient's BSG id is stored, and counts the create requests and the
Slack calls the campaign caused over the send and a couple of sweeps after it.

    python -m benchmarks.campaign                        # 1,000 recipients, BSG 1 s per create
    python -m benchmarks.campaign --recipients 200 --create-delay 0.2
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks import print_metrics, print_table, verdict
from benchmarks.ack_load import (
    CHANNEL,
    SIGNING_SECRET,
    USER,
    AppProcess,
    Fakes,
    app_env,
    wait_until,
)

BATCH = 50  # BSG's recipients per message object (VIBER_BOT_BSG_BATCH_SIZE)
RATIO_TARGET = 1.25
MAX_UPDATES = 3
DIGITS = "8250"  # read at 2 s, delivered at 5 s, sent forever, read at 30 s (simulator defaults)


def create_concurrency() -> int:
    """Creates the app's BSG client has under way at once (BsgClient's default)."""
    from bot.bsg.client import BsgClient

    return int(inspect.signature(BsgClient).parameters["create_concurrency"].default)


async def _submit(url: str, msisdns: list[str]) -> tuple[int, float]:
    from tests.slack_requests import state_value, view_submission

    body, headers = view_submission(
        SIGNING_SECRET,
        values={
            "recipients": state_value("plain_text_input", "\n".join(f"+{m}" for m in msisdns)),
            "text": state_value("plain_text_input", "Your order has shipped"),
        },
        private_metadata=json.dumps({"channel_id": CHANNEL}),
        user_id=USER,
    )
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        started = time.perf_counter()
        response = await http.post(f"{url}/slack/events", content=body, headers=headers)
        return response.status_code, (time.perf_counter() - started) * 1000


async def run(
    recipients: int,
    create_delay: float,
    concurrency: int,
    sweeps: int,
    poll_interval: float,
    workdir: Path,
) -> dict[str, Any]:
    fakes = Fakes(create_delay=create_delay)
    app = None
    msisdns = [f"38097{index:06d}{DIGITS[index % len(DIGITS)]}" for index in range(recipients)]
    try:
        app = AppProcess(
            app_env(
                fakes,
                workdir / "campaign.db",
                VIBER_BOT_MAX_RECIPIENTS=max(100, recipients),
                # The campaign measures the send itself, not the review step before it.
                VIBER_BOT_REVIEW_ABOVE=max(100, recipients),
                VIBER_BOT_POLL_INTERVAL=poll_interval,
            )
        )
        started = time.perf_counter()
        status, ack_ms = await _submit(app.url, msisdns)
        stored_sql = "SELECT count(*) FROM messages WHERE bsg_id IS NOT NULL"
        batches = math.ceil(recipients / BATCH)
        ideal = math.ceil(batches / concurrency) * create_delay
        await wait_until(
            lambda: app.query(stored_sql) >= recipients, within=batches * create_delay + 60
        )
        stored_s = time.perf_counter() - started
        stored = app.query(stored_sql)
        # A couple of sweeps after the last id is stored, then the outbox drained.
        sweeps_before = app.query("SELECT count(*) FROM sweeps")
        await wait_until(
            lambda: app.query("SELECT count(*) FROM sweeps") >= sweeps_before + sweeps,
            within=poll_interval * (sweeps + 2) + 60,
            step=0.2,
        )
        await wait_until(
            lambda: app.query("SELECT count(*) FROM outbox WHERE state = 'pending'") == 0,
            within=60,
            step=0.2,
        )
        observed_s = time.perf_counter() - started
        changed = app.query("SELECT count(*) FROM messages WHERE status != 'sent'")
        stats = fakes.stats()
        app.stop()
        app = None
    finally:
        if app is not None:
            app.stop()
        fakes.stop()
    return {
        "recipients": recipients,
        "create_delay_s": create_delay,
        "create_concurrency": concurrency,
        "ack_status": status,
        "ack_ms": ack_ms,
        "create_requests": stats["create_calls"],
        "batches_expected": batches,
        "stored_ids": stored,
        "all_stored_s": stored_s,
        "ideal_s": ideal,
        "ratio": stored_s / ideal if ideal else float("nan"),
        "sequential_ideal_s": batches * create_delay,
        "observed_s": observed_s,
        "messages_changed": changed,
        "slack_parent_posts": stats["slack_parents"],
        "slack_updates": stats["slack_updates"],
        "slack_thread_posts": stats["slack_replies"],
        "slack_ephemeral": stats["slack_ephemeral"],
        "slack_calls": sum(stats["slack_methods"].values()),
        "slack_methods": ",".join(f"{k}:{v}" for k, v in sorted(stats["slack_methods"].items())),
    }


def missed(f: dict[str, Any]) -> bool:
    return (
        f["stored_ids"] != f["recipients"]
        or f["create_requests"] != f["batches_expected"]
        or f["ratio"] > RATIO_TARGET
        or f["slack_parent_posts"] != 1
        or f["slack_updates"] > MAX_UPDATES
        or f["slack_thread_posts"] > f["slack_updates"] + 3
    )


def report(f: dict[str, Any]) -> list[list[object]]:
    return [
        [
            f"create requests, {f['recipients']:,} recipients (<= {BATCH} each)",
            f["create_requests"],
            f"{f['batches_expected']}",
            "ok" if f["create_requests"] == f["batches_expected"] else "MISSED",
        ],
        [
            f"all ids stored (s), {f['create_concurrency']} creates at once",
            f"{f['all_stored_s']:.2f}",
            f"ideal {f['ideal_s']:.2f} (one by one {f['sequential_ideal_s']:.0f})",
            "",
        ],
        [
            "stored / ideal",
            f"{f['ratio']:.3f}",
            f"<= {RATIO_TARGET}",
            verdict(f["ratio"], RATIO_TARGET),
        ],
        [
            "Slack: parent posts / updates",
            f"{f['slack_parent_posts']} / {f['slack_updates']}",
            f"1 / <= {MAX_UPDATES}",
            "ok"
            if f["slack_parent_posts"] == 1 and f["slack_updates"] <= MAX_UPDATES
            else "MISSED",
        ],
        [
            "Slack: thread posts (no per-recipient posts)",
            f["slack_thread_posts"],
            f"<< {f['recipients']}",
            "ok" if f["slack_thread_posts"] <= f["slack_updates"] + 3 else "MISSED",
        ],
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.campaign",
        description="One modal send to many recipients: creates, time to stored ids, Slack calls.",
    )
    parser.add_argument("--recipients", type=int, default=1_000, help="recipients (1000)")
    parser.add_argument(
        "--create-delay", type=float, default=1.0, help="seconds BSG takes per create (1)"
    )
    parser.add_argument("--sweeps", type=int, default=2, help="sweeps watched after (2)")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="sweep interval (2 s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.recipients < 1 or args.create_delay < 0:
        parser.error("--recipients must be >= 1, --create-delay >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from bot import runtime

    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="viber-bot-bench-") as workdir:
        figures = runtime.run(
            run(
                args.recipients,
                args.create_delay,
                create_concurrency(),
                args.sweeps,
                args.poll_interval,
                Path(workdir),
            )
        )
    print_metrics("campaign", list(figures.items()))
    print_table(
        f"campaign: one modal send to {args.recipients:,} recipients, "
        f"BSG takes {args.create_delay:g} s per create",
        ["figure", "measured", "target", ""],
        report(figures),
    )
    return 1 if args.strict and missed(figures) else 0


if __name__ == "__main__":
    sys.exit(main())
