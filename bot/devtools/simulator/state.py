"""The state machine of a simulated message: its lifecycle at a moment, forced statuses, SMS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.devtools.simulator.lifecycles import NEVER_SENT, NO_REPORT, Lifecycle

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


@dataclass
class SmsRoute:
    """The SMS fallback a create asked for (`alt_route`)."""

    id: str
    originator: str
    text: str
    price: Decimal


@dataclass(frozen=True)
class Forced:
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
    forced: Forced | None = None
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
        dr_at = None if viber in NO_REPORT else self._at(reached.viber_since)
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
            sms_dr_at=None if reached.sms in NO_REPORT else self._at(sms_since),
        )

    @staticmethod
    def _forced(forced: Forced, natural: Snapshot) -> Snapshot:
        def moments(
            status: str, was: str | None, sent_at: datetime | None, dr_at: datetime | None
        ) -> tuple[datetime | None, datetime | None]:
            if sent_at is None and status not in NEVER_SENT:
                sent_at = forced.at
            if status in NO_REPORT:
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
