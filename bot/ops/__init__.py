"""Operator commands on the `viber-bot` CLI, one module per command: messages, show, export,
doctor, optouts, migrate-sqlite. The read-only ones need only VIBER_BOT_DB, no Slack or BSG
secrets."""

from __future__ import annotations

from typing import Any

from bot.ops import doctor, export, messages, migrate_sqlite, optouts, show


def add_commands(sub: Any) -> None:
    """Register every operator subcommand on the `viber-bot` parser."""
    for command in (messages, show, export, doctor, optouts, migrate_sqlite):
        command.add_parser(sub)
