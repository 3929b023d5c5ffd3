"""Soak: creates and status checks at full speed over keep-alive connections BSG drops at random.

The real `BsgClient` (its transport, pool and tenacity retries) against the BSG simulator on
127.0.0.1 with no delay, which closes the kept-alive connection after a share of its answers
(`--drop`), so the client keeps meeting connections that were closed under it. What must hold:
no protocol error reaches a caller (every create answered, every status read) or the logs as a
failure (no WARNING from the client), and no number is created twice with different
references. The count of requests that needed a retry is printed.

    python -m benchmarks.soak                            # 500 creates, 5000 status checks
    python -m benchmarks.soak --transport httpx --drop 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from benchmarks import print_metrics, print_table, verdict

API_KEY = "soak_bsg_key_0123456789"
SENDER = "Acme"

for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"


class _Collect(logging.Handler):
    """Every record at WARNING or above from the BSG client."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def run(
    *, creates: int, gets: int, concurrency: int, drop: float, transport: str
) -> dict[str, Any]:
    from pydantic import SecretStr

    from bot.bsg.client import BsgClient
    from bot.bsg.transport import make_transport
    from bot.devtools.simulator import BsgSimulator
    from bot.domain.errors import BsgError
    from bot.domain.models import CreateRequest, MessageContent, Recipient

    simulator = BsgSimulator(api_key=API_KEY, balance=10**9)
    base_url = await simulator.start()
    simulator.drop_connections = drop
    collected = _Collect()
    client_log = logging.getLogger("bot.bsg.client")
    client_log.addHandler(collected)
    client = BsgClient(
        api_key=SecretStr(API_KEY),
        base_url=base_url,
        timeout=10,
        retries=3,
        transport=make_transport(transport, max_connections=concurrency),
    )
    content = MessageContent(text="Soak", sender=SENDER)
    # One recipient per create, each with its own number and reference.
    planned = [(f"38097{index:07d}5", uuid.uuid4().hex) for index in range(creates)]
    ids: dict[str, str] = {}
    failures: list[str] = []
    lookups_after_43 = 0
    limit = asyncio.Semaphore(concurrency)

    async def create(msisdn: str, reference: str) -> None:
        nonlocal lookups_after_43
        async with limit:
            try:
                result = await client.create(
                    CreateRequest(
                        content=content,
                        recipients=(Recipient(msisdn=msisdn, reference=reference),),
                    )
                )
            except BsgError as error:
                failures.append(f"create: {error}")
                return
            [outcome] = result.outcomes
            if outcome.error is not None and outcome.error.code == 43:
                # Taken, answer lost: as the send service does, look it up by reference.
                lookups_after_43 += 1
                try:
                    found = await client.status_by_reference(reference)
                except BsgError as error:
                    failures.append(f"lookup after 43: {error}")
                    return
                if found.bsg_id:
                    ids[reference] = found.bsg_id
                return
            if not outcome.accepted or outcome.bsg_id is None:
                failures.append(f"create: {outcome}")
                return
            ids[reference] = outcome.bsg_id

    async def check(bsg_id: str) -> None:
        async with limit:
            try:
                await client.status_by_id(bsg_id)
            except BsgError as error:
                failures.append(f"status: {error}")

    try:
        started = time.perf_counter()
        await asyncio.gather(*(create(m, r) for m, r in planned))
        created_s = time.perf_counter() - started
        known = list(ids.values())
        checked_started = time.perf_counter()
        if known:
            await asyncio.gather(*(check(known[i % len(known)]) for i in range(gets)))
        checked_s = time.perf_counter() - checked_started
    finally:
        await client.aclose()
        client_log.removeHandler(collected)
        await simulator.stop()
    twice = sum(1 for msisdn, _ in planned if simulator.sent_to(msisdn) != 1)
    return {
        "creates": creates,
        "status_gets": gets,
        "concurrency": concurrency,
        "transport": transport,
        "drop_share": drop,
        "dropped_connections": simulator.dropped_connections,
        "retried_requests": client.retried,
        "lookups_after_43": lookups_after_43,
        "failures_to_callers": len(failures),
        "warnings_logged": len(collected.records),
        "numbers_not_sent_exactly_once": twice,
        "bsg_messages": len(simulator.messages),
        "create_s": created_s,
        "status_s": checked_s,
        "first_failure": failures[0] if failures else "",
        "first_warning": collected.records[0].getMessage() if collected.records else "",
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak",
        description="Creates and status checks over keep-alive connections BSG drops at random.",
    )
    parser.add_argument("--creates", type=int, default=500, help="creates, one number each (500)")
    parser.add_argument("--gets", type=int, default=5000, help="status checks (5000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests under way (32)")
    parser.add_argument(
        "--drop",
        type=float,
        default=0.1,
        help="share of answers after which BSG closes the kept-alive connection (0.1)",
    )
    parser.add_argument(
        "--transport",
        choices=["aiohttp", "httpx"],
        default="aiohttp",
        help="BsgClient's transport: httpx-aiohttp's (the default) or httpx's own",
    )
    args = parser.parse_args(argv)
    if args.creates < 1 or args.gets < 0 or args.concurrency < 1:
        parser.error("--creates and --concurrency must be at least 1, --gets at least 0")
    if not 0 <= args.drop <= 1:
        parser.error("--drop is a share between 0 and 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from bot import runtime

    args = parse_args(argv)
    figures = runtime.run(
        run(
            creates=args.creates,
            gets=args.gets,
            concurrency=args.concurrency,
            drop=args.drop,
            transport=args.transport,
        )
    )
    print_metrics("soak", [(k, v) for k, v in figures.items() if not k.startswith("first_")])
    clean = (
        figures["failures_to_callers"] == 0
        and figures["warnings_logged"] == 0
        and figures["numbers_not_sent_exactly_once"] == 0
        and figures["bsg_messages"] == args.creates
    )
    rows = [
        ["connections BSG dropped", figures["dropped_connections"], "", ""],
        ["requests retried", figures["retried_requests"], "", ""],
        ["protocol errors reaching a caller", figures["failures_to_callers"], "0",
         verdict(figures["failures_to_callers"], 0)],
        ["warnings logged by the BSG client", figures["warnings_logged"], "0",
         verdict(figures["warnings_logged"], 0)],
        ["numbers not created exactly once", figures["numbers_not_sent_exactly_once"], "0",
         verdict(figures["numbers_not_sent_exactly_once"], 0)],
        ["creates / status checks (s)",
         f"{figures['create_s']:.2f} / {figures['status_s']:.2f}", "", ""],
    ]  # fmt: skip
    print_table(
        f"soak: {args.creates} creates + {args.gets} status checks, {args.transport} transport, "
        f"BSG drops the connection after {args.drop:.0%} of answers",
        ["figure", "measured", "target", ""],
        rows,
    )
    for key in ("first_failure", "first_warning"):
        if figures[key]:
            print(f"{key.replace('_', ' ')}: {figures[key]}")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
