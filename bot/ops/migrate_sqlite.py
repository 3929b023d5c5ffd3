"""`viber-bot migrate-sqlite FILE`: copy a SQLite database into the PostgreSQL one VIBER_BOT_DB
names, so that replicas carry on tracking where the SQLite bot stopped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.domain.errors import ConfigurationError
from bot.ops import COMMANDS
from bot.ops.output import console
from bot.settings import DatabaseSettings


def cmd_migrate_sqlite(args: argparse.Namespace) -> int:
    from storage.sqlite_copy import copy_sqlite

    settings = DatabaseSettings()
    url = settings.postgres_url
    if url is None:
        raise ConfigurationError(
            "VIBER_BOT_DB: migrate-sqlite copies into PostgreSQL; set VIBER_BOT_DB to the "
            "postgresql:// URL the replicas will use"
        )
    copied = copy_sqlite(Path(args.file), url)
    out = console()
    for item in copied:
        out.print(f"{item.table}: {item.rows} rows")
    total = sum(item.rows for item in copied)
    out.print(
        f"copied {total} rows from {args.file} into {settings.database_label}; "
        "start `viber-bot run` with this VIBER_BOT_DB and tracking continues"
    )
    return 0


def add_parser(sub: Any) -> None:
    """Register `migrate-sqlite` on the `viber-bot` parser."""
    command = sub.add_parser(
        "migrate-sqlite",
        help=COMMANDS["migrate-sqlite"],
        description=(
            "Copy every row of a SQLite viber-bot database (stop the bot using it first) into "
            "the empty PostgreSQL database VIBER_BOT_DB names, ids kept, in one transaction. "
            "Replicas started on that database then carry on tracking."
        ),
    )
    command.add_argument("file", metavar="FILE", help="the SQLite database file")
    command.set_defaults(handler=cmd_migrate_sqlite)
