"""A simulator of BSG's Viber REST API (aiohttp): for the demo, free trials, tests and benchmarks.

Run it
------
``viber-bot simulate-bsg --port 8080`` (or ``serve_forever("127.0.0.1", 8080)``) and point the
bot at it with ``BSG_API_URL=http://127.0.0.1:8080/rest``; any non-empty ``BSG_API_KEY`` works
unless the simulator was given an ``api_key``. Nothing leaves the machine and nothing costs money.
In-process (tests, benchmarks, ``viber-bot demo``)::

    sim = BsgSimulator(time_scale=0.1, clock=fake_clock)
    base_url = await sim.start()          # "http://127.0.0.1:<port>/rest"
    ...
    await sim.stop()

Endpoints (all under ``/rest``, all need ``X-API-KEY``; a missing or wrong key gets HTTP 401
``{"code":401,"message":"API Key not found"}``):

=====================================  ==================================================
``POST|PUT /viber/create``             send; validated like BSG (codes below)
``GET /viber/{id}``                    status by BSG id
``GET /viber/reference/{reference}``   status by the sender's reference
``GET /common/balance``                ``{"error":0,"amount":"99.98","currency":"EUR",...}``
``GET /viber/prices[/{tariff}]``       price list (one flat price per Viber message)
``POST /viber/price``                  cost preview of a create body; nothing is sent
``POST /sms/create``                   SMS API send (``destination`` ``phone`` or ``phones``)
``GET /sms/{id}``                      SMS status by id (``/sms/reference/{ref}`` by reference)
``POST /sms/price``                    SMS cost: ``sms_price`` x segments x phones
=====================================  ==================================================

SMS API messages (``/sms/create``) follow their own short lifecycle by the msisdn's last digit:
7 -> ``sent`` then ``undelivered`` after 5 s, 9 -> ``rejected`` at once, any other -> ``sent``
then ``delivered`` after 2 s (times scaled by ``time_scale``). Refusals: 24 payload unreadable,
7 originator not 3..15 characters, 4 body not 1..765 characters, 14 not enough funds; per
phone: 1 msisdn not ``^[1-9][0-9]{7,14}$``, 43 reference reused. Unknown id or reference:
``{"error": 20, "errorDescription": "SMS not found"}``. ``price_delay`` holds both price
answers that many real seconds (a slow BSG for the live estimate).

Refusals come in the body with HTTP 200, as BSG does (``http_errors=True`` answers them with
HTTP 400/404 instead, as some deployments do). Whole-request refusals are top level,
``{"error": N, "errorDescription": "..."}``: 6 tariff not 0..9, 7 body not a JSON object,
8 not enough funds (the balance drops by ``price`` per accepted recipient), 10 unreadable
``scheduledDatetime``, 12 more than ``max_recipients`` (50) ``to`` in one message, 44 no
messages or an empty ``to``, 45 ``alpha_name`` empty, longer than 14 or not in
``registered_senders`` (default: any sender), 46 text empty or over 1000 characters,
48 validity outside 15..86400, 49 image without caption and action, caption without action
(or the reverse), or an ``alt_route`` without a 3..15 character originator and 1..765
character text. Refusals per recipient, inside ``result[]``: 41 msisdn not 6..15 digits,
47 reference not ``[A-Za-z0-9_]{1,32}``, 43 reference already used with this API key (ever;
the original message stays retrievable by that reference, which is how idempotent retries
are proven). A status query for an unknown id or reference gets
``{"error": 40, "errorDescription": "Message not found"}``.

Response shapes: ``shape="result"`` (default) answers a create with the documented
``{"result":[...],"total_price":..,"currency":..}``; ``shape="array"`` with
``[{"error":"0","messages":[{"id","reference","price":"0.0200000","currency"}]}]`` (one entry
per message object). ``quirky=True`` mixes, from a seeded RNG, every form the reference
publishes: ``error`` as ``0``, ``"0"`` or absent, prices as strings or numbers, null times
left out. Ids are always strings.

Lifecycles
----------
Each accepted recipient follows a lifecycle: steps ``(after_seconds, viber_status,
sms_status_or_None)`` measured from acceptance, or from ``scheduledDatetime`` when that is
later (the status is ``scheduled`` until then). Step times are multiplied by ``time_scale``
(0.1 makes everything ten times faster). SMS steps only apply when the create asked for
``alt_route``; without it the Viber status of those steps (``not_viber_user``) is final and no
``alt_route`` appears. An SMS status, once set, carries over to later steps that give none.
Before a lifecycle's first step (when it starts later than 0) the status is ``new``.
The default lifecycle is chosen by the msisdn's LAST DIGIT:

=====  =============================================================  ======================
digit  steps (seconds after acceptance, at ``time_scale=1``)           ends as
=====  =============================================================  ======================
0, 1   0 sent, 5 delivered, 30 read                                    read
2      0 sent, 5 delivered                                             delivered (never read)
3      0 sent, 10 not_viber_user, 12 SMS sent, 20 SMS delivered       SMS delivered (a)
4      0 sent, 15 undelivered                                          undelivered
5      0 sent                                                          sent forever (b)
6      0 sent, 60 expired                                              expired
7      0 sent, 10 not_viber_user, 12 SMS sent, 30 SMS undelivered     SMS failed (a)
8      0 sent, 1 delivered, 2 read                                     read, quickly
9      0 rejected                                                      rejected at once
=====  =============================================================  ======================

(a) only with ``alt_route`` in the create; without it ``not_viber_user`` is final.
(b) the simulator never expires a message by itself: the bot's validity logic must.

A YAML file (see ``bot/devtools/lifecycles.example.yaml``) replaces entries of that table and
can pin lifecycles to whole numbers; ``by_msisdn`` wins over ``by_last_digit``, digits it leaves out
keep the defaults::

    by_last_digit:
      "0": [[0, sent], [5, delivered], [30, read]]
      "3": [[0, sent], [10, not_viber_user], [12, not_viber_user, sent]]
    by_msisdn:
      "380972920283": [[0, sent], [2, undelivered]]

Statuses report ``time_in`` (acceptance), ``time_sent`` (first step past the queue) and
``time_dr`` (when the current final-or-delivered status was reached) as
``YYYY-MM-DD HH:MM:SS`` UTC, null until reached; the SMS fallback has the same in
``alt_route_messages``. The SMS price is shown there but never charged.

Scripting (plain attributes and methods; tests run the simulator in-process)
----------------------------------------------------------------------------
- ``clock``: ``Callable[[], datetime]`` (aware UTC), real time by default; a fake clock makes
  lifecycles deterministic.
- ``fail_next(path_prefix, count=1, status=500 | 429 | "timeout", retry_after=None,
  after_processing=False)``: the next ``count`` requests under the prefix (``/viber/create``
  or ``/rest/viber/create``) fail with that HTTP status (429 carries ``Retry-After``), or hang
  for ``hang_seconds`` (``"timeout"``). ``after_processing=True`` does the work first (the
  message is recorded and charged) and then fails: "BSG took it but the answer was lost".
- ``create_delay`` / ``get_delay``: real seconds (not scaled, not the injected clock) to hold
  create answers (the message is recorded before the delay, so a client that gives up leaves
  it at BSG) and status answers. ``stop()`` releases every held or hanging request at once.
- ``drop_connections``: the share (0..1) of answers after which the server closes the
  kept-alive connection (counted in ``dropped_connections``), so a client's next request on it
  meets a closed socket, as with idle connections a server or load balancer times out.
- ``set_status(reference_or_id, viber_status, sms_status=None)`` freezes a message's status
  (an SMS status on a message sent without ``alt_route`` adds a fallback).
- ``callbacks`` (:class:`bot.devtools.sim_callbacks.CallbackSender`): a create's
  ``callback_url`` (and ``alt_route.callback_url``) is POSTed to on every status change, as
  JSON, a form or an empty body; ``delay``, ``loss``, ``duplicates``, ``reorder`` script it.
- ``refuse_msisdn(msisdn, code=41)`` refuses that (well-formed) number per recipient with
  ``code`` in every later create, as BSG does for a number it will not take.
- ``messages`` (id -> :class:`SimMessage`), ``message(reference_or_id)``,
  ``status_of(reference_or_id)``, ``sms_status_of(...)``, ``sent_to(msisdn)`` (how many times
  that number was accepted), ``requests`` (``(method, path)`` of every request), ``calls``
  (counts per endpoint: ``create``, ``status_by_id``, ``status_by_reference``, ``balance``,
  ``prices``, ``price_preview``) with ``create_calls`` / ``status_calls`` shortcuts,
  ``balance``, ``lifecycles``, ``reset_counters()``.

Per-request work is a few dict lookups and a bisect over a lifecycle's steps, so the
simulator keeps up with thousands of status queries a second.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import random
import re
import signal
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

import yaml
from aiohttp import web

from bot.clock import Clock, utcnow
from bot.devtools.sim_callbacks import CallbackSender
from bot.domain.segments import count_segments

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MSISDN = re.compile(r"^[0-9]{6,15}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Statuses of a message still waiting to go out: no time_sent, no time_dr.
_QUEUED = frozenset({"scheduled", "new", "waiting", "moderation", "accepted", "sending", "unknown"})
# Statuses that never count as sent.
_NEVER_SENT = _QUEUED | {"rejected"}
# Statuses without a delivery report (time_dr stays null).
_NO_REPORT = _QUEUED | {"sent"}

_DESCRIPTIONS = {
    0: "No errors",
    6: "Invalid tariff",
    7: "Invalid parameters",
    8: "Not enough funds",
    10: "Invalid send time",
    12: "Too many recipients in one message",
    40: "Message not found",
    41: "Invalid phone number",
    43: "Reference already exists",
    44: "Invalid payload",
    45: "Sender not registered",
    46: "Invalid text",
    47: "Invalid reference",
    48: "Invalid validity",
    49: "Invalid Viber options",
}

# (country, country_name, mcc, mnc) rows of the price list; every row costs `price`.
_NETWORKS = (
    ("UA", "Ukraine", "255", "01"),
    ("UA", "Ukraine", "255", "03"),
    ("UA", "Ukraine", "255", "06"),
    ("PL", "Poland", "260", "02"),
    ("DE", "Germany", "262", "01"),
    ("GB", "United Kingdom", "234", "10"),
)


def _format_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


# ---------------------------------------------------------------- lifecycles


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
            if sent_from is None and step.viber not in _NEVER_SENT:
                sent_from = i
            if step.sms is not None and step.sms != sms:
                sms, sms_since = step.sms, i
                if sms_in is None:
                    sms_in = i
            if sms is not None and sms_sent_from is None and sms not in _NEVER_SENT:
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
        return self.by_last_digit.get(msisdn[-1:], _FALLBACK)

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
            if not _MSISDN.match(msisdn):
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


_FALLBACK = Lifecycle([Step(0, "sent"), Step(5, "delivered"), Step(30, "read")])
_READ = _FALLBACK
_SMS_DELIVERED = Lifecycle(
    [
        Step(0, "sent"),
        Step(10, "not_viber_user"),
        Step(12, "not_viber_user", "sent"),
        Step(20, "not_viber_user", "delivered"),
    ]
)
_SMS_FAILED = Lifecycle(
    [
        Step(0, "sent"),
        Step(10, "not_viber_user"),
        Step(12, "not_viber_user", "sent"),
        Step(30, "not_viber_user", "undelivered"),
    ]
)

DEFAULT_LIFECYCLES = Lifecycles(
    by_last_digit={
        "0": _READ,
        "1": _READ,
        "2": Lifecycle([Step(0, "sent"), Step(5, "delivered")]),
        "3": _SMS_DELIVERED,
        "4": Lifecycle([Step(0, "sent"), Step(15, "undelivered")]),
        "5": Lifecycle([Step(0, "sent")]),
        "6": Lifecycle([Step(0, "sent"), Step(60, "expired")]),
        "7": _SMS_FAILED,
        "8": Lifecycle([Step(0, "sent"), Step(1, "delivered"), Step(2, "read")]),
        "9": Lifecycle([Step(0, "rejected")]),
    }
)


# ---------------------------------------------------------------- recorded messages


@dataclass
class SmsRoute:
    """The SMS fallback a create asked for (`alt_route`)."""

    id: str
    originator: str
    text: str
    price: Decimal


@dataclass(frozen=True)
class _Forced:
    viber: str
    sms: str | None
    at: datetime


@dataclass(frozen=True)
class Snapshot:
    """A message's status at one moment, as a status query reports it."""

    viber: str
    sent_at: datetime | None
    dr_at: datetime | None
    sms: str | None = None
    sms_in: datetime | None = None
    sms_sent_at: datetime | None = None
    sms_dr_at: datetime | None = None


