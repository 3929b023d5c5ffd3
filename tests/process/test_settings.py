"""Configuration (CONTRACT.md): defaults, `.env`, one-line errors naming the variable, no secrets
echoed; and the `viber-bot` command line, run as a real process."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.domain.errors import ConfigurationError
from bot.settings import load_settings

REPO = Path(__file__).resolve().parents[2]

BOT_TOKEN = "xoxb-settings-test-token-7f3a9c"
SIGNING_SECRET = "signing-secret-settings-b81e2d"
BSG_KEY = "live_settings_bsg_key_5c0d44"
BAD_APP_TOKEN = "hunter2-not-an-app-token-91ab"

REQUIRED = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "BSG_API_KEY": BSG_KEY,
    "VIBER_BOT_DEFAULT_SENDER": "Acme",
}
SECRETS = (BOT_TOKEN, SIGNING_SECRET, BSG_KEY, BAD_APP_TOKEN)


def _ours(name: str) -> bool:
    return name.startswith(("SLACK_", "BSG_", "VIBER_BOT_")) or name in ("HOST", "PORT")


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> Path:
    """No viber-bot variable in the environment and a working directory without `.env`."""
    for name in list(os.environ):
        if _ours(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _set(monkeypatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


# ---------------------------------------------------------------- load_settings


def test_defaults_are_the_contracts(clean_env, monkeypatch):
    _set(monkeypatch, REQUIRED)
    settings = load_settings()
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.bsg_api_url.rstrip("/") == "https://api.bsg.world/rest"
    assert str(settings.db_path) == "viber-bot.db"
    assert settings.command == "/viber"
    assert settings.default_sender == "Acme"
    assert settings.default_region is None
    assert settings.poll_interval == 15
    assert not settings.allowed_users and not settings.allowed_channels
    assert settings.mask_numbers is True
    assert (settings.host, settings.port) == ("0.0.0.0", 3000)
    assert settings.slack_app_token is None and not settings.socket_mode


def test_values_are_read_from_the_environment(clean_env, monkeypatch):
    _set(
        monkeypatch,
        {
            **REQUIRED,
            "VIBER_BOT_DEFAULT_REGION": "ua",
            "VIBER_BOT_POLL_INTERVAL": "30",
            "VIBER_BOT_ALLOWED_USERS": "U1, U2",
            "VIBER_BOT_ALLOWED_CHANNELS": "C1",
            "VIBER_BOT_MASK_NUMBERS": "false",
            "VIBER_BOT_COMMAND": "/sms",
            "PORT": "8081",
        },
    )
    settings = load_settings()
    assert settings.default_region == "UA"
    assert settings.poll_interval == 30
    assert set(settings.allowed_users) == {"U1", "U2"}
    assert set(settings.allowed_channels) == {"C1"}
    assert settings.mask_numbers is False
    assert settings.command == "/sms"
    assert settings.port == 8081


def test_dot_env_in_the_working_directory_is_read(clean_env, monkeypatch):
    lines = [f"{name}={value}" for name, value in REQUIRED.items()]
    lines.append("VIBER_BOT_DEFAULT_REGION=PL")
    (clean_env / ".env").write_text("\n".join(lines) + "\n")
    settings = load_settings()
    assert settings.default_region == "PL"
    assert settings.bsg_api_key.get_secret_value() == BSG_KEY


def test_socket_mode_needs_no_signing_secret(clean_env, monkeypatch):
    _set(monkeypatch, {**REQUIRED, "SLACK_APP_TOKEN": "xapp-1-A1-2-abc"})
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    assert load_settings().socket_mode


MALFORMED = {
    "VIBER_BOT_POLL_INTERVAL": ["abc", "0", "-5"],
    "PORT": ["99999", "abc", "-1"],
    "VIBER_BOT_DEFAULT_REGION": ["XX", "Ukraine"],
    "SLACK_API_URL": ["ftp://x", "slack.com/api"],
    "BSG_API_URL": ["ftp://api.bsg.world/rest", "not a url"],
    "VIBER_BOT_MASK_NUMBERS": ["maybe"],
    "VIBER_BOT_DEFAULT_SENDER": ["", "FifteenCharsXYZ"],
    "VIBER_BOT_COMMAND": ["viber", "/two words"],
    "SLACK_APP_TOKEN": [BAD_APP_TOKEN],
    "VIBER_BOT_PUBLIC_URL": ["http://bot.example.com", "ftp://bot.example.com", "bot.example"],
    "VIBER_BOT_CALLBACK_SECRET": ["too-short"],
}


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, values in MALFORMED.items() for value in values]
)
def test_a_malformed_value_is_one_line_naming_the_variable(clean_env, monkeypatch, name, value):
    _set(monkeypatch, {**REQUIRED, name: value})
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert name in message
    assert "\n" not in message.strip()
    for secret in SECRETS:
        assert secret not in message


@pytest.mark.parametrize("name", ["SLACK_BOT_TOKEN", "BSG_API_KEY", "VIBER_BOT_DEFAULT_SENDER"])
def test_a_missing_required_value_is_named(clean_env, monkeypatch, name):
    _set(monkeypatch, {k: v for k, v in REQUIRED.items() if k != name})
    with pytest.raises(ConfigurationError, match=name):
        load_settings()


def test_http_mode_needs_the_signing_secret(clean_env, monkeypatch):
    _set(monkeypatch, {k: v for k, v in REQUIRED.items() if k != "SLACK_SIGNING_SECRET"})
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET"):
        load_settings()


def test_secrets_do_not_show_in_the_settings_repr(clean_env, monkeypatch):
    _set(monkeypatch, REQUIRED)
    shown = repr(load_settings()) + str(load_settings())
    for secret in (BOT_TOKEN, SIGNING_SECRET, BSG_KEY):
        assert secret not in shown


# ---------------------------------------------------------------- `viber-bot run`, as a process


def _clean_env() -> dict[str, str]:
    """A process environment with nothing of viber-bot's in it (and no proxy)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "NO_PROXY": "*",
        "LANG": "C.UTF-8",
    }


