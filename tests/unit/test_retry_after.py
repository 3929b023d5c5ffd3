"""The one Retry-After parser: seconds or an HTTP date, anything else unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.domain.retry_after import parse_retry_after

NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Wed, 02 Dec 2026 14:00:30 GMT", 30.0),
        ("Wednesday, 02-Dec-26 14:00:45 GMT", 45.0),  # RFC 850, still allowed by RFC 9110
        ("Wed, 02 Dec 2026 13:00:00 GMT", 0.0),  # in the past: go now
    ],
)
def test_seconds_and_http_dates(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "inf", "nan", "12 apples"])
def test_unreadable_is_unknown(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None
