"""Benchmark: GET calls and noticing delays of the poll policy over a message's validity.

A simulated clock drives the real policy (`bot/schedule.py`: `PollPolicy`, `judge`) the way
the poller applies it: polls happen on sweeps every `base` seconds, a message is looked at by
the first sweep at or after its `next_poll_at`, and a poll that sees a new status restarts the
back-off. The same run measures a fixed-interval poller (a look at every sweep) for comparison.
By default a message is sent half-way between two sweeps, so the fixed poller's delay is its
average (base / 2); the "gap" beside each delay is the worst case at that moment.

A sweep's answers come some way into it (`--answer-delay`, seconds after its tick). The poller
counts the next look from the sweep's tick (`judge`'s `anchor`); `--anchor answer` counts it
from the answer instead, as the poller did before, for comparison: there a one-interval gap
just misses the next sweep and waits one more.

    python -m benchmarks.polling_economy                 # defaults from bot/settings.py
    python -m benchmarks.polling_economy --factor 0.3 --cap 7200
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from benchmarks import print_metrics, print_table, verdict
from bot.domain.models import DeliveryStatus
from bot.domain.policy import PollPolicy, judge
from bot.settings import Settings

GETS_TARGET = 40  # issue 11 (was 60)
PREVIOUS_CAP_S = 3600.0  # VIBER_BOT_POLL_MAX_INTERVAL before issue 11: the baseline
CHANGES = (60.0, 600.0, 3600.0, 43200.0)  # seconds after sending: 1 min, 10 min, 1 h, 12 h
START = datetime(2025, 1, 1, tzinfo=UTC)
QUIET = DeliveryStatus.SENT


@dataclass(frozen=True)
class Life:
    """One simulated message: the GETs it cost and when (seconds after sending) they came."""

    polls: tuple[float, ...]
    final_at: float | None
    noticed_at: float | None = None

    @property
    def gets(self) -> int:
        return len(self.polls)


def _default(name: str) -> float:
    return float(Settings.model_fields[name].default)


def follow(
    policy: PollPolicy,
    *,
    validity: float,
    phase: float = 0.5,
    change_at: float | None = None,
    changed_to: DeliveryStatus = DeliveryStatus.DELIVERED,
    stop_when_noticed: bool = True,
    answer_delay: float = 0.0,
    anchor: str = "tick",
) -> Life:
    """Poll one message from sending until the policy calls it final (or the change is seen).

    BSG reports `sent` until `change_at` (seconds after sending), then `changed_to`. Sweeps
    run at `(phase + k) x base` seconds after sending. A poll at the very moment of the change
    does not see it yet: the delay is to the first poll after. Each answer is judged
    `answer_delay` seconds after its sweep's tick; the next look counts from the tick
    (`anchor="tick"`, the poller) or from the answer (`anchor="answer"`).
    """
    offset = phase * policy.base
    expires_at = PollPolicy.expires_at(START, None, int(validity))
    due = policy.first_poll(START, None)
    stored, last_change = QUIET, START
    polls: list[float] = []
    noticed_at: float | None = None
    while True:
        # A due message waits for the next sweep.
        elapsed = (due - START).total_seconds()
        sweep = offset + math.ceil((elapsed - offset) / policy.base - 1e-9) * policy.base
        tick = START + timedelta(seconds=sweep)
        now = tick + timedelta(seconds=answer_delay)
        polls.append(sweep)
        seen = changed_to if change_at is not None and sweep > change_at else QUIET
        if seen != stored:
            stored, last_change = seen, now
            if noticed_at is None:
                noticed_at = sweep
                if stop_when_noticed:
                    return Life(tuple(polls), None, noticed_at)
        verdict_ = judge(
            policy,
            status=seen,
            sms_status=None,
            wants_sms=False,
            expires_at=expires_at,
            last_change_at=last_change,
            now=now,
            anchor=tick if anchor == "tick" else now,
        )
        if verdict_.final or verdict_.next_poll_at is None:
            return Life(tuple(polls), sweep, noticed_at)
        due = verdict_.next_poll_at


def _label(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


def _gap_at(life: Life, moment: float) -> float:
    """The interval between the polls around `moment`: the worst delay for a change then."""
    before = [p for p in life.polls if p <= moment]
    after = [p for p in life.polls if p > moment]
    if not before or not after:
        return float("nan")
    return after[0] - before[-1]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.polling_economy",
        description="GET calls per message and noticing delays: adaptive policy vs fixed interval.",
    )
    parser.add_argument(
        "--base",
        type=float,
        default=_default("poll_interval"),
        help="sweep interval and shortest gap, seconds (VIBER_BOT_POLL_INTERVAL)",
    )
    parser.add_argument(
        "--factor",
        type=float,
        default=_default("poll_backoff_factor"),
        help="gap = quiet time x factor (VIBER_BOT_POLL_BACKOFF_FACTOR)",
    )
    parser.add_argument(
        "--cap",
        type=float,
        default=_default("poll_max_interval"),
        help="longest gap, seconds (VIBER_BOT_POLL_MAX_INTERVAL)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=_default("expiry_grace"),
        help="looking on after validity before calling it expired (VIBER_BOT_EXPIRY_GRACE)",
    )
    parser.add_argument(
        "--validity", type=float, default=86400.0, help="message validity, seconds (86400)"
    )
    parser.add_argument(
        "--phase",
        type=float,
        default=0.5,
        help="where sending falls between two sweeps, 0..1 (0.5: half-way, the average case)",
    )
    parser.add_argument(
        "--changes",
        default=",".join(f"{c:g}" for c in CHANGES),
        help="seconds after sending at which a status changes, comma-separated",
    )
    parser.add_argument(
        "--answer-delay",
        type=float,
        default=0.0,
        help="seconds into a sweep its answers come (0: at the tick)",
    )
    parser.add_argument(
        "--anchor",
        choices=("tick", "answer"),
        default="tick",
        help="next look counted from the sweep's tick (the poller) or from the answer (before)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when the GET target is missed"
    )
    args = parser.parse_args(argv)
    if args.base <= 0 or args.cap <= 0 or args.factor < 0 or args.validity < 15:
        parser.error("--base and --cap must be > 0, --factor >= 0 and --validity >= 15")
    if not 0 <= args.answer_delay < args.base:
        parser.error("--answer-delay is seconds into a sweep, 0 <= delay < --base")
    if not 0 <= args.phase < 1:
        parser.error("--phase is a fraction of the sweep interval, 0 <= phase < 1")
    try:
        args.change_list = [float(part) for part in args.changes.split(",") if part.strip()]
    except ValueError:
        parser.error("--changes takes seconds separated by commas, e.g. 60,600,3600")
    return args


def first_hour_median(
    policy: PollPolicy,
    *,
    validity: float,
    phase: float,
    answer_delay: float = 0.0,
    anchor: str = "tick",
) -> float:
    """Median delay to notice a change, over changes every minute of the first hour."""
    delays = []
    for moment in range(60, 3601, 60):
        life = follow(
            policy,
            validity=validity,
            phase=phase,
            change_at=float(moment),
            answer_delay=answer_delay,
            anchor=anchor,
        )
        if life.noticed_at is not None:
            delays.append(life.noticed_at - moment)
    return statistics.median(delays) if delays else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    adaptive = PollPolicy(base=args.base, factor=args.factor, cap=args.cap, expiry_grace=args.grace)
    fixed = PollPolicy(base=args.base, factor=0.0, cap=args.base, expiry_grace=args.grace)
    policies = {"adaptive": adaptive, "fixed": fixed}
    # The defaults before issue 11 (cap 3600 s), measured in the same run as the baseline.
    previous = PollPolicy(
        base=args.base, factor=args.factor, cap=PREVIOUS_CAP_S, expiry_grace=args.grace
    )
    # Where the sweep's answers come and where the next look is counted from.
    timing = {"answer_delay": args.answer_delay, "anchor": args.anchor}
    previous_gets = follow(previous, validity=args.validity, phase=args.phase, **timing).gets
    median_now = first_hour_median(adaptive, validity=args.validity, phase=args.phase, **timing)
    median_before = first_hour_median(previous, validity=args.validity, phase=args.phase, **timing)

    quiet = {
        name: follow(p, validity=args.validity, phase=args.phase, **timing)
        for name, p in policies.items()
    }
    delivered = {
        name: follow(
            p,
            validity=args.validity,
            phase=args.phase,
            change_at=5.0,
            stop_when_noticed=False,
            **timing,
        )
        for name, p in policies.items()
    }
    changes = {
        name: {
            t: follow(p, validity=args.validity, phase=args.phase, change_at=t, **timing)
            for t in args.change_list
        }
        for name, p in policies.items()
    }

    metrics: list[tuple[str, object]] = [
        ("base_s", args.base),
        ("factor", args.factor),
        ("cap_s", args.cap),
        ("grace_s", args.grace),
        ("validity_s", args.validity),
        ("phase", args.phase),
        ("answer_delay_s", args.answer_delay),
        ("anchor", args.anchor),
    ]
    for name in policies:
        metrics.append((f"{name}.gets_never_changes", quiet[name].gets))
        metrics.append((f"{name}.final_after_s", quiet[name].final_at))
        metrics.append((f"{name}.gets_delivered_never_read", delivered[name].gets))
        for moment, life in changes[name].items():
            noticed = life.noticed_at
            delay = None if noticed is None else noticed - moment
            metrics.append((f"{name}.delay_{_label(moment)}_s", delay))
            metrics.append((f"{name}.gap_{_label(moment)}_s", _gap_at(quiet[name], moment)))
    metrics += [
        ("previous.cap_s", PREVIOUS_CAP_S),
        ("previous.gets_never_changes", previous_gets),
        ("adaptive.first_hour_median_delay_s", median_now),
        ("previous.first_hour_median_delay_s", median_before),
    ]
    print_metrics("polling_economy", metrics)

    gets = quiet["adaptive"].gets
    rows: list[list[object]] = [
        [
            "GETs, message that never changes",
            gets,
            quiet["fixed"].gets,
            f"<= {GETS_TARGET} {verdict(gets, GETS_TARGET)}",
        ],
        [
            f"GETs, never changes, cap {PREVIOUS_CAP_S:g} s",
            previous_gets,
            "",
            "",
        ],
        [
            "first-hour median delay (s)",
            f"{median_now:g}",
            "",
            f"<= {median_before:g} {verdict(median_now, median_before)}",
        ],
        [
            "GETs, delivered at 5 s, never read",
            delivered["adaptive"].gets,
            delivered["fixed"].gets,
            "",
        ],
    ]
    for moment in args.change_list:
        cells = []
        for name in policies:
            life = changes[name][moment]
            if life.noticed_at is None:
                cells.append("never")
            else:
                gap = _gap_at(quiet[name], moment)
                cells.append(f"{life.noticed_at - moment:g} s (gap {gap:g} s)")
        rows.append([f"delay noticing a change at {_label(moment)}", *cells, ""])
    print_table(
        f"polling_economy: base {args.base:g} s, factor {args.factor:g}, cap {args.cap:g} s, "
        f"validity {args.validity:g} s",
        ["figure", "adaptive", f"fixed {args.base:g} s", "target"],
        rows,
    )
    missed = gets > GETS_TARGET or median_now > median_before
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