@dataclass
class SimMessage:
    """One accepted recipient as BSG holds it."""

    id: str
    msisdn: str
    reference: str | None
    text: str
    sender: str
    accepted_at: datetime
    start_at: datetime
    scheduled: bool
    lifecycle: Lifecycle
    time_scale: float
    price: Decimal
    currency: str
    validity: int
    tariff: int
    promotional: bool
    sms: SmsRoute | None = None
    forced: _Forced | None = None
    account: str = field(default="", repr=False)
    callback_url: str | None = None
    sms_callback_url: str | None = None

    def _at(self, index: int) -> datetime:
        return self.start_at + timedelta(
            seconds=self.lifecycle.steps[index].after * self.time_scale
        )

    def finished(self, now: datetime) -> bool:
        """The lifecycle's last step is reached: nothing changes from here on by itself."""
        return now >= self._at(len(self.lifecycle.steps) - 1)

    def snapshot(self, now: datetime) -> Snapshot:
        """The status at `now`; a forced status freezes the message where `set_status` put it."""
        if self.forced is None:
            return self._natural(now)
        return self._forced(self.forced, self._natural(self.forced.at))

    def _natural(self, now: datetime) -> Snapshot:
        if now < self.start_at:
            return Snapshot("scheduled" if self.scheduled else "new", None, None)
        index = self.lifecycle.index_at((now - self.start_at).total_seconds() / self.time_scale)
        if index < 0:
            return Snapshot("new", None, None)
        viber = self.lifecycle.steps[index].viber
        reached = self.lifecycle.reached(index)
        sent_at = None if reached.sent_from is None else self._at(reached.sent_from)
        dr_at = None if viber in _NO_REPORT else self._at(reached.viber_since)
        if self.sms is None or reached.sms is None or reached.sms_in is None:
            return Snapshot(viber, sent_at, dr_at)
        sms_since = reached.sms_in if reached.sms_since is None else reached.sms_since
        return Snapshot(
            viber,
            sent_at,
            dr_at,
            sms=reached.sms,
            sms_in=self._at(reached.sms_in),
            sms_sent_at=None if reached.sms_sent_from is None else self._at(reached.sms_sent_from),
            sms_dr_at=None if reached.sms in _NO_REPORT else self._at(sms_since),
        )

    @staticmethod
    def _forced(forced: _Forced, natural: Snapshot) -> Snapshot:
        def moments(
            status: str, was: str | None, sent_at: datetime | None, dr_at: datetime | None
        ) -> tuple[datetime | None, datetime | None]:
            if sent_at is None and status not in _NEVER_SENT:
                sent_at = forced.at
            if status in _NO_REPORT:
                dr_at = None
            elif status != was or dr_at is None:
                dr_at = forced.at
            return sent_at, dr_at

        sent_at, dr_at = moments(forced.viber, natural.viber, natural.sent_at, natural.dr_at)
        if forced.sms is None:
            return Snapshot(
                forced.viber,
                sent_at,
                dr_at,
                natural.sms,
                natural.sms_in,
                natural.sms_sent_at,
                natural.sms_dr_at,
            )
        sms_sent_at, sms_dr_at = moments(
            forced.sms, natural.sms, natural.sms_sent_at, natural.sms_dr_at
        )
        return Snapshot(
            forced.viber,
            sent_at,
            dr_at,
            forced.sms,
            natural.sms_in or forced.at,
            sms_sent_at,
            sms_dr_at,
        )


