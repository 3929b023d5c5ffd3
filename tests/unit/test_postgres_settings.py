"""VIBER_BOT_DB: a postgresql:// URL selects PostgreSQL, anything else stays a SQLite path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.errors import ConfigurationError
from bot.settings import load_settings

PASSWORD = "pg-secret-9f81c2"
REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-pg-settings",
    "SLACK_SIGNING_SECRET": "signing-pg-settings",
    "BSG_API_KEY": "bsg-pg-settings",
    "VIBER_BOT_DEFAULT_SENDER": "Acme",
}


def _load(database: str):
    return load_settings(_env_file=None, **REQUIRED, VIBER_BOT_DB=database)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL"])
def test_a_postgres_url_selects_postgres_and_its_password_is_a_secret(scheme):
    settings = _load(f"{scheme}://viber:{PASSWORD}@db.internal:5432/viber")
    assert settings.postgres_url == f"{scheme}://viber:{PASSWORD}@db.internal:5432/viber"
    assert PASSWORD in settings.secrets()  # scrubbed from every log line
    assert PASSWORD not in settings.database_label
    assert "db.internal:5432/viber" in settings.database_label
    assert PASSWORD not in repr(settings)


@pytest.mark.parametrize("path", ["viber-bot.db", "/var/lib/viber/bot.db", "postgresql.db"])
def test_anything_else_is_a_sqlite_path_as_before(path):
    settings = _load(path)
    assert settings.postgres_url is None
    assert settings.db_path == Path(path)
    assert settings.database_label == path


@pytest.mark.parametrize(
    ("url", "what"),
    [
        (f"postgresql://viber:{PASSWORD}@host:port/viber", "port"),
        (f"postgresql://viber:{PASSWORD}@host:5432/", "names no database"),
        (f"postgresql://viber:{PASSWORD}@host:5432", "names no database"),
    ],
)
def test_a_malformed_url_is_one_line_that_never_shows_the_password(url, what):
    with pytest.raises(ConfigurationError) as raised:
        _load(url)
    message = str(raised.value)
    assert message.startswith("VIBER_BOT_DB: ")
    assert what in message
    assert "\n" not in message
    assert PASSWORD not in message
