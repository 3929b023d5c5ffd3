"""Benchmark: a 10,000-number saved list and a 10,000-row CSV file, end to end.

The app runs as in production (`bot.app.serve`, HTTP mode) in a child process, the BSG
simulator and the Slack stand-in in another (`benchmarks.ack_load`). This process
1. fills a list with `/viber list add bench <1,000 numbers>` commands, timing each answer;
2. sends `/viber send @bench …` and times until every recipient's BSG id is stored;
3. uploads a CSV of as many rows (phone, name, order: every row's text is its own) to the
   stand-in, submits the send modal with it, and times the ack (download, parse, render and
   storing happen before it) and the send, against the campaign benchmark's ideal: creates of
   50 recipients, `create_concurrency` at once, each taking `--create-delay`.

    python -m benchmarks.audiences                     # 10,000 numbers, BSG 0.5 s per create
    python -m benchmarks.audiences --numbers 300 --create-delay 0.02
"""

from __future__ import annotations

import argparse
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
from benchmarks.campaign import BATCH, RATIO_TARGET, create_concurrency

CHUNK = 1_000  # numbers per `/viber list add` command
ACK_TARGET_MS = 3_000  # Slack's hard limit for any answer


def _numbers(start: int, count: int) -> list[str]:
    return [f"38097{index:07d}" for index in range(start, start + count)]


