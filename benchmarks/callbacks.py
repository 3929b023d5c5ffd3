"""Benchmark: delivery callbacks against polling alone, measured in the same run.

The app runs as in production (`bot.app.serve`, HTTP mode) in a child process and the BSG
simulator with the Slack stand-in in another (benchmarks/ack_load.py's processes). Sends are
signed modal submissions, two recipients each with the SMS fallback, one channel per send, so
Slack's pacing (a post a second per channel, two at once after a quiet spell) is that of a
two-recipient send. Every message
goes through three transitions at BSG: not_viber_user at 2 s, SMS sent at 5 s, SMS delivered at
12 s. Four runs:

1. callbacks on: change at BSG -> stored status, change -> thread post, status GETs per message;
2. callbacks off (polling alone, the same sends): the same figures, for the ratios;
3. callbacks on with 30 % of them lost: every transition must still reach its thread;
4. 10,000 forged callbacks at full speed beside slash commands: ack p99 against without them.

    python -m benchmarks.callbacks                       # 1,000 messages, 10,000 forged
    python -m benchmarks.callbacks --messages 40 --forged 500 --commands 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from benchmarks import print_metrics, print_table, verdict
from benchmarks.ack_load import (
    API_KEY,
    BOT_TOKEN,
    SIGNING_SECRET,
    AppProcess,
    _spawn,
    _stop,
    app_env,
    percentile,
    wait_until,
)

ANSWER_TARGET_MS = 50.0  # issue 12: "a callback is answered with 200 within 50 ms"
STORED_P95_TARGET_S = 1.0
THREAD_P95_TARGET_S = 2.0
GETS_TARGET = 6.0
FLOOD_RATIO_TARGET = 2.0
# (seconds after acceptance, Viber status, SMS status): three transitions after "sent".
LIFECYCLE = [[0, "sent"], [2, "not_viber_user"], [5, "not_viber_user", "sent"]]
LIFECYCLE.append([12, "not_viber_user", "delivered"])
TRANSITIONS = (("viber", "not_viber_user"), ("sms", "sent"), ("sms", "delivered"))
USER = "U0BENCH"


# ---------------------------------------------------------------- BSG and Slack, one process


def _fakes_main(conn: Connection, options: dict[str, Any]) -> None:
    asyncio.run(_fakes(conn, options))


async def _fakes(conn: Connection, options: dict[str, Any]) -> None:
    from bot.devtools.simulator import BsgSimulator
    from bot.devtools.slack_standin import SlackStandIn

    simulator = BsgSimulator(
        api_key=API_KEY,
        balance=10**9,
        lifecycles={
            "by_last_digit": {str(d): options.get("lifecycle", LIFECYCLE) for d in range(10)}
        },
        seed=7,
        time_scale=options.get("time_scale", 1.0),
    )
    simulator.callbacks.loss = options.get("loss", 0.0)
    slack = SlackStandIn(token=BOT_TOKEN)
    conn.send((await simulator.start("127.0.0.1", 0), await slack.start("127.0.0.1", 0)))
    while True:
        try:
            command, *args = await asyncio.to_thread(conn.recv)
        except EOFError:
            break
        if command == "stats":
            conn.send(
                {
                    "status_by_id": simulator.status_by_id_calls,
                    "status_calls": simulator.status_calls,
                    "callbacks": dict(simulator.callbacks.counts),
                    "answer_times": list(simulator.callbacks.answer_times),
                    "transitions": _transitions(simulator),
                    "posts": _thread_posts(slack, args[0]),
                }
            )
        else:
            break
    await slack.stop()
    await simulator.stop()


def _transitions(simulator: Any) -> dict[str, list[float]]:
    """reference -> the wall time of each of the three transitions at BSG."""
    found: dict[str, list[float]] = {}
    for msg in simulator.messages.values():
        steps = msg.lifecycle.steps
        found[msg.reference] = [
            (msg.start_at.timestamp() + steps[i].after * msg.time_scale) for i in (1, 2, 3)
        ]
    return found


def _thread_posts(slack: Any, channels: list[str]) -> list[tuple[str, str, float]]:
    """(channel, text, posted at) of every thread reply."""
    posts = []
    for channel in channels:
        for parent in slack.channel_messages(channel):
            for reply in slack.thread(channel, parent["ts"]):
                if reply.get("thread_ts") and reply["ts"] != parent["ts"]:
                    posts.append((channel, reply.get("text", ""), float(reply["ts"])))
    return posts


class Fakes:
    def __init__(self, **options: Any):
        self._conn, self._process = _spawn(_fakes_main, options, name="bench-cb-fakes")
        if not self._conn.poll(30):
            _stop(self._conn, self._process)
            raise RuntimeError("the fakes did not start within 30 s")
        self.bsg_url, self.slack_url = self._conn.recv()

    def stats(self, channels: Sequence[str] = ()) -> dict[str, Any]:
        self._conn.send(("stats", list(channels)))
        return self._conn.recv()

    def stop(self) -> None:
        _stop(self._conn, self._process)


# ---------------------------------------------------------------- one lifecycle run


def _start_app(fakes: Fakes, db: Path, callbacks: bool, poll_interval: float) -> AppProcess:
    # Bound (and listening) before the settings name its port, handed to the app's process.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    env = app_env(
        fakes,
        db,
        PORT=port,
        VIBER_BOT_POLL_INTERVAL=poll_interval,
        VIBER_BOT_MAX_RECIPIENTS=100,
    )
    if callbacks:
        env["VIBER_BOT_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return AppProcess(env, sock)


def numbers_of(send: int) -> tuple[str, str]:
    return f"38097{send:06d}1", f"38097{send:06d}2"


async def _submit_sends(url: str, sends: int, in_flight: int = 10) -> None:
    from bot.devtools.slack_requests import view_submission
    from tests.slack_requests import modal_values

    limit = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:

        async def one(index: int) -> None:
            first, second = numbers_of(index)
            body, headers = view_submission(
                SIGNING_SECRET,
                values=modal_values(
                    {
                        "recipients": f"+{first}, +{second}",
                        "text": "Your parcel is ready",
                        "sms_text": "Your parcel is ready (SMS)",
                    }
                ),
                private_metadata=json.dumps({"channel_id": f"C{index:06d}"}),
                user_id=USER,
            )
            async with limit:
                answer = await http.post(f"{url}/slack/events", content=body, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"submission {index} answered HTTP {answer.status_code}")

        await asyncio.gather(*(one(i) for i in range(sends)))


def _rank(text: str) -> int | None:
    """Which transition a thread reply announces (0, 1, 2), from its words."""
    if "SMS" in text and "elivered" in text:
        return 2
    if "SMS" in text and ("ell back" in text or "falls back" in text or "allback" in text):
        return 1
    if "Viber" in text or "not a Viber user" in text.lower() or "viber user" in text.lower():
        return 0
    return None


async def lifecycle_run(
    *,
    messages: int,
    callbacks: bool,
    loss: float,
    poll_interval: float,
    workdir: Path,
    time_scale: float = 1.0,
) -> dict[str, Any]:
    sends = max(1, messages // 2)
    total = sends * 2
    fakes = Fakes(loss=loss, time_scale=time_scale)
    app: AppProcess | None = None
    label = f"{'on' if callbacks else 'off'}-{int(loss * 100)}"
    try:
        app = _start_app(fakes, workdir / f"cb-{label}.db", callbacks, poll_interval)
        started = time.monotonic()
        await _submit_sends(app.url, sends)
        done = await wait_until(
            lambda: app.query("SELECT count(*) FROM messages WHERE final = 1") >= total,
            within=12 + 4 * poll_interval + sends * 0.05 + 60,
            step=0.25,
        )
        await wait_until(
            lambda: app.query("SELECT count(*) FROM outbox WHERE state = 'pending'") == 0,
            within=60,
            step=0.25,
        )
        elapsed = time.monotonic() - started
        stats = fakes.stats([f"C{i:06d}" for i in range(sends)])
        events = _events(app.db_path)
        app.stop()
        app = None
    finally:
        if app is not None:
            app.stop()
        fakes.stop()
    return _figures(stats, events, total, sends, done, elapsed)


def _events(db_path: Path) -> dict[str, dict[str, Any]]:
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT m.reference, m.msisdn, s.channel_id, e.channel, e.status, e.observed_at "
            "FROM status_events e JOIN messages m ON m.id = e.message_id "
            "JOIN sends s ON s.id = m.send_id"
        ).fetchall()
    finally:
        conn.close()
    found: dict[str, dict[str, Any]] = {}
    for reference, msisdn, channel_id, channel, status, observed in rows:
        entry = found.setdefault(
            reference, {"msisdn": msisdn, "channel": channel_id, "stored": [None] * 3}
        )
        if (channel, status) in TRANSITIONS:
            rank = TRANSITIONS.index((channel, status))
            at = datetime.fromisoformat(observed).timestamp()
            if entry["stored"][rank] is None or at < entry["stored"][rank]:
                entry["stored"][rank] = at
    return found


def _figures(
    stats: dict[str, Any],
    events: dict[str, dict[str, Any]],
    total: int,
    sends: int,
    done: bool,
    elapsed: float,
) -> dict[str, Any]:
    changes: dict[str, list[float]] = stats["transitions"]
    by_thread: dict[tuple[str, str, int], float] = {}
    for channel, text, at in stats["posts"]:
        rank = _rank(text)
        digits = "".join(c for c in text if c.isdigit())
        for reference, entry in events.items():
            if entry["channel"] != channel or rank is None:
                continue
            if entry["msisdn"][-4:] in digits:
                key = (reference, channel, rank)
                by_thread[key] = min(at, by_thread.get(key, at))
    stored_delays: list[float] = []
    thread_delays: list[float] = []
    reached = 0
    for reference, moments in changes.items():
        entry = events.get(reference)
        if entry is None:
            continue
        complete = True
        for rank, changed_at in enumerate(moments):
            # A poll that jumps past a step stores (and tells) the later one: that is when the
            # bot knew this transition had happened.
            later = [s for s in entry["stored"][rank:] if s is not None]
            if later:
                stored_delays.append(max(0.0, min(later) - changed_at))
            posted = [
                by_thread[(reference, entry["channel"], r)]
                for r in range(rank, 3)
                if (reference, entry["channel"], r) in by_thread
            ]
            if posted:
                thread_delays.append(max(0.0, min(posted) - changed_at))
            else:
                complete = False
        reached += complete
    return {
        "messages": total,
        "all_final": done,
        "elapsed_s": elapsed,
        "stored_p50_s": percentile(stored_delays, 0.50),
        "stored_p95_s": percentile(stored_delays, 0.95),
        "thread_p50_s": percentile(thread_delays, 0.50),
        "thread_p95_s": percentile(thread_delays, 0.95),
        "gets_per_message": stats["status_by_id"] / max(1, total),
        "reached_thread": reached,
        "callbacks_sent": stats["callbacks"].get("sent", 0),
        "callbacks_lost": stats["callbacks"].get("lost", 0),
        # How long BSG waits for the bot's answer to a callback (the simulator's side).
        "answer_p50_ms": percentile(stats["answer_times"], 0.50) * 1000,
        "answer_p99_ms": percentile(stats["answer_times"], 0.99) * 1000,
        "answer_max_ms": max(stats["answer_times"], default=0.0) * 1000,
    }


# ---------------------------------------------------------------- the forged flood


async def _acks(url: str, commands: int, in_flight: int) -> list[float]:
    from bot.devtools.slack_requests import slash_command

    limit = asyncio.Semaphore(in_flight)
    times: list[float] = []
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:

        async def one(index: int) -> None:
            body, headers = slash_command(
                SIGNING_SECRET,
                text=f"send +38096{index:07d} Hello",
                user_id=USER,
                channel_id="C0FLOOD",
            )
            async with limit:
                started = time.perf_counter()
                answer = await http.post(f"{url}/slack/events", content=body, headers=headers)
                times.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"slash command answered HTTP {answer.status_code}")

        await asyncio.gather(*(one(i) for i in range(commands)))
    return times


async def _flood(url: str, forged: int, concurrency: int) -> dict[str, int]:
    """`forged` POSTs with made-up tokens, `concurrency` at once, as fast as they are answered."""
    import aiohttp

    answers: dict[str, int] = {}
    queue = iter(range(forged))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            for _ in queue:
                token = secrets.token_urlsafe(40)[:54]
                try:
                    async with http.post(f"{url}/bsg/callback/{token}", data=b"{}") as answer:
                        await answer.read()
                        key = str(answer.status)
                except aiohttp.ClientError:
                    key = "error"
                answers[key] = answers.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


def _flood_main(conn: Connection, url: str, forged: int, concurrency: int) -> None:
    """The forged callbacks from a process of their own, so the client's work is not timed."""
    conn.recv()  # go
    started = time.perf_counter()
    answers = asyncio.run(_flood(url, forged, concurrency))
    conn.send((answers, time.perf_counter() - started))


