"""What the operator commands share: the database they read and the options they parse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.domain.errors import InputError, StorageError
from bot.domain.models import DeliveryStatus
from bot.settings import DatabaseSettings
from storage.store import Store

SINCE_HELP = "only messages created at or after this (2026-01-31 or 2026-01-31T14:00:00Z; UTC)"


def database_path() -> Path:
    """VIBER_BOT_DB as the bot reads it (environment or `.env`)."""
    return DatabaseSettings().db_path


def open_existing_database() -> Store:
    """The bot's database for reading; a missing file is an error, never silently created."""
    url = DatabaseSettings().postgres_url
    if url is not None:
        return Store.open(url)
    path = database_path()
    if not path.exists():
        raise StorageError(
            f"VIBER_BOT_DB: there is no database at {path} "
            "(point VIBER_BOT_DB at the file the bot uses)"
        )
    return Store.open(path)


def parse_since(text: str | None) -> datetime | None:
    """`YYYY-MM-DD` (midnight UTC) or an ISO date-time; naive values are UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--since: '{text}' is neither a date (2026-01-31) "
            "nor an ISO date-time (2026-01-31T14:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_status(word: str | None) -> DeliveryStatus | None:
    if word is None:
        return None
    try:
        return DeliveryStatus(word.strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        known = ", ".join(s.value for s in DeliveryStatus)
        raise InputError(f"--status: unknown status '{word}'; use one of: {known}") from None