# ---------------------------------------------------------------- scripted failures


@dataclass
class _Failure:
    prefix: str
    remaining: int
    status: int | Literal["timeout"]
    retry_after: float | None
    after_processing: bool


class _Refusal(Exception):
    """A whole-request refusal, raised while validating a create."""

    def __init__(self, code: int, description: str | None = None) -> None:
        self.code = code
        self.description = description or _DESCRIPTIONS.get(code, "Error")
        super().__init__(code, self.description)


@dataclass
class _Planned:
    """One recipient of a create after validation, before anything is recorded."""

    msisdn: str
    reference: str | None
    error: int = 0


@dataclass
class _PlannedMessage:
    text: str
    sender: str
    promotional: bool
    scheduled_at: datetime | None
    alt_route: tuple[str, str] | None
    recipients: list[_Planned]
    callback_url: str | None = None
    sms_callback_url: str | None = None


_REST = "/rest"
_ACCOUNT = web.RequestKey("account", str)
_ENDPOINT_OF_ROUTE = {"create_put": "create", "prices_by_tariff": "prices"}

# ---------------------------------------------------------------- the simulator


class BsgSimulator:
    """BSG's Viber REST API on 127.0.0.1, realistic by default and scriptable from tests."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        time_scale: float = 1.0,
        lifecycles: Lifecycles | Mapping[str, Any] | str | Path | None = None,
        shape: Literal["result", "array"] = "result",
        quirky: bool = False,
        seed: int = 0,
        balance: Decimal | str | int = Decimal("100"),
        price: Decimal | str = Decimal("0.0200000"),
        sms_price: Decimal | str = Decimal("0.0500000"),
        currency: str = "EUR",
        registered_senders: Iterable[str] | None = None,
        max_recipients: int = 50,
        http_errors: bool = False,
        clock: Clock | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if shape not in ("result", "array"):
            raise ValueError("shape must be 'result' or 'array'")
        self.api_key = api_key
        self.time_scale = float(time_scale)
        self.lifecycles = self._resolve_lifecycles(lifecycles)
        self.shape = shape
        self.quirky = quirky
        self.balance = Decimal(balance)
        self.price = Decimal(price)
        self.sms_price = Decimal(sms_price)
        self.currency = currency
        self.registered_senders = (
            None if registered_senders is None else frozenset(registered_senders)
        )
        self.max_recipients = max_recipients
        self.http_errors = http_errors
        self.clock: Clock = clock or utcnow
        self.create_delay = 0.0
        self.get_delay = 0.0
        self.price_delay = 0.0
        self.sms: dict[str, SimSms] = {}
        self._sms_by_reference: dict[tuple[str, str], SimSms] = {}
        self.hang_seconds = 300.0
        # Share of answers after which the server closes the kept-alive connection (0..1).
        self.drop_connections = 0.0
        self.dropped_connections = 0
        self._drop_rng = random.Random(seed + 1)

        self.messages: dict[str, SimMessage] = {}
        self.requests: list[tuple[str, str]] = []
        self.calls: Counter[str] = Counter()
        self._by_reference: dict[tuple[str, str], SimMessage] = {}
        self._any_reference: dict[str, SimMessage] = {}
        self._accepted: Counter[str] = Counter()
        self._failures: list[_Failure] = []
        self._refused_msisdns: dict[str, int] = {}
        self._next_id = 1000
        self._rng = random.Random(seed)
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None
        # POSTs to each create's callback_url as statuses change (see sim_callbacks).
        self.callbacks = CallbackSender(lambda: self.clock(), seed=seed)

    @staticmethod
    def _resolve_lifecycles(
        lifecycles: Lifecycles | Mapping[str, Any] | str | Path | None,
    ) -> Lifecycles:
        if lifecycles is None:
            return DEFAULT_LIFECYCLES
        if isinstance(lifecycles, Lifecycles):
            return lifecycles
        if isinstance(lifecycles, str | Path):
            return load_lifecycles(lifecycles)
        return Lifecycles.from_mapping(lifecycles)

    # ------------------------------------------------------------ running

    def make_app(self) -> web.Application:
        """The aiohttp application (routes under /rest); `start()` serves it."""
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024)
        app.router.add_post("/rest/viber/create", self._create, name="create")
        app.router.add_put("/rest/viber/create", self._create, name="create_put")
        app.router.add_post("/rest/viber/price", self._price_preview, name="price_preview")
        app.router.add_get("/rest/viber/prices", self._prices, name="prices")
        app.router.add_get("/rest/viber/prices/{tariff}", self._prices, name="prices_by_tariff")
        app.router.add_get(
            "/rest/viber/reference/{reference}",
            self._status_by_reference,
            name="status_by_reference",
        )
        app.router.add_get("/rest/viber/{id}", self._status_by_id, name="status_by_id")
        app.router.add_get("/rest/common/balance", self._balance, name="balance")
        app.router.add_post("/rest/sms/create", self._sms_create, name="sms_create")
        app.router.add_post("/rest/sms/price", self._sms_price, name="sms_price")
        app.router.add_get(
            "/rest/sms/reference/{reference}", self._sms_by_ref, name="sms_status_by_reference"
        )
        app.router.add_get("/rest/sms/{id}", self._sms_by_id, name="sms_status")
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port); returns the base URL ending in /rest."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.base_url = f"http://{shown}:{bound_port}{_REST}"
        logger.info("BSG simulator listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Stop serving; requests held by `timeout` failures or delays end at once."""
        self._stopping.set()
        await self.callbacks.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("BSG simulator stopped")

    async def __aenter__(self) -> BsgSimulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ scripting

    def fail_next(
        self,
        path_prefix: str,
        count: int = 1,
        status: int | Literal["timeout"] = 500,
        *,
        retry_after: float | None = None,
        after_processing: bool = False,
    ) -> None:
        """Make the next `count` requests whose path starts with `path_prefix` fail."""
        if status != "timeout" and not (isinstance(status, int) and 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400..599) or 'timeout'")
        prefix = path_prefix if path_prefix.startswith(_REST) else _REST + path_prefix
        if status == 429 and retry_after is None:
            retry_after = 1.0
        self._failures.append(_Failure(prefix, count, status, retry_after, after_processing))

    def refuse_msisdn(self, msisdn: str, code: int = 41) -> None:
        """Refuse this number per recipient with `code` (e.g. 41) in every later create."""
        if code == 0 or code not in _DESCRIPTIONS:
            raise ValueError(f"code must be a BSG error code the simulator knows, not {code}")
        self._refused_msisdns[str(msisdn)] = code

    def clear_failures(self) -> None:
        """Forget every failure scripted with fail_next: BSG is healthy again."""
        self._failures.clear()

    def set_status(
        self, reference_or_id: str, viber_status: str, sms_status: str | None = None
    ) -> None:
        """Force a message's status from now on (the lifecycle stops for it)."""
        msg = self.message(reference_or_id)
        if sms_status is not None and msg.sms is None:
            msg.sms = SmsRoute(self._new_id(), msg.sender[:15], msg.text[:765], self.sms_price)
        msg.forced = _Forced(viber_status, sms_status, self.clock())
        self.callbacks.changed(msg)

    def message(self, reference_or_id: str) -> SimMessage:
        """A recorded message by BSG id, or by reference (any API key); KeyError if none."""
        key = str(reference_or_id)
        msg = self.messages.get(key) or self._any_reference.get(key)
        if msg is None:
            raise KeyError(reference_or_id)
        return msg

    def status_of(self, reference_or_id: str) -> str:
        """The Viber status a query would report now."""
        return self.message(reference_or_id).snapshot(self.clock()).viber

    def sms_status_of(self, reference_or_id: str) -> str | None:
        """The SMS fallback's status a query would report now (None: no fallback yet)."""
        return self.message(reference_or_id).snapshot(self.clock()).sms

    def sent_to(self, msisdn: str) -> int:
        """How many times BSG accepted a message to this number."""
        return self._accepted[msisdn]

    @property
    def create_calls(self) -> int:
        return self.calls["create"]

    @property
    def status_calls(self) -> int:
        return self.calls["status_by_id"] + self.calls["status_by_reference"]

    @property
    def status_by_id_calls(self) -> int:
        return self.calls["status_by_id"]

    @property
    def status_by_reference_calls(self) -> int:
        return self.calls["status_by_reference"]

    def reset_counters(self) -> None:
        """Forget the request log and counts (messages and balance stay)."""
        self.requests.clear()
        self.calls.clear()

    # ------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        route_name = request.match_info.route.name
        if route_name:
            self.calls[_ENDPOINT_OF_ROUTE.get(route_name, route_name)] += 1
        failure = self._take_failure(request.path)
        if failure is not None and not failure.after_processing:
            return await self._fail(failure)
        supplied = request.headers.get("X-API-KEY", "").strip()
        if not supplied or (self.api_key is not None and supplied != self.api_key):
            logger.info(
                "BSG simulator: %s %s without a valid API key", request.method, request.path
            )
            response: web.StreamResponse = web.json_response(
                {"code": 401, "message": "API Key not found"}, status=401
            )
        else:
            request[_ACCOUNT] = supplied
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = web.json_response({"code": 404, "message": "Not Found"}, status=404)
            except web.HTTPMethodNotAllowed:
                response = web.json_response(
                    {"code": 405, "message": "Method Not Allowed"}, status=405
                )
        if failure is not None:
            return await self._fail(failure)
        if self.drop_connections and self._drop_rng.random() < self.drop_connections:
            # The answer goes out whole, then the kept-alive connection is closed under the
            # client, as servers and load balancers do with idle connections: the client's next
            # request on it meets a closed socket (a "stale keep-alive" connection).
            await response.prepare(request)
            await response.write_eof()
            transport = request.transport
            if transport is not None:
                self.dropped_connections += 1
                # Read nothing more, and close a moment later: a request the client sends on
                # it meanwhile is never seen, as with an idle connection closed under it.
                transport.pause_reading()
                asyncio.get_running_loop().call_later(
                    self._drop_rng.uniform(0.0, 0.005), transport.close
                )
        return response

    def _take_failure(self, path: str) -> _Failure | None:
        for failure in self._failures:
            if path.startswith(failure.prefix):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    async def _fail(self, failure: _Failure) -> web.Response:
        if failure.status == "timeout":
            await self._pause(self.hang_seconds)
            return web.json_response({"code": 504, "message": "Gateway Timeout"}, status=504)
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        try:
            reason = HTTPStatus(failure.status).phrase
        except ValueError:
            reason = "Error"
        return web.json_response(
            {"code": failure.status, "message": reason}, status=failure.status, headers=headers
        )

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0 or self._stopping.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _refusal(self, code: int, description: str | None = None) -> web.Response:
        body = {"error": self._code(code), "errorDescription": description or _DESCRIPTIONS[code]}
        status = 200
        if self.http_errors:
            status = 404 if code == 40 else 400
        return web.json_response(body, status=status)

    def _code(self, code: int, *, as_text: bool = False) -> int | str:
        if self.quirky:
            as_text = self._rng.random() < 0.5
        return str(code) if as_text else code

    def _money(self, amount: Decimal, *, as_text: bool) -> str | float:
        if self.quirky:
            as_text = self._rng.random() < 0.5
        return str(amount) if as_text else float(amount)

    def _with_ok(self, body: dict[str, Any], *, as_text: bool = False) -> dict[str, Any]:
        """`body` headed by a success code, in whichever form the mode calls for."""
        if self.quirky:
            form = self._rng.randrange(3)
            if form == 2:  # absent
                return body
            as_text = form == 1
        return {"error": "0" if as_text else 0, "errorDescription": "No errors", **body}

    def _times(self, body: dict[str, Any], times: Mapping[str, datetime | None]) -> None:
        for name, moment in times.items():
            if moment is None and self.quirky and self._rng.random() < 0.5:
                continue
            body[name] = _format_time(moment)

    # ------------------------------------------------------------ create

    async def _read_json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read() or b"null")
        except ValueError:
            return None

    async def _create(self, request: web.Request) -> web.Response:
        payload = await self._read_json(request)
        account = request[_ACCOUNT]
        try:
            validity, tariff, planned = self._validate(payload, account)
        except _Refusal as refusal:
            logger.info("BSG simulator refused a create: code %d", refusal.code)
            return self._refusal(refusal.code, refusal.description)
        accepted = sum(1 for m in planned for r in m.recipients if not r.error)
        cost = self.price * accepted
        if cost > self.balance:
            logger.info("BSG simulator refused a create: not enough funds for %d", accepted)
            return self._refusal(8)
        self.balance -= cost
        now = self.clock()
        entries: list[list[tuple[_Planned, SimMessage | None]]] = []
        for plan in planned:
            row: list[tuple[_Planned, SimMessage | None]] = []
            for recipient in plan.recipients:
                msg = None
                if not recipient.error:
                    msg = self._record(plan, recipient, now, validity, tariff, account)
                row.append((recipient, msg))
            entries.append(row)
        logger.info(
            "BSG simulator accepted %d of %d recipients",
            accepted,
            sum(len(m.recipients) for m in planned),
        )
        body = self._create_body(entries, cost)
        await self._pause(self.create_delay)
        return web.json_response(body)

    def _record(
        self,
        plan: _PlannedMessage,
        recipient: _Planned,
        now: datetime,
        validity: int,
        tariff: int,
        account: str,
    ) -> SimMessage:
        msg_id = self._new_id()
        sms = None
        if plan.alt_route is not None:
            sms = SmsRoute(self._new_id(), plan.alt_route[0], plan.alt_route[1], self.sms_price)
        scheduled = plan.scheduled_at is not None and plan.scheduled_at > now
        msg = SimMessage(
            id=msg_id,
            msisdn=recipient.msisdn,
            reference=recipient.reference,
            text=plan.text,
            sender=plan.sender,
            accepted_at=now,
            start_at=plan.scheduled_at if scheduled and plan.scheduled_at else now,
            scheduled=scheduled,
            lifecycle=self.lifecycles.for_msisdn(recipient.msisdn),
            time_scale=self.time_scale,
            price=self.price,
            currency=self.currency,
            validity=validity,
            tariff=tariff,
            promotional=plan.promotional,
            sms=sms,
            account=account,
            callback_url=plan.callback_url,
            sms_callback_url=plan.sms_callback_url if sms is not None else None,
        )
        self.messages[msg.id] = msg
        if msg.reference is not None:
            self._by_reference[(account, msg.reference)] = msg
            self._any_reference.setdefault(msg.reference, msg)
        self._accepted[msg.msisdn] += 1
        self.callbacks.watch(msg)
        return msg

    def _create_body(
        self, entries: list[list[tuple[_Planned, SimMessage | None]]], cost: Decimal
    ) -> Any:
        if self.shape == "array":
            return [
                {
                    "error": self._code(0, as_text=True),
                    "messages": [self._array_entry(r, m) for r, m in row],
                }
                for row in entries
            ]
        result = [self._result_entry(r, m) for row in entries for r, m in row]
        return {
            "result": result,
            "total_price": self._money(cost, as_text=False),
            "currency": self.currency,
        }

    def _result_entry(self, recipient: _Planned, msg: SimMessage | None) -> dict[str, Any]:
        if msg is None:
            entry: dict[str, Any] = {
                "error": self._code(recipient.error),
                "errorDescription": _DESCRIPTIONS[recipient.error],
            }
            if recipient.reference is not None:
                entry["reference"] = recipient.reference
            return entry
        entry = {}
        if msg.reference is not None:
            entry["reference"] = msg.reference
        entry["id"] = msg.id
        entry["price"] = self._money(msg.price, as_text=False)
        entry["currency"] = msg.currency
        return self._with_ok(entry)

    def _array_entry(self, recipient: _Planned, msg: SimMessage | None) -> dict[str, Any]:
        if msg is None:
            entry: dict[str, Any] = {
                "error": self._code(recipient.error, as_text=True),
                "errorDescription": _DESCRIPTIONS[recipient.error],
            }
            if recipient.reference is not None:
                entry["reference"] = recipient.reference
            return entry
        entry = {"id": msg.id}
        if msg.reference is not None:
            entry["reference"] = msg.reference
        entry["price"] = self._money(msg.price, as_text=True)
        entry["currency"] = msg.currency
        return entry

    def _validate(
        self, payload: Any, account: str, *, check_references: bool = True
    ) -> tuple[int, int, list[_PlannedMessage]]:
        if not isinstance(payload, dict):
            raise _Refusal(7)
        validity = _integer(payload.get("validity", 86400))
        if validity is None or not 15 <= validity <= 86400:
            raise _Refusal(48)
        tariff = _integer(payload.get("tariff", 0))
        if tariff is None or not 0 <= tariff <= 9:
            raise _Refusal(6)
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _Refusal(44, "No messages")
        seen: set[str] = set()
        planned = []
        for message in messages:
            plan = self._validate_message(message)
            for recipient in plan.recipients:
                if recipient.error or recipient.reference is None or not check_references:
                    continue
                if (account, recipient.reference) in self._by_reference or (
                    recipient.reference in seen
                ):
                    recipient.error = 43
                else:
                    seen.add(recipient.reference)
            planned.append(plan)
        return validity, tariff, planned

    def _validate_message(self, message: Any) -> _PlannedMessage:
        if not isinstance(message, dict):
            raise _Refusal(44)
        to = message.get("to")
        if not isinstance(to, list) or not to:
            raise _Refusal(44, "Empty recipients list")
        if len(to) > self.max_recipients:
            raise _Refusal(12, f"Too many recipients in one message (max {self.max_recipients})")
        text = message.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 1000:
            raise _Refusal(46)
        sender = message.get("alpha_name")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > 14:
            raise _Refusal(45, "Invalid sender name")
        if self.registered_senders is not None and sender not in self.registered_senders:
            raise _Refusal(45)
        alt_route = self._validate_options(message)
        scheduled_at = _parse_schedule(message.get("scheduledDatetime"))
        return _PlannedMessage(
            text=text,
            sender=sender,
            promotional=message.get("is_promotional") in (True, 1, "1", "true"),
            scheduled_at=scheduled_at,
            alt_route=alt_route,
            recipients=[self._refuse_scripted(_plan_recipient(item)) for item in to],
            callback_url=_url(message.get("callback_url")),
            sms_callback_url=_url(_alt_route_of(message).get("callback_url")),
        )

    def _refuse_scripted(self, recipient: _Planned) -> _Planned:
        if not recipient.error and recipient.msisdn in self._refused_msisdns:
            recipient.error = self._refused_msisdns[recipient.msisdn]
        return recipient

    @staticmethod
    def _validate_options(message: dict[str, Any]) -> tuple[str, str] | None:
        options = message.get("options") or {}
        if not isinstance(options, dict):
            raise _Refusal(49)
        viber = options.get("viber") or {}
        if not isinstance(viber, dict):
            raise _Refusal(49)
        img, caption, action = (viber.get(k) for k in ("img", "caption", "action"))
        if img and not (caption and action):
            raise _Refusal(49, "An image needs a caption and an action")
        if bool(caption) != bool(action):
            raise _Refusal(49, "A button needs both a caption and an action")
        # Working examples put alt_route under options.viber; the seed page at message level.
        alt = viber.get("alt_route") or message.get("alt_route")
        if not alt:
            return None
        if not isinstance(alt, dict):
            raise _Refusal(49, "Invalid alt_route")
        originator, text = alt.get("originator"), alt.get("text")
        if not isinstance(originator, str) or not 3 <= len(originator) <= 15:
            raise _Refusal(49, "Invalid alt_route originator")
        if not isinstance(text, str) or not 1 <= len(text) <= 765:
            raise _Refusal(49, "Invalid alt_route text")
        return originator, text

    # ------------------------------------------------------------ status

    async def _status_by_id(self, request: web.Request) -> web.Response:
        msg = self.messages.get(request.match_info["id"])
        if msg is not None and msg.account != request[_ACCOUNT]:
            msg = None
        return await self._status(msg)

    async def _status_by_reference(self, request: web.Request) -> web.Response:
        key = (request[_ACCOUNT], request.match_info["reference"])
        return await self._status(self._by_reference.get(key))

    async def _status(self, msg: SimMessage | None) -> web.Response:
        if self.get_delay > 0:
            await asyncio.sleep(self.get_delay)
        if msg is None:
            return self._refusal(40)
        return web.json_response(self._status_body(msg, msg.snapshot(self.clock())))

    def _status_body(self, msg: SimMessage, snap: Snapshot) -> dict[str, Any]:
        body: dict[str, Any] = {"id": msg.id, "msisdn": msg.msisdn, "reference": msg.reference}
        self._times(
            body, {"time_in": msg.accepted_at, "time_sent": snap.sent_at, "time_dr": snap.dr_at}
        )
        body["status"] = snap.viber
        body["price"] = self._money(msg.price, as_text=False)
        body["currency"] = msg.currency
        if msg.sms is not None and snap.sms is not None:
            sms = msg.sms
            body["alt_route"] = [
                {
                    "channel": "sms",
                    "id": sms.id,
                    "status": snap.sms,
                    "price": self._money(sms.price, as_text=False),
                }
            ]
            detail: dict[str, Any] = {"id": sms.id}
            self._times(
                detail,
                {"time_in": snap.sms_in, "time_sent": snap.sms_sent_at, "time_dr": snap.sms_dr_at},
            )
            detail.update(
                status=snap.sms,
                price=self._money(sms.price, as_text=False),
                currency=self.currency,
                message=sms.text,
                sender=sms.originator,
            )
            body["alt_route_messages"] = [detail]
        return self._with_ok(body)

    # ------------------------------------------------------------ account

    async def _balance(self, request: web.Request) -> web.Response:
        body = {
            "amount": self._money(self.balance, as_text=True),
            "currency": self.currency,
            "limit": self._money(Decimal("0.00"), as_text=True),
        }
        return web.json_response(self._with_ok(body))

    async def _prices(self, request: web.Request) -> web.Response:
        tariff = request.match_info.get("tariff")
        if tariff is not None and (not tariff.isdigit() or not 0 <= int(tariff) <= 9):
            return self._refusal(6)
        prices = [
            {
                "type": "viber",
                "country": country,
                "country_name": name,
                "mcc": mcc,
                "mnc": mnc,
                "price": self._money(self.price, as_text=True),
                "currency": self.currency,
            }
            for country, name, mcc, mnc in _NETWORKS
        ]
        return web.json_response({"prices": prices})

    async def _price_preview(self, request: web.Request) -> web.Response:
        await self._pause(self.price_delay)
        payload = await self._read_json(request)
        try:
            _, _, planned = self._validate(payload, request[_ACCOUNT], check_references=False)
        except _Refusal as refusal:
            return self._refusal(refusal.code, refusal.description)
        count = sum(1 for m in planned for r in m.recipients if not r.error)
        body = {
            "totalprice": self._money(self.price * count, as_text=True),
            "currency": self.currency,
        }
        return web.json_response(self._with_ok(body))

    # ------------------------------------------------------------ the SMS API

    def _sms_plan(self, payload: Any) -> tuple[str, str, list[_Planned]]:
        """(originator, body, phones) of an SMS create or price body; _Refusal when unusable."""
        if not isinstance(payload, dict):
            raise _Refusal(24, "Invalid payload JSON")
        destination = payload.get("destination")
        if destination == "phone":
            items: Any = [{"msisdn": payload.get("msisdn"), "reference": payload.get("reference")}]
        elif destination == "phones":
            items = payload.get("phones")
        else:
            raise _Refusal(24, "Invalid destination")
        if not isinstance(items, list) or not 1 <= len(items) <= 1000:
            raise _Refusal(24, "Invalid phones")
        originator = payload.get("originator")
        if not isinstance(originator, str) or not 3 <= len(originator) <= 15:
            raise _Refusal(7, "Invalid originator")
        body = payload.get("body")
        if not isinstance(body, str) or not 1 <= len(body) <= 765:
            raise _Refusal(4, "Invalid body")
        phones = []
        for item in items:
            if not isinstance(item, dict):
                phones.append(_Planned("", None, 1))
                continue
            msisdn = str(item.get("msisdn") or "")
            reference = item.get("reference")
            reference = None if reference is None else str(reference)
            if not _SMS_MSISDN.match(msisdn):
                phones.append(_Planned(msisdn, reference, 1))
            elif reference is not None and not _SMS_REFERENCE.match(reference):
                phones.append(_Planned(msisdn, reference, 24))
            else:
                phones.append(_Planned(msisdn, reference))
        return originator, body, phones

    def _sms_cost(self, body: str, count: int) -> Decimal:
        return self.sms_price * max(1, count_segments(body).segments) * count

    async def _sms_create(self, request: web.Request) -> web.Response:
        payload = await self._read_json(request)
        account = request[_ACCOUNT]
        try:
            originator, body, phones = self._sms_plan(payload)
        except _Refusal as refusal:
            return self._sms_refusal(refusal.code, refusal.description)
        for phone in phones:
            if (
                not phone.error
                and phone.reference is not None
                and (account, phone.reference) in self._sms_by_reference
            ):
                phone.error = 43
        accepted = [p for p in phones if not p.error]
        cost = self._sms_cost(body, len(accepted))
        if cost > self.balance:
            return self._sms_refusal(14, "Not enough balance")
        self.balance -= cost
        price = self._sms_cost(body, 1)
        now = self.clock()
        result = []
        for phone in phones:
            if phone.error:
                entry: dict[str, Any] = {
                    "error": phone.error,
                    "errorDescription": _SMS_DESCRIPTIONS.get(phone.error, "Error"),
                }
                if phone.reference is not None:
                    entry["reference"] = phone.reference
                result.append(entry)
                continue
            sms = SimSms(
                id=self._new_id(),
                msisdn=phone.msisdn,
                reference=phone.reference,
                originator=originator,
                body=body,
                accepted_at=now,
                price=price,
                currency=self.currency,
                time_scale=self.time_scale,
            )
            self.sms[sms.id] = sms
            if sms.reference is not None:
                self._sms_by_reference[(account, sms.reference)] = sms
            result.append(
                {
                    "error": 0,
                    "errorDescription": "No errors",
                    "reference": sms.reference,
                    "id": sms.id,
                    "price": float(price),
                    "currency": self.currency,
                }
            )
        logger.info("BSG simulator accepted %d of %d SMS", len(accepted), len(phones))
        await self._pause(self.create_delay)
        if isinstance(payload, dict) and payload.get("destination") == "phone":
            return web.json_response({"result": result[0]})
        return web.json_response(
            {
                "task_id": self._new_id(),
                "result": result,
                "total_price": float(cost),
                "currency": self.currency,
            }
        )

    async def _sms_price(self, request: web.Request) -> web.Response:
        await self._pause(self.price_delay)
        payload = await self._read_json(request)
        try:
            _, body, phones = self._sms_plan(payload)
        except _Refusal as refusal:
            return self._sms_refusal(refusal.code, refusal.description)
        cost = self._sms_cost(body, sum(1 for p in phones if not p.error))
        return web.json_response(
            {
                "error": 0,
                "errorDescription": "No errors",
                "totalprice": float(cost),
                "currency": self.currency,
            }
        )

    async def _sms_by_id(self, request: web.Request) -> web.Response:
        return await self._sms_status(self.sms.get(request.match_info["id"]))

    async def _sms_by_ref(self, request: web.Request) -> web.Response:
        key = (request[_ACCOUNT], request.match_info["reference"])
        return await self._sms_status(self._sms_by_reference.get(key))

    async def _sms_status(self, sms: SimSms | None) -> web.Response:
        if self.get_delay > 0:
            await asyncio.sleep(self.get_delay)
        if sms is None:
            return self._sms_refusal(20, "SMS not found")
        status, changed_at = sms.status_at(self.clock())
        body: dict[str, Any] = {
            "error": 0,
            "errorDescription": "No errors",
            "id": sms.id,
            "msisdn": sms.msisdn,
            "reference": sms.reference,
            "time_in": _format_time(sms.accepted_at),
            "time_sent": _format_time(sms.accepted_at),
            "time_dr": _format_time(changed_at) if status not in ("sent", "new") else None,
            "status": status,
            "price": float(sms.price),
            "currency": sms.currency,
        }
        return web.json_response(body)

    def _sms_refusal(self, code: int, description: str) -> web.Response:
        return web.json_response({"error": code, "errorDescription": description})

    def set_sms_status(self, reference_or_id: str, status: str) -> None:
        """Freeze an SMS API message's status (by id or reference)."""
        sms = self.sms.get(reference_or_id) or next(
            (m for m in self.sms.values() if m.reference == reference_or_id), None
        )
        if sms is None:
            raise KeyError(reference_or_id)
        sms.forced = (status, self.clock())

    def sms_sent_to(self, msisdn: str) -> int:
        """How many SMS API messages this number was sent."""
        return sum(1 for m in self.sms.values() if m.msisdn == msisdn)