def _forged_counted(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10, trust_env=False).text
    for line in text.splitlines():
        if line.startswith("viber_bot_callbacks_forged_total "):
            return float(line.split()[1])
    return 0.0


async def flood_run(
    *, commands: int, forged: int, concurrency: int, workdir: Path
) -> dict[str, Any]:
    # Sends that stay "sent": after their one callback they cost nothing during the flood.
    fakes = Fakes(lifecycle=[[0, "sent"]])
    app: AppProcess | None = None
    try:
        app = _start_app(fakes, workdir / "cb-flood.db", True, 15.0)
        await _acks(app.url, 10, 5)  # warm-up, not counted
        quiet = await _acks(app.url, commands, 5)
        await asyncio.sleep(1.0)  # the quiet phase's callbacks and looks are done
        conn, process = _spawn(_flood_main, app.url, forged, concurrency, name="bench-flood")
        conn.send("go")
        await asyncio.sleep(0.2)  # the flood is under way before the commands start
        flooded = await _acks(app.url, commands, 5)
        answers, flood_s = await asyncio.to_thread(conn.recv)
        _stop(conn, process)
        counted = _forged_counted(app.url)
        app.stop()
        app = None
    finally:
        if app is not None:
            app.stop()
        fakes.stop()
    quiet_p99, flooded_p99 = percentile(quiet, 0.99), percentile(flooded, 0.99)
    return {
        "commands": commands,
        "forged": forged,
        "quiet_ack_p99_ms": quiet_p99 * 1000,
        "flood_ack_p99_ms": flooded_p99 * 1000,
        "flood_ratio": flooded_p99 / quiet_p99 if quiet_p99 else float("nan"),
        "forged_404": answers.get("404", 0),
        "forged_429": answers.get("429", 0),
        "forged_other": sum(v for k, v in answers.items() if k not in ("404", "429")),
        "forged_counted_by_app": counted,
        "flood_s": flood_s,
        "forged_per_s": forged / flood_s if flood_s else float("nan"),
    }


