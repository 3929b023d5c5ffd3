"""Benchmark: a `block_actions` estimate update is answered at once while BSG prices slowly.

The app runs as in production in a child process; the BSG simulator (every `/viber/price`
held `--price-delay` seconds) and the Slack stand-in run in another. This process opens the
send modal with a signed slash command, then types into it: signed `block_actions` for the
`recipients` input, each with a different list (so no price comes from the cache), and times
each HTTP answer. The estimate itself arrives later by views.update; the run also checks that
the last change's price was shown.

    python -m benchmarks.estimate_update                  # 200 changes, 10 in flight, 1 s price
    python -m benchmarks.estimate_update --changes 20 --in-flight 4 --price-delay 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
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
    percentile,
    wait_until,
)

P99_TARGET_MS = 300.0


def _estimate_text(view: dict[str, Any] | None) -> str:
    for block in (view or {}).get("blocks") or []:
        if block.get("block_id") == "estimate":
            return " ".join(e.get("text", "") for e in block.get("elements") or [])
    return ""


async def run(changes: int, in_flight: int, price_delay: float, workdir: Path) -> dict[str, Any]:
    from bot.devtools.slack_requests import slash_command, view_values
    from tests.slack_requests import block_action

    fakes = Fakes(price_delay=price_delay)
    app = None
    try:
        app = AppProcess(
            app_env(fakes, workdir / "estimate.db", VIBER_BOT_ESTIMATE_TIMEOUT=price_delay + 2)
        )
        times: list[float] = []
        failures = 0
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            body, headers = slash_command(SIGNING_SECRET, text="", user_id=USER, channel_id=CHANNEL)
            await http.post(f"{app.url}/slack/events", content=body, headers=headers)
            await wait_until(lambda: fakes.opened_view() is not None, within=10)
            view = fakes.opened_view()
            limit = asyncio.Semaphore(in_flight)

            async def change(number: int) -> None:
                nonlocal failures
                # A list one longer each time: every change is a new question for BSG.
                recipients = ", ".join(f"+38097{n:07d}0" for n in range(number + 1))
                values = {"recipients": recipients, "text": "Your order has shipped"}
                state = {"values": view_values(values, view["blocks"])}
                request = block_action(
                    SIGNING_SECRET, action_id="recipients", view=dict(view, state=state)
                )
                async with limit:
                    started = time.perf_counter()
                    response = await http.post(
                        f"{app.url}/slack/events", content=request.body, headers=request.headers
                    )
                    times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    failures += 1

            started = time.perf_counter()
            await asyncio.gather(*(change(n) for n in range(changes - 1)))
            # The last change comes after the others were answered, as a person's last edit
            # does: sent together, requests may arrive in any order, and whichever came last
            # is what the modal rightly shows.
            await change(changes - 1)
            typed_s = time.perf_counter() - started
            last = f"*{changes} recipients*"
            shown = await wait_until(
                lambda: (
                    last in _estimate_text(fakes.view(view["id"]))
                    and "EUR" in _estimate_text(fakes.view(view["id"]))
                ),
                within=price_delay * 3 + 30,
                step=0.1,
            )
            shown_s = time.perf_counter() - started
        stats = fakes.stats()
        return {
            "changes": changes,
            "in_flight": in_flight,
            "price_delay_s": price_delay,
            "p50_ms": statistics.median(times),
            "p95_ms": percentile(times, 0.95),
            "p99_ms": percentile(times, 0.99),
            "max_ms": max(times),
            "http_failures": failures,
            "typed_s": typed_s,
            "last_estimate_shown": int(bool(shown)),
            "last_estimate_s": shown_s,
            "bsg_price_calls": stats["price_calls"],
            "views_update_calls": stats["views_update"],
        }
    finally:
        if app is not None:
            app.stop()
        fakes.stop()


def main(argv: Sequence[str] | None = None) -> int:
    from bot import runtime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--price-delay", type=float, default=1.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-estimate-") as workdir:
        figures = runtime.run(run(args.changes, args.in_flight, args.price_delay, Path(workdir)))
    figures["ratio_p99_to_target"] = figures["p99_ms"] / P99_TARGET_MS
    print_metrics("estimate_update", figures.items())
    print_table(
        f"Estimate update: {figures['changes']} block_actions, {figures['in_flight']} in flight, "
        f"BSG price {figures['price_delay_s']} s",
        ["figure", "measured", "target", ""],
        [
            [
                "ack p50 / p95 / p99 (ms)",
                f"{figures['p50_ms']:.0f} / {figures['p95_ms']:.0f} / {figures['p99_ms']:.0f}",
                f"p99 < {P99_TARGET_MS:.0f}",
                verdict(figures["p99_ms"], P99_TARGET_MS),
            ],
            ["p99 / target", f"{figures['ratio_p99_to_target']:.2f}", "<= 1", ""],
            [
                "last change's price shown (s after the first change)",
                f"{figures['last_estimate_s']:.2f}" if figures["last_estimate_shown"] else "NO",
                "shown",
                "ok" if figures["last_estimate_shown"] else "MISSED",
            ],
            [
                "BSG price calls / views.update calls",
                f"{figures['bsg_price_calls']} / {figures['views_update_calls']}",
                "",
                "",
            ],
        ],
    )
    ok = figures["http_failures"] == 0 and figures["last_estimate_shown"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