async def _post(http: httpx.AsyncClient, url: str, request: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await http.post(f"{url}/slack/events", content=request.body, headers=request.headers)
    return response, (time.perf_counter() - started) * 1000


def _stored(app: AppProcess) -> int:
    return app.query(
        "SELECT count(*) FROM messages WHERE bsg_id IS NOT NULL "
        "AND send_id = (SELECT max(id) FROM sends)"
    )


async def run(numbers: int, create_delay: float, concurrency: int, workdir: Path) -> dict[str, Any]:
    from tests.slack_requests import slash_command, state_value, view_submission

    fakes = Fakes(create_delay=create_delay)
    app = None
    batches = math.ceil(numbers / BATCH)
    ideal = math.ceil(batches / concurrency) * create_delay
    figures: dict[str, Any] = {"numbers": numbers, "create_delay_s": create_delay}
    try:
        app = AppProcess(
            app_env(
                fakes,
                workdir / "audiences.db",
                VIBER_BOT_MAX_RECIPIENTS=max(100, numbers),
                VIBER_BOT_REVIEW_ABOVE=numbers,  # measured here: the send itself, not a review
                # No sweep during the run: polling 10,000 messages would compete with the sends.
                VIBER_BOT_POLL_INTERVAL=3600,
            )
        )
        async with httpx.AsyncClient(timeout=60, trust_env=False) as http:
            # 1. The list, 1,000 numbers per command.
            acks: list[float] = []
            started = time.perf_counter()
            for start in range(0, numbers, CHUNK):
                chunk = " ".join(f"+{m}" for m in _numbers(start, min(CHUNK, numbers - start)))
                request = slash_command(
                    SIGNING_SECRET, text=f"list add bench {chunk}", user_id=USER, channel_id=CHANNEL
                )
                response, ms = await _post(http, app.url, request)
                assert response.status_code == 200 and "bench" in response.json()["text"]
                acks.append(ms)
            figures["list_add_s"] = time.perf_counter() - started
            figures["list_add_commands"] = len(acks)
            figures["list_add_max_ack_ms"] = max(acks)
            figures["list_size"] = app.query("SELECT count(*) FROM list_members")

            # 2. Send to the list.
            creates_before = fakes.stats()["create_calls"]
            request = slash_command(
                SIGNING_SECRET, text="send @bench Your parcel is ready", user_id=USER,
                channel_id=CHANNEL,
            )  # fmt: skip
            started = time.perf_counter()
            response, figures["list_send_ack_ms"] = await _post(http, app.url, request)
            assert response.status_code == 200, response.text
            await wait_until(lambda: _stored(app) >= numbers, within=batches * create_delay + 120)
            figures["list_send_s"] = time.perf_counter() - started
            figures["list_send_stored"] = _stored(app)
            figures["list_send_creates"] = fakes.stats()["create_calls"] - creates_before

            # 3. A CSV with a text of its own for every row.
            rows = ["phone,name,order"] + [
                f"+{m},Customer {n},A-{n:05d}" for n, m in enumerate(_numbers(numbers, numbers))
            ]
            csv_bytes = ("\r\n".join(rows) + "\r\n").encode()
            file = fakes.add_file(csv_bytes, "customers.csv")
            body, headers = view_submission(
                SIGNING_SECRET,
                values={
                    "recipients": state_value("plain_text_input", ""),
                    "recipients_file": state_value("file_input", [file]),
                    "text": state_value("plain_text_input", "Hello {name}, order {order} is ready"),
                },
                private_metadata=json.dumps({"channel_id": CHANNEL}),
                user_id=USER,
            )
            creates_before = fakes.stats()["create_calls"]
            started = time.perf_counter()
            response = await http.post(f"{app.url}/slack/events", content=body, headers=headers)
            figures["csv_ack_ms"] = (time.perf_counter() - started) * 1000
            figures["csv_ack_status"] = response.status_code
            figures["csv_ack_body"] = response.text[:200] or "(empty: accepted)"
            await wait_until(lambda: _stored(app) >= numbers, within=batches * create_delay + 120)
            figures["csv_send_s"] = time.perf_counter() - started
            figures["csv_send_stored"] = _stored(app)
            figures["csv_send_creates"] = fakes.stats()["create_calls"] - creates_before
            figures["csv_bytes"] = len(csv_bytes)
            figures["csv_distinct_texts"] = app.query(
                "SELECT count(DISTINCT text) FROM messages "
                "WHERE send_id = (SELECT max(id) FROM sends)"
            )
        app.stop()
        app = None
    finally:
        if app is not None:
            app.stop()
        fakes.stop()
    figures["create_concurrency"] = concurrency
    figures["batches_expected"] = batches
    figures["ideal_s"] = ideal
    figures["list_send_ratio"] = figures["list_send_s"] / ideal if ideal else float("nan")
    figures["csv_send_ratio"] = figures["csv_send_s"] / ideal if ideal else float("nan")
    return figures


def missed(f: dict[str, Any]) -> bool:
    return (
        f["list_size"] != f["numbers"]
        or f["list_send_stored"] != f["numbers"]
        or f["csv_send_stored"] != f["numbers"]
        or f["csv_distinct_texts"] != f["numbers"]
        or f["csv_send_creates"] != f["batches_expected"]
        or f["list_send_creates"] != f["batches_expected"]
        or f["list_send_ratio"] > RATIO_TARGET
        or f["csv_send_ratio"] > RATIO_TARGET
        or f["csv_ack_ms"] > ACK_TARGET_MS
        or f["list_add_max_ack_ms"] > ACK_TARGET_MS
    )


def report(f: dict[str, Any]) -> list[list[object]]:
    n = f"{f['numbers']:,}"
    return [
        [f"list add, {n} numbers ({f['list_add_commands']} commands)", f"{f['list_add_s']:.2f} s",
         "", ""],
        ["list add: slowest answer (ms)", f"{f['list_add_max_ack_ms']:.0f}",
         f"<= {ACK_TARGET_MS}", verdict(f["list_add_max_ack_ms"], ACK_TARGET_MS)],
        [f"send @list to {n}: all ids stored (s)", f"{f['list_send_s']:.2f}",
         f"ideal {f['ideal_s']:.2f}", ""],
        ["send @list: stored / ideal", f"{f['list_send_ratio']:.3f}", f"<= {RATIO_TARGET}",
         verdict(f["list_send_ratio"], RATIO_TARGET)],
        [f"CSV of {n} rows: modal ack (download, parse, render, store)",
         f"{f['csv_ack_ms']:.0f} ms", f"<= {ACK_TARGET_MS}",
         verdict(f["csv_ack_ms"], ACK_TARGET_MS)],
        [f"CSV: all ids stored (s), {f['csv_distinct_texts']:,} distinct texts",
         f"{f['csv_send_s']:.2f}", f"ideal {f['ideal_s']:.2f}", ""],
        ["CSV: stored / ideal", f"{f['csv_send_ratio']:.3f}", f"<= {RATIO_TARGET}",
         verdict(f["csv_send_ratio"], RATIO_TARGET)],
        ["creates (list / CSV), <= 50 recipients each",
         f"{f['list_send_creates']} / {f['csv_send_creates']}", f"{f['batches_expected']}",
         "ok" if f["list_send_creates"] == f["csv_send_creates"] == f["batches_expected"]
         else "MISSED"],
    ]  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.audiences",
        description="A saved list and a CSV file of many numbers: add, send, parse and render.",
    )
    parser.add_argument("--numbers", type=int, default=10_000, help="list size and CSV rows")
    parser.add_argument(
        "--create-delay", type=float, default=0.5, help="seconds BSG takes per create (0.5)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.numbers < 1 or args.create_delay <= 0:
        parser.error("--numbers must be >= 1, --create-delay > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from bot import runtime

    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="viber-bot-bench-") as workdir:
        figures = runtime.run(
            run(args.numbers, args.create_delay, create_concurrency(), Path(workdir))
        )
    print_metrics("audiences", list(figures.items()))
    print_table(
        f"audiences: a list and a CSV of {args.numbers:,} numbers, "
        f"BSG takes {args.create_delay:g} s per create",
        ["figure", "measured", "target", ""],
        report(figures),
    )
    return 1 if args.strict and missed(figures) else 0


if __name__ == "__main__":
    sys.exit(main())
