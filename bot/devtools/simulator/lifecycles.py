"""Message lifecycles: which statuses a simulated message passes through, and when."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.devtools.simulator.validation import MSISDN

# Statuses of a message still waiting to go out: no time_sent, no time_dr.
QUEUED = frozenset({"scheduled", "new", "waiting", "moderation", "accepted", "sending", "unknown"})
# Statuses that never count as sent.
NEVER_SENT = QUEUED | {"rejected"}
# Statuses without a delivery report (time_dr stays null).
NO_REPORT = QUEUED | {"sent"}


class LifecycleError(ValueError):
    """A lifecycle (from code or YAML) is malformed; the message says where."""


@dataclass(frozen=True)
class Step:
    """One point of a lifecycle: from `after` seconds on, these statuses hold."""

    after: float
    viber: str
    sms: str | None = None


@dataclass(frozen=True)
class _Reached:
    """Where a lifecycle stands at one index, precomputed so a status query is O(1)."""

    viber_since: int
    sent_from: int | None
    sms: str | None
    sms_in: int | None
    sms_since: int | None
    sms_sent_from: int | None


class Lifecycle:
    """An ordered list of steps; SMS statuses carry over to later steps that give none."""

    __slots__ = ("_afters", "_reached", "steps")

    def __init__(self, steps: Iterable[Step | Iterable[Any]]) -> None:
        parsed = [s if isinstance(s, Step) else _parse_step(s, "step") for s in steps]
        if not parsed:
            raise LifecycleError("a lifecycle needs at least one step")
        parsed.sort(key=lambda s: s.after)
        self.steps: tuple[Step, ...] = tuple(parsed)
        self._afters = [s.after for s in self.steps]
        self._reached = self._precompute()

    def _precompute(self) -> tuple[_Reached, ...]:
        reached: list[_Reached] = []
        sms: str | None = None
        viber_since = 0
        sent_from = sms_in = sms_since = sms_sent_from = None
        for i, step in enumerate(self.steps):
            if i and step.viber != self.steps[i - 1].viber:
                viber_since = i
            if sent_from is None and step.viber not in NEVER_SENT:
                sent_from = i
            if step.sms is not None and step.sms != sms:
                sms, sms_since = step.sms, i
                if sms_in is None:
                    sms_in = i
            if sms is not None and sms_sent_from is None and sms not in NEVER_SENT:
                sms_sent_from = i
            reached.append(_Reached(viber_since, sent_from, sms, sms_in, sms_since, sms_sent_from))
        return tuple(reached)

    def reached(self, index: int) -> _Reached:
        return self._reached[index]

    def index_at(self, elapsed: float) -> int:
        """Index of the step in force `elapsed` (unscaled) seconds in; -1 before the first."""
        return bisect.bisect_right(self._afters, elapsed + 1e-9) - 1

    def as_lists(self) -> list[list[Any]]:
        """The steps in the YAML form."""
        return [[s.after, s.viber] + ([s.sms] if s.sms else []) for s in self.steps]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lifecycle) and self.steps == other.steps

    def __hash__(self) -> int:
        return hash(self.steps)

    def __repr__(self) -> str:
        return f"Lifecycle({self.as_lists()!r})"


def _parse_step(raw: Any, where: str) -> Step:
    if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
        raise LifecycleError(f"{where}: a step is [after_seconds, viber_status, sms_status?]")
    items = list(raw)
    if len(items) not in (2, 3):
        raise LifecycleError(f"{where}: a step is [after_seconds, viber_status, sms_status?]")
    after, viber, *rest = items
    sms = rest[0] if rest else None
    if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
        raise LifecycleError(f"{where}: after_seconds must be a number >= 0, not {after!r}")
    if not isinstance(viber, str) or not viber.strip():
        raise LifecycleError(f"{where}: the Viber status must be a word, not {viber!r}")
    if sms is not None and (not isinstance(sms, str) or not sms.strip()):
        raise LifecycleError(f"{where}: the SMS status must be a word or null, not {sms!r}")
    return Step(float(after), viber.strip().lower(), sms.strip().lower() if sms else None)


def _lifecycle(raw: Any, where: str) -> Lifecycle:
    if isinstance(raw, Lifecycle):
        return raw
    if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
        raise LifecycleError(f"{where}: a lifecycle is a list of steps")
    steps = [_parse_step(s, f"{where}[{i}]") for i, s in enumerate(raw)]
    try:
        return Lifecycle(steps)
    except LifecycleError as exc:
        raise LifecycleError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Lifecycles:
    """Which lifecycle a number follows: by whole msisdn first, then by its last digit."""

    by_last_digit: Mapping[str, Lifecycle]
    by_msisdn: Mapping[str, Lifecycle] = field(default_factory=dict)

    def for_msisdn(self, msisdn: str) -> Lifecycle:
        pinned = self.by_msisdn.get(msisdn)
        if pinned is not None:
            return pinned
        return self.by_last_digit.get(msisdn[-1:], FALLBACK)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, base: Lifecycles | None = None, where: str = "lifecycles"
    ) -> Lifecycles:
        """Lifecycles from the YAML form, over `base` (the default table unless given)."""
        if not isinstance(data, Mapping):
            raise LifecycleError(f"{where}: expected a mapping with by_last_digit / by_msisdn")
        unknown = set(data) - {"by_last_digit", "by_msisdn"}
        if unknown:
            raise LifecycleError(f"{where}: unknown keys {sorted(map(str, unknown))}")
        base = DEFAULT_LIFECYCLES if base is None else base
        by_digit = dict(base.by_last_digit)
        by_msisdn = dict(base.by_msisdn)
        for key, raw in _section(data, "by_last_digit", where).items():
            digit = str(key)
            if not re.fullmatch(r"[0-9]", digit):
                raise LifecycleError(f"{where}.by_last_digit: {key!r} is not a single digit")
            by_digit[digit] = _lifecycle(raw, f"{where}.by_last_digit.{digit}")
        for key, raw in _section(data, "by_msisdn", where).items():
            msisdn = str(key)
            if not MSISDN.match(msisdn):
                raise LifecycleError(f"{where}.by_msisdn: {key!r} is not 6..15 digits")
            by_msisdn[msisdn] = _lifecycle(raw, f"{where}.by_msisdn.{msisdn}")
        return cls(by_digit, by_msisdn)


def _section(data: Mapping[str, Any], name: str, where: str) -> Mapping[Any, Any]:
    section = data.get(name) or {}
    if not isinstance(section, Mapping):
        raise LifecycleError(f"{where}.{name}: expected a mapping")
    return section


def load_lifecycles(path: str | Path, *, base: Lifecycles | None = None) -> Lifecycles:
    """Lifecycles from a YAML file, over the default last-digit table (or `base`)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise LifecycleError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise LifecycleError(f"{path}: not valid YAML: {exc}") from None
    return Lifecycles.from_mapping(data, base=base, where=str(path))


