"""Run every benchmark: `python -m benchmarks` (about 5 minutes on 2 cores).

Prints every benchmark's `name.metric=value` lines, then one table of the headline figures
against their targets, and writes that table, the machine's description and each benchmark's
own table to `benchmarks/RESULTS.md`. `--smoke` runs tiny sizes (for CI; writes no results
file unless `--results` names one). `--only ack_load,campaign` runs a subset.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import (
    ack_load,
    audiences,
    callbacks,
    campaign,
    database,
    estimate_update,
    growth,
    memory,
    poll_sweep,
    polling_economy,
    print_table,
    replicas,
    soak,
    startup,
)

RESULTS = Path(__file__).with_name("RESULTS.md")

# Why a target is missed, as far as it is understood (written under the table when it is).
GAPS = {
    "1 ack under load": (
        "With 20 in flight each ack waits for the others' turns, so the p99 is the app's CPU "
        "per command (printed: ack_load.app_cpu_ms_per_command) times the queue, plus the "
        "collector and the other processes on the 2 cores. This round: the submissions that "
        "meet on SQLite's writer thread (up to 19 of the 20 waited there, each with a commit "
        "of its own) share one commit, and sends that meet while BSG holds a create share one "
        "request: CPU per command 1.6 -> ~0.85 ms, p50 33 -> ~16 ms, p99 45-60 -> ~25 ms back "
        "to back. A run over target met a host busier than that."
    ),
    "3 poll sweep": (
        "CPU per check: issue 9 requires BSG calls to go through `httpx.AsyncClient.request` "
        "over httpx-aiohttp's transport, with tenacity. Measured at 32 in flight, aiohttp alone "
        "costs 77-113 us a request, httpx on httpx-aiohttp 305-402 us, the whole BsgClient "
        "352-524 us; by CPU profile two thirds of a sweep are inside httpx and aiohttp (request "
        "building ~20 %, of it URL parsing ~9 %; the response's header decoding), tenacity "
        "~5-8 %, answer parsing ~4-8 %, the poller and its writes ~7 %. 0.30 ms would need a "
        "hand-written transport or no tenacity, both ruled out by issue 9. The wall ratio "
        "follows the CPU: the app's ~6.5 s of CPU for 10,000 checks shares 2 cores with the "
        "simulator answering them."
    ),
    "5 database": (
        "`Store.due_for_poll` returns `DueMessage`s, the 9 columns of a row a poll reads: in "
        "sqlite3 alone they cost ~1.3 ms a 1,000 (Python 3.11's sqlite3 drops and retakes the "
        "GIL around each value it reads, ~55 ns even for a NULL; SQLite's own search is "
        "~0.1 ms), the models ~0.6 ms (three ISO times, a status look-up and a 9-field "
        "__init__ a row) and the trip to the reader's thread ~0.2 ms: ~2.1-2.5 ms on a quiet "
        "host. A run over 3 ms met a busy one: the plain query beside it is the calibrant. "
        "The sweep alone reads (id, send) pairs (`Store.due_ids`, ~1 ms a 1,000) and loads "
        "the same DueMessages 500 at a time ahead of the requests (`Store.due_by_id`)."
    ),
    "7 estimate update": (
        "Each change answers at its ack; the p99 follows the machine's load (114 ms on a "
        "quieter run of the same code path earlier this round)."
    ),
    "10 callbacks": (
        "Both delays are set by the app's event loop in the first seconds, when 500 sends are "
        "submitted, created and their parents posted while the first 1,000 callbacks arrive. "
        "This round a poll page and a send's BSG outcome are recorded in one trip to SQLite's "
        "writer thread (a trip per statement used to wait for a turn of the busy loop while "
        "holding the write lock: stored p95 3.4 s, thread p95 6.9 s at this size), a "
        "campaign's callbacks are no longer answered 429 by the per-source limit (200/s then), "
        "and a channel takes two posts at once after a quiet spell as Slack allows, so a "
        "two-recipient send's replies are not a second apart. A run over target means the "
        "machine was busier than the app's 2 cores can absorb in that burst."
    ),
}

# What this round's changes bought, each measured back to back against the code before it on
# the same host (written into RESULTS.md under the table; how each was found: profiles named).
BOUGHT: list[tuple[str, str, str]] = [
    (
        "Sends that meet while BSG holds a create share one `POST /viber/create` "
        "(`bot/bsg/coalesce.py`)",
        "ack p99 57 -> 45 ms; 200 creates -> 8-16 requests",
        "py-spy of the app under ack_load: the 200 creates (a new connection each, BSG holding "
        "every one 1 s) were ~40 % of its samples; with creates switched off p99 was 40 ms",
    ),
    (
        "Steps that meet on SQLite's writer thread share one commit, a savepoint each "
        "(`storage/sqlite.py` `_commit_steps`)",
        "ack p50 33 -> 16 ms, p99 45-60 -> 22-25 ms; app CPU per command 1.6 -> 0.85 ms",
        "the writer's queue when a step was taken held up to 18 of the 20 commands' "
        "submissions; py-spy put half the app's samples on that thread, COMMIT alone 22 % of a "
        "submission (its pages written to the WAL once a step)",
    ),
    (
        "auth.test asked at start, not by the first command",
        "first ack 9 -> 6 ms; the slowest acks of a run were the first burst's",
        "the slowest acks, listed by arrival, were all among the first 30",
    ),
    (
        "`Store.due_for_poll`, the sweep's pages and the replicas' claims read `DueMessage`: "
        "the 9 columns a poll reads; a poll's UPDATE counts the look and keeps currency and SMS "
        "id in SQL",
        "due_for_poll 5.4 -> 2.1-2.5 ms (1,000 of 1,000,000)",
        "27 columns cost ~2.6 ms in sqlite3 alone (the GIL dropped and taken back per value)",
    ),
]

# The previous round's figures (benchmarks/RESULTS.md of 2026-11-26, and the issues' "now"
# column where they quote one), printed beside each headline figure: (label prefix, figure).
PREVIOUS: list[tuple[str, str]] = [
    ("p50 / p95 / p99 ms", "86 / 187 / 264 (issue 11: p99 168)"),
    ("ack p50 / p95 / p99 / max ms while", "unmeasured"),
    ("sends reaching BSG exactly once", "200 / 200"),
    ("create requests for", "20"),
    ("all ids stored vs ideal", "1.10"),
    ("Slack: parent posts", "1 / 1 / 1"),
    ("wall / ideal (", "1.165 (issue 11: 1.13)"),
    ("CPU per status check (ms)", "0.846 (issue 11: 0.60)"),
    ("GETs for a message that never changes", "48"),
    ("peak RSS (MB)", "131.4"),
    ("due query (ms)", "3.72"),
    ("Store.due_for_poll", "16.39 (issue 11: 10.6)"),
    ("uses the (final, next_poll_at) index", "True"),
    ("n10000 vs n1000", "CPU x7.72"),
    ("n100000 vs n10000", "CPU x9.77"),
    ("+99000 final", "CPU x1.14"),
    ("`viber-bot --help`", "0.3 (issue 11)"),
]


def previous(figure: str) -> str:
    for prefix, value in PREVIOUS:
        if figure.startswith(prefix):
            return value
    return "new"


def with_previous(rows: list[list[str]]) -> list[list[str]]:
    """Each headline row with the previous round's figure after the measured one."""
    return [[*row[:3], previous(row[1]) if row[1] else "", *row[3:]] for row in rows]