# ---------------------------------------------------------------- report


def report(on: dict[str, Any], off: dict[str, Any], lossy: dict[str, Any], flood: dict[str, Any]):
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "-"

    return [
        [
            "change -> stored status p50 / p95 (s)",
            f"{on['stored_p50_s']:.2f} / {on['stored_p95_s']:.2f}",
            f"{off['stored_p50_s']:.2f} / {off['stored_p95_s']:.2f}",
            ratio(on["stored_p95_s"], off["stored_p95_s"]),
            f"p95 <= {STORED_P95_TARGET_S:g}",
            verdict(on["stored_p95_s"], STORED_P95_TARGET_S),
        ],
        [
            "change -> thread post p50 / p95 (s), 2-recipient sends",
            f"{on['thread_p50_s']:.2f} / {on['thread_p95_s']:.2f}",
            f"{off['thread_p50_s']:.2f} / {off['thread_p95_s']:.2f}",
            ratio(on["thread_p95_s"], off["thread_p95_s"]),
            f"p95 <= {THREAD_P95_TARGET_S:g}",
            verdict(on["thread_p95_s"], THREAD_P95_TARGET_S),
        ],
        [
            "callback answered (ms), p50 / p99 / max, as BSG waits for it",
            f"{on['answer_p50_ms']:.1f} / {on['answer_p99_ms']:.1f} / {on['answer_max_ms']:.0f}",
            "",
            "",
            f"p99 <= {ANSWER_TARGET_MS:g}",
            verdict(on["answer_p99_ms"], ANSWER_TARGET_MS),
        ],
        [
            "status GETs per message, whole lifecycle",
            f"{on['gets_per_message']:.2f}",
            f"{off['gets_per_message']:.2f}",
            ratio(on["gets_per_message"], off["gets_per_message"]),
            f"<= {GETS_TARGET:g}",
            verdict(on["gets_per_message"], GETS_TARGET),
        ],
        [
            f"30 % lost ({lossy['callbacks_lost']} lost): messages with every transition "
            "in the thread",
            f"{lossy['reached_thread']} / {lossy['messages']}",
            f"{off['reached_thread']} / {off['messages']}",
            "",
            "all",
            "ok" if lossy["reached_thread"] == lossy["messages"] else "MISSED",
        ],
        [
            f"slash ack p99 (ms) beside {flood['forged']} forged callbacks / without",
            f"{flood['flood_ack_p99_ms']:.0f}",
            f"{flood['quiet_ack_p99_ms']:.0f}",
            f"{flood['flood_ratio']:.2f}",
            f"ratio <= {FLOOD_RATIO_TARGET:g}",
            verdict(flood["flood_ratio"], FLOOD_RATIO_TARGET),
        ],
    ]