@dataclass
class SimSms:
    """One SMS accepted through the SMS API (`/sms/create`)."""

    id: str
    msisdn: str
    reference: str | None
    originator: str
    body: str
    accepted_at: datetime
    price: Decimal
    currency: str
    time_scale: float
    forced: tuple[str, datetime] | None = None

    def status_at(self, now: datetime) -> tuple[str, datetime]:
        """(status, since when) at `now`."""
        if self.forced is not None:
            return self.forced
        steps = _SMS_STEPS.get(self.msisdn[-1:], _SMS_STEPS[""])
        reached = steps[0]
        for step in steps:
            if (now - self.accepted_at).total_seconds() >= step[0] * self.time_scale:
                reached = step
        return reached[1], self.accepted_at + timedelta(seconds=reached[0] * self.time_scale)


_SMS_STEPS: dict[str, tuple[tuple[float, str], ...]] = {
    "": ((0, "sent"), (2, "delivered")),
    "7": ((0, "sent"), (5, "undelivered")),
    "9": ((0, "rejected"),),
}
_SMS_DESCRIPTIONS = {1: "Invalid phone", 24: "Invalid reference", 43: "Reference already exists"}
_SMS_MSISDN = re.compile(r"^[1-9][0-9]{7,14}$")
_SMS_REFERENCE = re.compile(r"^[a-zA-Z0-9_-]{1,50}$")


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def _alt_route_of(message: dict[str, Any]) -> dict[str, Any]:
    viber = (message.get("options") or {}).get("viber") or {}
    alt = viber.get("alt_route") or message.get("alt_route") or {}
    return alt if isinstance(alt, dict) else {}


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _plan_recipient(item: Any) -> _Planned:
    if isinstance(item, str | int) and not isinstance(item, bool):
        item = {"msisdn": item}
    if not isinstance(item, dict):
        return _Planned(msisdn="", reference=None, error=41)
    raw_msisdn = item.get("msisdn")
    msisdn = str(raw_msisdn) if isinstance(raw_msisdn, str | int) else ""
    raw_reference = item.get("reference", item.get("external_id"))
    reference = None if raw_reference is None else str(raw_reference)
    if not _MSISDN.match(msisdn):
        return _Planned(msisdn, reference, 41)
    if reference is not None and not _REFERENCE.match(reference):
        return _Planned(msisdn, reference, 47)
    return _Planned(msisdn, reference)


def _parse_schedule(raw: Any) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise _Refusal(10)
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _Refusal(10) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# ---------------------------------------------------------------- command line


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_ready: Callable[[str], None] | None = None,
    **options: Any,
) -> None:
    """Run a simulator until SIGINT or SIGTERM (for `viber-bot simulate-bsg`).

    `options` go to `BsgSimulator` (`lifecycles` may be a YAML path); `on_ready` gets the
    base URL once the port is open.
    """
    with contextlib.suppress(KeyboardInterrupt):  # platforms without loop signal handlers
        asyncio.run(_serve(host, port, on_ready, options))


async def _serve(
    host: str, port: int, on_ready: Callable[[str], None] | None, options: dict[str, Any]
) -> None:
    simulator = BsgSimulator(**options)
    url = await simulator.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    if on_ready is not None:
        on_ready(url)
    try:
        await stop.wait()
    finally:
        await simulator.stop()