# name -> (main, full-size arguments, smoke arguments)
BENCHMARKS: dict[str, tuple[Callable[[Sequence[str] | None], int], list[str], list[str]]] = {
    "ack_load": (
        ack_load.main, [], ["--commands", "20", "--in-flight", "5", "--create-delay", "0.05"]
    ),
    "ack_mid_sweep": (
        ack_load.main,
        ["--sweep", "10000"],
        ["--commands", "20", "--in-flight", "5", "--create-delay", "0.05", "--sweep", "300",
         "--status-delay", "0.002"],
    ),
    "campaign": (
        campaign.main,
        [],
        ["--recipients", "120", "--create-delay", "0.05", "--sweeps", "1",
         "--poll-interval", "0.3"],
    ),
    "audiences": (audiences.main, [], ["--numbers", "300", "--create-delay", "0.02"]),
    "poll_sweep": (
        poll_sweep.main,
        ["--transport", "both"],
        ["--messages", "120", "--delay", "0.002", "--concurrency", "8", "--per-send", "10",
         "--naive", "20"],
    ),
    "polling_economy": (polling_economy.main, [], []),
    "memory": (memory.main, [], ["--messages", "2000", "--due", "200", "--delay", "0.002"]),
    "database": (database.main, [], ["--rows", "5000", "--due", "100"]),
    "growth": (growth.main, [], ["--sizes", "300,3000", "--delay", "0.002"]),
    "replicas": (
        replicas.main,
        [],
        ["--messages", "100", "--replicas", "1,2", "--claim-batch", "20", "--commands", "10",
         "--in-flight", "5", "--create-delay", "0.05", "--rows", "5000", "--due", "50",
         "--repeat", "2"],
    ),
    "estimate_update": (
        estimate_update.main,
        [],
        ["--changes", "20", "--in-flight", "4", "--price-delay", "0.2"],
    ),
    "soak": (soak.main, [], ["--creates", "50", "--gets", "300"]),
    "callbacks": (
        callbacks.main,
        [],
        ["--messages", "20", "--poll-interval", "2", "--time-scale", "0.25", "--forged", "300",
         "--commands", "20", "--concurrency", "32"],
    ),
    "startup": (startup.main, [], ["--runs", "3"]),
}  # fmt: skip