async def run_all(args: argparse.Namespace, workdir: Path) -> int:
    common = {
        "messages": args.messages,
        "poll_interval": args.poll_interval,
        "workdir": workdir,
        "time_scale": args.time_scale,
    }
    on = await lifecycle_run(callbacks=True, loss=0.0, **common)
    off = await lifecycle_run(callbacks=False, loss=0.0, **common)
    lossy = await lifecycle_run(callbacks=True, loss=args.loss, **common)
    flood = await flood_run(
        commands=args.commands, forged=args.forged, concurrency=args.concurrency, workdir=workdir
    )
    for prefix, figures in (("on", on), ("off", off), ("lossy", lossy), ("flood", flood)):
        print_metrics(f"callbacks.{prefix}", figures.items())
    rows = report(on, off, lossy, flood)
    print_table(
        f"Delivery callbacks: {on['messages']} messages x 3 transitions, callbacks vs polling "
        f"every {args.poll_interval:g} s",
        ["figure", "callbacks", "polling", "ratio", "target", "verdict"],
        rows,
    )
    # Missed targets are reported in the table; only a run that did not finish fails.
    finished = all(f["all_final"] for f in (on, off, lossy))
    return 0 if finished and flood["forged_other"] == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    from bot import runtime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=15.0)
    parser.add_argument("--loss", type=float, default=0.3)
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="BSG lifecycles faster (<1) for smoke runs"
    )
    parser.add_argument("--forged", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=256, help="forged callbacks in flight")
    parser.add_argument("--commands", type=int, default=200, help="slash commands timed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="viber-bench-cb-") as folder:
        return runtime.run(run_all(args, Path(folder)))


if __name__ == "__main__":
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    sys.exit(main())
