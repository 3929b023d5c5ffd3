"""Operator commands on the `viber-bot` CLI, one module per command: messages, show, export,
doctor, optouts, migrate-sqlite. The read-only ones need only VIBER_BOT_DB, no Slack or BSG
secrets."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Each command's module and one-line help, here so that the top-level listing imports no
# command module (they import pydantic, rich and the store: most of `viber-bot --help`'s time).
COMMANDS: dict[str, str] = {
    "messages": "list recipients' messages from the database (full numbers: operator view)",
    "show": "one message with its send and its full status history",
    "export": "write sends and per-recipient outcomes and costs as CSV",
    "doctor": "check the settings, the database, BSG (balance) and Slack (auth.test; "
    "apps.connections.open when SLACK_APP_TOKEN is set)",
    "optouts": "import or export the numbers that must never be sent to",
    "migrate-sqlite": "copy a SQLite database into the PostgreSQL database VIBER_BOT_DB names",
}


def add_commands(sub: Any, wanted: str | None = None) -> None:
    """Register the operator subcommands: `wanted` (the one on the command line) in full, the
    others by name and help alone; None registers every one in full."""
    for name, summary in COMMANDS.items():
        if wanted is None or name == wanted:
            import_module(f"bot.ops.{name.replace('-', '_')}").add_parser(sub)
        else:
            sub.add_parser(name, help=summary)