def machine() -> list[tuple[str, str]]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return [
        ("CPUs", str(os.cpu_count())),
        ("CPU model", model),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", platform.platform()),
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def _f(figures: dict[str, str], name: str) -> float:
    try:
        return float(figures[name])
    except (KeyError, ValueError):
        return float("nan")


def _ok(good: bool) -> str:
    return "ok" if good else "MISSED"


def summary(m: dict[str, dict[str, str]]) -> list[list[str]]:
    """The headline figures: [benchmark, figure, measured, target, verdict]."""
    rows: list[list[str]] = []
    if a := m.get("ack_load"):
        p99 = _f(a, "p99_ms")
        rows.append(
            [
                "1 ack under load",
                f"p50 / p95 / p99 ms ({a['commands']} sends, {a['in_flight']} in flight, "
                f"BSG {a['create_delay_s']} s per create)",
                f"{_f(a, 'p50_ms'):.0f} / {_f(a, 'p95_ms'):.0f} / {p99:.0f}",
                f"p99 < {ack_load.P99_TARGET_MS:g}",
                _ok(p99 < ack_load.P99_TARGET_MS),
            ]
        )
        once = a["sent_exactly_once"] == a["commands"] and int(a["bsg_create_calls"]) <= int(
            a["commands"]
        )
        rows.append(
            [
                "",
                "sends reaching BSG exactly once",
                f"{a['sent_exactly_once']} / {a['commands']} "
                f"(in {a['bsg_create_calls']} create requests)",
                "all",
                _ok(once and a["http_failures"] == "0"),
            ]
        )
    if w := m.get("ack_mid_sweep"):
        p99, worst = _f(w, "p99_ms"), _f(w, "max_ms")
        rows.append(
            [
                "1b ack mid-sweep",
                f"ack p50 / p95 / p99 / max ms while a sweep of {w['sweep_due']} due runs "
                f"({w['sweep_checked_during_load']} checked meanwhile; {w['commands']} sends, "
                f"{w['in_flight']} in flight)",
                f"{_f(w, 'p50_ms'):.0f} / {_f(w, 'p95_ms'):.0f} / {p99:.0f} / {worst:.0f}",
                f"p99 < {ack_load.SWEEP_P99_TARGET_MS:g}, max < {ack_load.SWEEP_MAX_TARGET_MS:g}",
                _ok(p99 < ack_load.SWEEP_P99_TARGET_MS and worst < ack_load.SWEEP_MAX_TARGET_MS),
            ]
        )
    if c := m.get("campaign"):
        ratio = _f(c, "ratio")
        rows += [
            [
                "2 campaign",
                f"create requests for {c['recipients']} recipients (<= 50 each)",
                c["create_requests"],
                c["batches_expected"],
                _ok(c["create_requests"] == c["batches_expected"]),
            ],
            [
                "",
                f"all ids stored vs ideal (s), {c['create_concurrency']} creates at once",
                f"{_f(c, 'all_stored_s'):.2f} / {_f(c, 'ideal_s'):.2f} = {ratio:.2f}",
                f"<= {campaign.RATIO_TARGET}",
                _ok(ratio <= campaign.RATIO_TARGET),
            ],
            [
                "",
                "Slack: parent posts / updates / thread posts",
                f"{c['slack_parent_posts']} / {c['slack_updates']} / {c['slack_thread_posts']}",
                "1 / <= 3 / few",
                _ok(
                    c["slack_parent_posts"] == "1"
                    and int(c["slack_updates"]) <= campaign.MAX_UPDATES
                    and int(c["slack_thread_posts"]) <= int(c["slack_updates"]) + 3
                ),
            ],
        ]
    if p := m.get("poll_sweep"):
        ratio, cpu = _f(p, "ratio"), _f(p, "cpu_per_check_ms")
        rows += [
            [
                "3 poll sweep",
                f"wall / ideal ({p['messages']} due, {_f(p, 'get_delay_s') * 1000:g} ms, "
                f"concurrency {p['concurrency']})",
                f"{_f(p, 'wall_s'):.2f} / {_f(p, 'ideal_s'):.2f} = {ratio:.3f}",
                f"<= {poll_sweep.RATIO_TARGET}",
                _ok(ratio <= poll_sweep.RATIO_TARGET),
            ],
            [
                "",
                "CPU per status check (ms)",
                f"{cpu:.3f}",
                f"<= {poll_sweep.CPU_TARGET_MS:g}",
                _ok(cpu <= poll_sweep.CPU_TARGET_MS),
            ],
        ]
        if "httpx.cpu_per_check_ms" in p:
            rows.append(
                [
                    "",
                    "the same with httpx's own pool: CPU per status check (ms), wall / ideal",
                    f"{_f(p, 'httpx.cpu_per_check_ms'):.3f}, {_f(p, 'httpx.ratio'):.3f}",
                    "(comparison)",
                    "",
                ]
            )
        if "naive_extrapolated_s" in p:
            rows.append(
                [
                    "",
                    f"naive baseline, 1 sync client in sequence ({p['naive_checked']} measured, "
                    "extrapolated) (s)",
                    f"{_f(p, 'naive_extrapolated_s'):.1f} -> speed-up "
                    f"x{_f(p, 'speedup_vs_naive'):.1f}",
                    "",
                    "",
                ]
            )
    if e := m.get("polling_economy"):
        gets = _f(e, "adaptive.gets_never_changes")
        rows.append(
            [
                "  polling economy",
                "GETs for a message that never changes (24 h validity)",
                f"{gets:g} (fixed 15 s: {e.get('fixed.gets_never_changes')})",
                f"<= {polling_economy.GETS_TARGET}",
                _ok(gets <= polling_economy.GETS_TARGET),
            ]
        )
        if "adaptive.first_hour_median_delay_s" in e:
            now, before = (
                _f(e, "adaptive.first_hour_median_delay_s"),
                _f(e, "previous.first_hour_median_delay_s"),
            )
            rows.append(
                [
                    "",
                    "median delay noticing a change in the first hour (s), vs cap 3600 s "
                    f"({e.get('previous.gets_never_changes')} GETs) in the same run",
                    f"{now:g}",
                    f"<= {before:g}",
                    _ok(now <= before),
                ]
            )
    if r := m.get("memory"):
        rss = _f(r, "peak_rss_mb")
        rows.append(
            [
                "4 memory",
                f"peak RSS (MB), {r['messages']} stored, sweep of {r['due']} due",
                f"{rss:.1f}",
                f"<= {memory.RSS_TARGET_MB:g}",
                _ok(rss <= memory.RSS_TARGET_MB),
            ]
        )
    if d := m.get("database"):
        query = _f(d, "query_ms")
        rows += [
            [
                "5 database",
                f"due query (ms), {d['rows']} rows, {d['found']} due, LIMIT {d['limit']}",
                f"{query:.2f}",
                f"<= {database.QUERY_TARGET_MS:g}",
                _ok(query <= database.QUERY_TARGET_MS),
            ],
            ["", "Store.due_for_poll, query + models (ms)",
             f"{_f(d, 'due_for_poll_ms'):.2f}", f"<= {database.DUE_FOR_POLL_TARGET_MS:g}",
             _ok(_f(d, "due_for_poll_ms") <= database.DUE_FOR_POLL_TARGET_MS)],
            [
                "",
                "uses the (final, next_poll_at) index",
                d["uses_index"],
                "True",
                _ok(d["uses_index"] == "True"),
            ],
        ]  # fmt: skip
    if r := m.get("replicas"):
        counts = sorted(
            int(k[2:].split(".")[0])
            for k in r
            if k.startswith("pg") and k.endswith(".checks_per_s")
        )
        one = _f(r, f"pg{counts[0]}.checks_per_s") if counts else float("nan")
        scaling = ", ".join(
            f"{n}: {_f(r, f'pg{n}.checks_per_s'):.0f}/s (x{_f(r, f'pg{n}.checks_per_s') / one:.2f})"
            for n in counts
        )
        rows += [
            [
                "7 replicas",
                f"sweep of {r['messages']}: checks/s by replica count (SQLite 1 process: "
                f"{_f(r, 'sqlite.checks_per_s'):.0f}/s)",
                scaling,
                f"knee at {r['knee_replicas']}",
                _ok(r["checked_exactly_once"] == "True"),
            ],
            [
                "",
                "CPU per check ms, PostgreSQL 1 replica vs SQLite",
                f"{_f(r, f'pg{counts[0]}.cpu_per_check_ms'):.3f} vs "
                f"{_f(r, 'sqlite.cpu_per_check_ms'):.3f}" if counts else "-",
                "",
                "",
            ],
            [
                "",
                "ack p99 ms: 2 replicas round-robin vs SQLite 1 process",
                f"{_f(r, 'ack.pg2.p99_ms'):.0f} vs {_f(r, 'ack.sqlite1.p99_ms'):.0f}",
                "(comparison: issue 15 sets no target)",
                "",
            ],
            [
                "",
                f"due query ms at {r['due.rows']} rows: PostgreSQL vs SQLite (index used)",
                f"{_f(r, 'due.postgres_ms'):.2f} vs {_f(r, 'due.sqlite_ms'):.2f} "
                f"({r['due.index_used']})",
                f"< {replicas.DUE_TARGET_MS:g}",
                _ok(r["due.index_used"] == "True"
                    and _f(r, "due.postgres_ms") < replicas.DUE_TARGET_MS),
            ],
        ]  # fmt: skip
    if g := m.get("growth"):
        steps = sorted(
            {name.split(".")[0] for name in g if "_vs_" in name},
            key=lambda step: int(step.split("_vs_")[0].removeprefix("n")),
        )
        for step in steps:
            due, cpu, wall = (
                _f(g, f"{step}.due_ratio"),
                _f(g, f"{step}.sweep_cpu_ratio"),
                _f(g, f"{step}.sweep_time_ratio"),
            )
            rows.append(
                [
                    "6 growth" if step == steps[0] else "",
                    f"{step.replace('_vs_', ' vs ')}: due x{due:g}",
                    f"time x{wall:.2f}, CPU x{cpu:.2f}, "
                    f"RSS +{_f(g, f'{step}.rss_growth_mb'):.1f} MB",
                    f"CPU <= x{due * growth.LINEAR_TOLERANCE:g}",
                    _ok(cpu <= due * growth.LINEAR_TOLERANCE),
                ]
            )
        flat_cpu, flat_wall = _f(g, "flat.sweep_cpu_ratio"), _f(g, "flat.sweep_time_ratio")
        rows.append(
            [
                "",
                f"+{g.get('flat.final_added')} final, same {g.get('flat.due')} due",
                f"time x{flat_wall:.2f}, CPU x{flat_cpu:.2f}, "
                f"RSS +{_f(g, 'flat.rss_growth_mb'):.1f} MB",
                f"<= x{growth.FLAT_TOLERANCE:g}",
                _ok(flat_cpu <= growth.FLAT_TOLERANCE and flat_wall <= growth.FLAT_TOLERANCE),
            ]
        )
    if u := m.get("estimate_update"):
        p99 = _f(u, "p99_ms")
        rows += [
            [
                "7 estimate update",
                f"block_actions ack p50 / p95 / p99 ms ({u['changes']} changes, "
                f"{u['in_flight']} in flight, BSG price {u['price_delay_s']} s)",
                f"{_f(u, 'p50_ms'):.0f} / {_f(u, 'p95_ms'):.0f} / {p99:.0f}",
                f"p99 < {estimate_update.P99_TARGET_MS:g}",
                _ok(p99 < estimate_update.P99_TARGET_MS),
            ],
            [
                "",
                "the last change's estimate shown (views.update), s",
                f"{_f(u, 'last_estimate_s'):.2f}",
                "shown",
                _ok(u.get("last_estimate_shown") == "1"),
            ],
        ]
    if k := m.get("soak"):
        clean = (
            k["failures_to_callers"] == k["warnings_logged"] == "0"
            and k["numbers_not_sent_exactly_once"] == "0"
            and k["bsg_messages"] == k["creates"]
        )
        rows.append(
            [
                "8 soak",
                f"{k['creates']} creates + {k['status_gets']} checks, "
                f"{k['dropped_connections']} connections dropped by BSG, "
                f"{k['retried_requests']} requests retried: errors to callers / warnings / "
                "numbers not sent once",
                f"{k['failures_to_callers']} / {k['warnings_logged']} / "
                f"{k['numbers_not_sent_exactly_once']}",
                "0 / 0 / 0",
                _ok(clean),
            ]
        )
    if au := m.get("audiences"):
        list_ratio, csv_ratio = _f(au, "list_send_ratio"), _f(au, "csv_send_ratio")
        rows += [
            [
                "9 audiences",
                f"list of {au['numbers']} numbers: add / send to @list vs ideal (s)",
                f"{_f(au, 'list_add_s'):.2f} / {_f(au, 'list_send_s'):.2f} vs "
                f"{_f(au, 'ideal_s'):.2f} = {list_ratio:.2f}",
                f"<= {campaign.RATIO_TARGET}",
                _ok(list_ratio <= campaign.RATIO_TARGET and au["list_size"] == au["numbers"]),
            ],
            [
                "",
                f"CSV of {au['numbers']} rows, a text each: ack (ms) / sent vs ideal (s)",
                f"{_f(au, 'csv_ack_ms'):.0f} / {_f(au, 'csv_send_s'):.2f} vs "
                f"{_f(au, 'ideal_s'):.2f} = {csv_ratio:.2f}",
                f"< 3000 / <= {campaign.RATIO_TARGET}",
                _ok(
                    csv_ratio <= campaign.RATIO_TARGET
                    and _f(au, "csv_ack_ms") < 3000
                    and au["csv_send_stored"] == au["numbers"]
                ),
            ],
        ]
    if cb := m.get("callbacks"):
        rows += callback_rows(cb)
    if s := m.get("startup"):
        wall = _f(s, "help_wall_s")
        rows.append(
            [
                "10 startup",
                "`viber-bot --help` wall (s, median; bare `python -c pass` beside it)",
                f"{wall:.3f} (python {_f(s, 'python_wall_s'):.3f}, "
                f"x{_f(s, 'ratio_vs_python'):.2f})",
                f"<= {startup.WALL_TARGET_S:g}",
                _ok(wall <= startup.WALL_TARGET_S),
            ]
        )
    return rows


def callback_rows(cb: dict[str, str]) -> list[list[str]]:
    """The callbacks benchmark's headline figures, each beside polling's from the same run."""
    stored, thread = _f(cb, "on.stored_p95_s"), _f(cb, "on.thread_p95_s")
    gets, ratio = _f(cb, "on.gets_per_message"), _f(cb, "flood.flood_ratio")
    reached, total = cb.get("lossy.reached_thread", "?"), cb.get("lossy.messages", "?")
    answer = _f(cb, "on.answer_p99_ms")
    return [
        [
            "10 callbacks",
            f"change -> stored status p50 / p95 (s), {cb.get('on.messages')} messages "
            f"(polling: {_f(cb, 'off.stored_p50_s'):.1f} / {_f(cb, 'off.stored_p95_s'):.1f})",
            f"{_f(cb, 'on.stored_p50_s'):.2f} / {stored:.2f}",
            f"p95 <= {callbacks.STORED_P95_TARGET_S:g}",
            _ok(stored <= callbacks.STORED_P95_TARGET_S),
        ],
        [
            "",
            f"change -> thread post p95 (s), 2-recipient sends "
            f"(polling: {_f(cb, 'off.thread_p95_s'):.1f})",
            f"{thread:.2f}",
            f"<= {callbacks.THREAD_P95_TARGET_S:g}",
            _ok(thread <= callbacks.THREAD_P95_TARGET_S),
        ],
        [
            "",
            "callback answered (ms), p50 / p99 / max, as BSG waits for it",
            f"{_f(cb, 'on.answer_p50_ms'):.1f} / {answer:.1f} / {_f(cb, 'on.answer_max_ms'):.0f}",
            f"p99 <= {callbacks.ANSWER_TARGET_MS:g}",
            _ok(answer <= callbacks.ANSWER_TARGET_MS),
        ],
        [
            "",
            f"status GETs per message (polling: {_f(cb, 'off.gets_per_message'):.2f})",
            f"{gets:.2f}",
            f"<= {callbacks.GETS_TARGET:g}",
            _ok(gets <= callbacks.GETS_TARGET),
        ],
        [
            "",
            "30 % of callbacks lost: messages with every transition in the thread",
            f"{reached} / {total}",
            "all",
            _ok(reached == total),
        ],
        [
            "",
            f"slash ack p99 beside {cb.get('flood.forged')} forged callbacks / without (ms)",
            f"{_f(cb, 'flood.flood_ack_p99_ms'):.0f} / {_f(cb, 'flood.quiet_ack_p99_ms'):.0f}"
            f" = x{ratio:.2f}",
            f"<= x{callbacks.FLOOD_RATIO_TARGET:g}",
            _ok(ratio <= callbacks.FLOOD_RATIO_TARGET),
        ],
    ]


def markdown(rows: list[list[str]], details: dict[str, str], elapsed: float, smoke: bool) -> str:
    lines = ["# Benchmark results", ""]
    lines.append(
        "Written by `python -m benchmarks`"
        + (" --smoke (tiny sizes: not the issue's figures)" if smoke else "")
        + f" in {elapsed:.0f} s. Everything ran on 127.0.0.1; see `benchmarks/README.md`."
    )
    lines += ["", "| machine | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine()]
    lines += [
        "",
        "| benchmark | figure | measured | previous round | target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        "| " + " | ".join(cell.replace("|", "/") for cell in row) + " |"
        for row in with_previous(rows)
    ]
    lines += ["", *bought_section()]
    gaps = [row[0] for row in rows if row[-1] == "MISSED"]
    if gaps:
        lines += ["", "## Targets missed, and why", ""]
        owner = ""
        for row in rows:
            owner = row[0] or owner
            if row[-1] == "MISSED":
                lines.append(f"- **{owner}, {row[1]}**: {GAPS.get(owner, 'cause not yet known.')}")
    lines += ["", "## Each benchmark's own output", ""]
    for name, text in details.items():
        lines += [f"### {name}", "", "```", text.rstrip(), "```", ""]
    return "\n".join(lines)


def bought_section() -> list[str]:
    """RESULTS.md's account of what this round's changes bought (BOUGHT)."""
    lines = [
        "## What this round's changes bought",
        "",
        "Each measured back to back against the code before it, on the same host.",
        "",
        "| change | bought | found by |",
        "|---|---|---|",
    ]
    lines += [f"| {change} | {bought} | {found} |" for change, bought, found in BOUGHT]
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI (~20 s)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="where to write the results (benchmarks/RESULTS.md; none with --smoke)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    args.names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    if args.results is None and not args.smoke:
        args.results = RESULTS
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    metrics: dict[str, dict[str, str]] = {}
    details: dict[str, str] = {}
    failed: list[str] = []
    for name in args.names:
        run, full, smoke = BENCHMARKS[name]
        out = io.StringIO()
        began = time.perf_counter()
        with contextlib.redirect_stdout(out):
            try:
                code = run(smoke if args.smoke else full)
            except Exception as error:  # one broken benchmark must not hide the others
                print(f"{name} failed: {type(error).__name__}: {error}")
                code = 2
        if code:
            failed.append(name)
        text = out.getvalue()
        figures: dict[str, str] = {}
        tables: list[str] = []
        for line in text.splitlines():
            if line.startswith(name + ".") and "=" in line:
                print(line, flush=True)
                key, value = line.removeprefix(name + ".").split("=", 1)
                figures[key] = value
            else:
                tables.append(line)
        print(f"{name}.benchmark_s={time.perf_counter() - began:.1f}", flush=True)
        metrics[name] = figures
        details[name] = "\n".join(tables)
    elapsed = time.perf_counter() - started
    rows = summary(metrics)
    print()
    print_table(
        f"viber-bot benchmarks{' (smoke sizes)' if args.smoke else ''}: {elapsed:.0f} s",
        ["benchmark", "figure", "measured", "previous round", "target", ""],
        with_previous(rows),
    )
    for name in failed:
        print(f"{name}: FAILED\n{details[name]}", file=sys.stderr)
    if args.results is not None:
        args.results.write_text(markdown(rows, details, elapsed, args.smoke), encoding="utf-8")
        print(f"results written to {args.results}")
    missed = any(row[-1] == "MISSED" for row in rows)
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
