"""CONTRACT.md's second-round settings and subcommands, from outside: environment variables in,
the `viber-bot` process's exit status and stderr out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.domain.errors import ConfigurationError
from bot.settings import load_settings
from tests.process.test_settings import REQUIRED, SECRETS, clean_env  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def test_second_round_defaults(clean_env, monkeypatch):  # noqa: F811
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.review_above == 20
    assert settings.review_cost is None
    assert settings.public_url is None and not settings.callbacks_on


def test_a_postgresql_url_is_accepted_as_the_database(clean_env, monkeypatch):  # noqa: F811
    for name, value in {**REQUIRED, "VIBER_BOT_DB": "postgresql://u:p@127.0.0.1:5/db"}.items():
        monkeypatch.setenv(name, value)
    load_settings()  # parsing only: nothing connects


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VIBER_BOT_REVIEW_ABOVE", "-1"),
        ("VIBER_BOT_REVIEW_ABOVE", "1.5"),
        ("VIBER_BOT_REVIEW_COST", "-0.5"),
        ("VIBER_BOT_REVIEW_COST", "nan"),
        ("VIBER_BOT_PUBLIC_URL", "http://10.0.0.7:3000"),
        ("VIBER_BOT_PUBLIC_URL", "http://localhost.example.com"),
        ("VIBER_BOT_DB", "mysql://bot:hunter2pw@db.local/viber"),
        ("VIBER_BOT_DB", "sqlite:///viber-bot.db"),
    ],
)
def test_a_malformed_value_is_one_line_naming_it(clean_env, monkeypatch, name, value):  # noqa: F811
    for key, setting in {**REQUIRED, name: value}.items():
        monkeypatch.setenv(key, setting)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value).strip()
    assert name in message and "\n" not in message
    assert "hunter2pw" not in message


MALFORMED = {
    "VIBER_BOT_REVIEW_ABOVE": "lots",
    "VIBER_BOT_REVIEW_COST": "ten euros",
    "VIBER_BOT_PUBLIC_URL": "http://bot.example.com",
}


@pytest.fixture(scope="module")
def refused(tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str]]:
    """`viber-bot run` with each malformed value, all started at once (each a fresh Python)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BSG_", "VIBER_"))}
    started = {}
    for name, value in MALFORMED.items():
        cwd = tmp_path_factory.mktemp(name.lower())
        started[name] = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=cwd,
            env={**env, **REQUIRED, "VIBER_BOT_DB": "bot.db", "PORT": "0", name: value},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    done = {}
    for name, process in started.items():
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return done


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_second_round_value_stops_run_in_one_line(refused, name):
    result = refused[name]
    assert result.returncode not in (0, None), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("words", [["optouts", "import"], ["optouts", "export"]])
def test_nested_subcommands_have_help(capsys, words):
    with pytest.raises(SystemExit) as exited:
        main([*words, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: viber-bot {' '.join(words)}")