FALLBACK = Lifecycle([Step(0, "sent"), Step(5, "delivered"), Step(30, "read")])
READ = FALLBACK
SMS_DELIVERED = Lifecycle(
    [
        Step(0, "sent"),
        Step(10, "not_viber_user"),
        Step(12, "not_viber_user", "sent"),
        Step(20, "not_viber_user", "delivered"),
    ]
)
SMS_FAILED = Lifecycle(
    [
        Step(0, "sent"),
        Step(10, "not_viber_user"),
        Step(12, "not_viber_user", "sent"),
        Step(30, "not_viber_user", "undelivered"),
    ]
)

DEFAULT_LIFECYCLES = Lifecycles(
    by_last_digit={
        "0": READ,
        "1": READ,
        "2": Lifecycle([Step(0, "sent"), Step(5, "delivered")]),
        "3": SMS_DELIVERED,
        "4": Lifecycle([Step(0, "sent"), Step(15, "undelivered")]),
        "5": Lifecycle([Step(0, "sent")]),
        "6": Lifecycle([Step(0, "sent"), Step(60, "expired")]),
        "7": SMS_FAILED,
        "8": Lifecycle([Step(0, "sent"), Step(1, "delivered"), Step(2, "read")]),
        "9": Lifecycle([Step(0, "rejected")]),
    }
)