def _viber_bot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**_clean_env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


# What `viber-bot run` is given, as (environment, contents of .env, the variable to name).
# Every malformed value goes through the load_settings() tested above; these prove the process
# path: exit status, one stderr line, `.env` read, nothing secret printed.
RUN_FAILURES: dict[str, tuple[dict[str, str], str, str]] = {
    "missing SLACK_BOT_TOKEN": (
        {k: v for k, v in REQUIRED.items() if k != "SLACK_BOT_TOKEN"},
        "",
        "SLACK_BOT_TOKEN",
    ),
    "malformed SLACK_APP_TOKEN in .env": (
        {},
        "".join(f"{k}={v}\n" for k, v in REQUIRED.items()) + f"SLACK_APP_TOKEN={BAD_APP_TOKEN}\n",
        "SLACK_APP_TOKEN",
    ),
}


@pytest.fixture(scope="module")
def run_failures(tmp_path_factory) -> dict[str, Finished]:
    """`viber-bot run` for every broken configuration, all at once (each is a fresh Python)."""
    started = {}
    for index, (case, (env, dotenv, _)) in enumerate(RUN_FAILURES.items()):
        cwd = tmp_path_factory.mktemp(f"run{index}")
        if dotenv:
            (cwd / ".env").write_text(dotenv)
        # A database path inside cwd; never created when start-up stops.
        started[case] = _viber_bot("run", cwd=cwd, env={"VIBER_BOT_DB": "bot.db", **env})
    finished = {}
    for case, process in started.items():
        try:
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        finished[case] = Finished(process.returncode, stdout, stderr)
    return finished


@pytest.mark.parametrize("case", list(RUN_FAILURES))
def test_run_stops_with_one_line_naming_the_variable(run_failures, case):
    result = run_failures[case]
    variable = RUN_FAILURES[case][2]
    assert result.returncode not in (0, None), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


# ---------------------------------------------------------------- --help


def _subcommands() -> list[str]:
    parser = build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(action.choices)


def test_help_lists_every_subcommand(tmp_path):
    names = _subcommands()
    assert {"run", "demo"} <= set(names)
    top = _viber_bot("--help", cwd=tmp_path)
    run = _viber_bot("run", "--help", cwd=tmp_path)
    out, err = top.communicate(timeout=60)
    assert top.returncode == 0, err
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("    ")}
    assert set(names) <= listed
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert out.startswith("usage: viber-bot run")


@pytest.mark.parametrize("name", _subcommands())
def test_every_subcommand_has_help(capsys, name):
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: viber-bot {name}")
