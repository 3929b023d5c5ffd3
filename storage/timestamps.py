"""How moments are stored: fixed-width UTC text, so that text order is time order in SQL."""

from __future__ import annotations

from datetime import UTC, datetime


def ts(moment: datetime | None) -> str | None:
    """A datetime as fixed-width UTC text, so that text order is time order in SQL."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
