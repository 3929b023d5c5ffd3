"""The final-state table: every row walked through `judge`, every documented status covered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from bot.clock import Grid, offset_of, utcnow
from bot.domain.lifecycle import (
    RULES,
    SMS_FINAL,
    VIBER_CLASS,
    Card,
    Next,
    Phase,
    Sms,
    Viber,
    sms_leg,
)
from bot.domain.models import DeliveryStatus
from bot.domain.policy import PollPolicy, judge

# The status words of ../shared/reference/bsg-viber-api.md, as published.
BSG_VIBER_WORDS = [
    "scheduled",
    "new",
    "waiting",
    "moderation",
    "accepted",
    "sending",
    "sent",
    "delivered",
    "read",
    "expired",
    "undeliverable",
    "undelivered",
    "not_viber_user",
    "not_service_user",
    "rejected",
    "failed",
    "deleted",
    "unknown",
]
BSG_SMS_WORDS = [w for w in BSG_VIBER_WORDS if w != "read"]
# The SMS statuses after which nothing more can happen to an SMS.
FINAL_SMS_WORDS = [
    "delivered",
    "undelivered",
    "undeliverable",
    "expired",
    "rejected",
    "failed",
    "deleted",
    "not_viber_user",
    "not_service_user",
]

POLICY = PollPolicy(base=15, factor=0.1, cap=3600, expiry_grace=3600)
SENT_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EXPIRES = SENT_AT + timedelta(seconds=86400)
# A moment inside each phase, and how long the message has been quiet by then.
MOMENTS = {
    Phase.BEFORE_VALIDITY: EXPIRES - timedelta(hours=2),
    Phase.AFTER_VALIDITY: EXPIRES + timedelta(minutes=10),
    Phase.AFTER_GRACE: EXPIRES + timedelta(seconds=POLICY.expiry_grace + 1),
}
LAST_CHANGE = SENT_AT + timedelta(minutes=1)


def statuses_of(kind: Viber) -> list[DeliveryStatus]:
    return [s for s, k in VIBER_CLASS.items() if k is kind]


def sms_cases(kind: Sms) -> list[tuple[DeliveryStatus | None, bool]]:
    """(sms_status, wants_sms) pairs that fall into this SMS class."""
    if kind is Sms.NOT_ASKED:
        return [(None, False)]
    if kind is Sms.AWAITED:
        return [(None, True)]
    words = [DeliveryStatus.parse(w) for w in BSG_SMS_WORDS]
    chosen = [s for s in words if (s in SMS_FINAL) == (kind is Sms.DONE)]
    return [(s, wants) for s in chosen for wants in (True, False)]


ROWS = [(viber, sms, phase, index) for (viber, sms) in RULES for index, phase in enumerate(Phase)]


def test_the_table_has_one_row_for_every_class_pair() -> None:
    assert set(RULES) == {(v, s) for v in Viber for s in Sms}
    assert [p for p in Phase] == [
        Phase.BEFORE_VALIDITY,
        Phase.AFTER_VALIDITY,
        Phase.AFTER_GRACE,
    ]


def test_every_documented_word_and_every_local_status_has_a_class() -> None:
    assert set(VIBER_CLASS) == set(DeliveryStatus)
    for word in BSG_VIBER_WORDS:
        status = DeliveryStatus.parse(word)
        assert status.value == word
        assert status in VIBER_CLASS
    # Words nobody published are "unknown", pending until the window has passed.
    assert DeliveryStatus.parse("teleported") is DeliveryStatus.UNKNOWN
    assert VIBER_CLASS[DeliveryStatus.UNKNOWN] is Viber.WAITING
    for word in BSG_SMS_WORDS:
        leg = sms_leg(DeliveryStatus.parse(word), wants_sms=True)
        assert leg is (Sms.DONE if word in FINAL_SMS_WORDS else Sms.OPEN), word


@pytest.mark.parametrize(("viber", "sms", "phase", "index"), ROWS)
def test_every_row_is_what_judge_does(viber: Viber, sms: Sms, phase: Phase, index: int) -> None:
    expected = RULES[viber, sms][index]
    now = MOMENTS[phase]
    backoff = now + timedelta(seconds=POLICY.delay((now - LAST_CHANGE).total_seconds()))
    grace_end = EXPIRES + timedelta(seconds=POLICY.expiry_grace)
    soonest = now + timedelta(seconds=POLICY.base)
    for status in statuses_of(viber):
        for sms_status, wants_sms in sms_cases(sms):
            verdict = judge(
                POLICY,
                status=status,
                sms_status=sms_status,
                wants_sms=wants_sms,
                expires_at=EXPIRES,
                last_change_at=LAST_CHANGE,
                now=now,
            )
            where = f"{status} / SMS {sms_status} (wanted {wants_sms}) / {phase.value}"
            assert verdict.final is expected.final, where
            if expected.final:
                assert verdict.next_poll_at is None, where
                forced = DeliveryStatus.EXPIRED if expected.card is Card.EXPIRED else None
                assert verdict.forced_status == forced, where
                continue
            assert verdict.forced_status is None, where
            assert verdict.next_poll_at is not None and verdict.next_poll_at > now, where
            if expected.next is Next.BACKOFF:
                assert verdict.next_poll_at == backoff, where
            elif expected.next is Next.BY_WINDOW_END:
                assert verdict.next_poll_at == min(backoff, max(EXPIRES, soonest)), where
            else:
                assert expected.next is Next.BY_GRACE_END
                assert verdict.next_poll_at == min(backoff, max(grace_end, soonest)), where


# The rules, stated without the table, so a wrong row fails here too.


@pytest.mark.parametrize("sms_word", FINAL_SMS_WORDS)
@pytest.mark.parametrize("viber_word", ["not_viber_user", "undelivered", "expired", "sent"])
@pytest.mark.parametrize("phase", list(Phase))
def test_a_fallback_whose_sms_reached_a_final_status_is_final(
    sms_word: str, viber_word: str, phase: Phase
) -> None:
    verdict = judge(
        POLICY,
        status=DeliveryStatus.parse(viber_word),
        sms_status=DeliveryStatus.parse(sms_word),
        wants_sms=True,
        expires_at=EXPIRES,
        last_change_at=LAST_CHANGE,
        now=MOMENTS[phase],
    )
    assert verdict.final and verdict.next_poll_at is None and verdict.forced_status is None


@pytest.mark.parametrize("sms_word", ["sent", "new", "sending", "unknown"])
def test_an_sms_under_way_keeps_a_failed_viber_message_open_until_the_grace_ends(
    sms_word: str,
) -> None:
    common = dict(
        status=DeliveryStatus.NOT_VIBER_USER,
        sms_status=DeliveryStatus.parse(sms_word),
        wants_sms=True,
        expires_at=EXPIRES,
        last_change_at=LAST_CHANGE,
    )
    assert not judge(POLICY, now=MOMENTS[Phase.BEFORE_VALIDITY], **common).final
    assert not judge(POLICY, now=MOMENTS[Phase.AFTER_VALIDITY], **common).final
    assert judge(POLICY, now=MOMENTS[Phase.AFTER_GRACE], **common).final


def test_read_is_final_and_delivered_waits_for_read_until_the_window_closes() -> None:
    common = dict(sms_status=None, wants_sms=False, expires_at=EXPIRES, last_change_at=LAST_CHANGE)
    now = MOMENTS[Phase.BEFORE_VALIDITY]
    assert judge(POLICY, status=DeliveryStatus.READ, now=now, **common).final
    delivered = judge(POLICY, status=DeliveryStatus.DELIVERED, now=now, **common)
    assert not delivered.final
    assert delivered.next_poll_at is not None and delivered.next_poll_at <= EXPIRES
    after = judge(
        POLICY, status=DeliveryStatus.DELIVERED, now=MOMENTS[Phase.AFTER_VALIDITY], **common
    )
    assert after.final and after.forced_status is None


@pytest.mark.parametrize("word", ["unknown", "sent", "new", "scheduled", "teleported"])
def test_pending_words_expire_only_after_validity_and_grace(word: str) -> None:
    common = dict(
        status=DeliveryStatus.parse(word),
        sms_status=None,
        wants_sms=False,
        expires_at=EXPIRES,
        last_change_at=LAST_CHANGE,
    )
    assert not judge(POLICY, now=MOMENTS[Phase.BEFORE_VALIDITY], **common).final
    later = judge(POLICY, now=MOMENTS[Phase.AFTER_VALIDITY], **common)
    assert not later.final
    grace_end = EXPIRES + timedelta(seconds=POLICY.expiry_grace)
    assert later.next_poll_at is not None and later.next_poll_at <= grace_end
    end = judge(POLICY, now=MOMENTS[Phase.AFTER_GRACE], **common)
    assert end.final and end.forced_status is DeliveryStatus.EXPIRED


@pytest.mark.parametrize(
    "word", ["expired", "undeliverable", "undelivered", "not_viber_user", "rejected", "deleted"]
)
def test_viber_failure_without_fallback_is_final_at_once(word: str) -> None:
    verdict = judge(
        POLICY,
        status=DeliveryStatus.parse(word),
        sms_status=None,
        wants_sms=False,
        expires_at=EXPIRES,
        last_change_at=LAST_CHANGE,
        now=MOMENTS[Phase.BEFORE_VALIDITY],
    )
    assert verdict.final and verdict.forced_status is None


def test_the_next_look_counts_from_the_anchor_and_the_rest_from_now() -> None:
    """A sweep judges an answer that came `late` seconds after its tick: the gap (one base
    for a message that just changed) is counted from the tick, so it lands on the next tick;
    how long the message was quiet, and the phase, are still counted from the answer."""
    tick = SENT_AT + timedelta(seconds=30)
    late = timedelta(seconds=4)
    common = dict(sms_status=None, wants_sms=False, expires_at=EXPIRES)
    just_changed = judge(
        POLICY,
        status=DeliveryStatus.DELIVERED,
        last_change_at=tick + late,
        now=tick + late,
        anchor=tick,
        **common,
    )
    assert just_changed.next_poll_at == tick + timedelta(seconds=POLICY.base)
    quiet = judge(
        POLICY,
        status=DeliveryStatus.SENT,
        last_change_at=tick + late - timedelta(hours=1),
        now=tick + late,
        anchor=tick,
        **common,
    )
    assert quiet.next_poll_at == tick + timedelta(seconds=POLICY.delay(3600))
    # Without an anchor: from now, as for a delivery callback's look.
    unanchored = judge(
        POLICY,
        status=DeliveryStatus.DELIVERED,
        last_change_at=tick + late,
        now=tick + late,
        **common,
    )
    assert unanchored.next_poll_at == tick + late + timedelta(seconds=POLICY.base)
    # The phase is now's: an answer after the window closes is final whatever the anchor.
    after = judge(
        POLICY,
        status=DeliveryStatus.DELIVERED,
        last_change_at=LAST_CHANGE,
        now=EXPIRES + late,
        anchor=EXPIRES - timedelta(seconds=1),
        **common,
    )
    assert after.final


def test_a_sweeps_tick_is_the_latest_grid_time_not_after_its_start() -> None:
    start = SENT_AT
    grid = Grid(start, timedelta(seconds=15))
    early = start - timedelta(seconds=3)
    assert grid.tick(early) == early  # before the grid starts: no tick has passed
    assert grid.tick(start) == start
    assert grid.tick(start + timedelta(seconds=14.9)) == start
    assert grid.tick(start + timedelta(seconds=15)) == start + timedelta(seconds=15)
    # Late (a busy loop), or coalesced after skipped runs: the latest tick passed.
    assert grid.tick(start + timedelta(seconds=47)) == start + timedelta(seconds=45)
    # The scheduler's float arithmetic may fire a hair before our exact tick: still that tick.
    hair = timedelta(microseconds=3)
    assert grid.tick(start + timedelta(seconds=30) - hair) == start + timedelta(seconds=30)
    # Ticks are exactly one interval apart: a gap of one interval is due at the next tick.
    ticks = [grid.tick(start + timedelta(seconds=15 * k + 0.2)) for k in range(1000)]
    assert all(b - a == grid.every for a, b in pairwise(ticks))
    with pytest.raises(ValueError):
        Grid(start, timedelta(0))


def test_a_test_clocks_offset_is_taken_to_the_millisecond() -> None:
    assert offset_of(utcnow) == timedelta(0)
    assert offset_of(lambda: utcnow() + timedelta(seconds=90)) == timedelta(seconds=90)
