"""Logging set-up: text or JSON lines, with every secret scrubbed from every line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

from bot.domain.redact import REDACTED, longest_first


class ScrubbingFormatter(logging.Formatter):
    """Wraps a formatter and replaces secret values wherever they appear in the output."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]):
        super().__init__()
        self.inner = inner
        # JSON lines escape quotes, backslashes and non-ASCII: look for those spellings too.
        self.secrets = longest_first(form for s in secrets for form in (s, json.dumps(s)[1:-1]))

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        for secret in self.secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        return line


def configure_logging(*, level: str, fmt: str, secrets: Iterable[str], stream=None) -> None:
    """Install one handler on the root logger (replacing any earlier one of ours)."""
    if fmt == "json":
        inner: logging.Formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        inner = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ScrubbingFormatter(inner, secrets))
    handler.set_name("viber-bot")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "viber-bot":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter stays at WARNING unless we debug.
    # APScheduler warns at every skipped overlapping run; our sweep logs say what matters.
    logging.getLogger("apscheduler").setLevel("ERROR")
    for noisy in ("aiohttp.access", "httpx", "httpcore", "slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel("DEBUG" if level == "DEBUG" else "WARNING")
