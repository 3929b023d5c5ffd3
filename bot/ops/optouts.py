"""`viber-bot optouts import FILE` and `viber-bot optouts export`: the opt-out list on the CLI."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from bot.clock import utcnow
from bot.domain.errors import InputError
from bot.domain.spreadsheet import spreadsheet_safe
from bot.ops import COMMANDS
from bot.ops.options import open_existing_database
from bot.settings import DatabaseSettings
from bot.slack.render.input_errors import number_problem
from bot.tracking.audiences import AudienceService, OptOutChange
from storage.store import Store

EXPORT_COLUMNS = ["phone", "reason", "opted_out_at", "by", "source"]


class _OptOutSettings(DatabaseSettings):
    """VIBER_BOT_DB and VIBER_BOT_DEFAULT_REGION: no Slack or BSG secrets needed."""

    default_region: str | None = Field(None, validation_alias="VIBER_BOT_DEFAULT_REGION")

    @field_validator("default_region", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return value.strip().upper() or None if isinstance(value, str) else value


def cmd_import(args: argparse.Namespace) -> int:
    source = Path(args.file)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else source.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {args.file}: {error.strerror}") from None
    settings = _OptOutSettings()
    # The bot creates the database on its first start; an import may come first.
    store = Store.open(settings.db_path)

    async def run() -> OptOutChange:
        try:
            service = AudienceService(
                store=store, default_region=settings.default_region, clock=utcnow
            )
            return await service.import_optouts(data, source=f"import:{source.name}")
        finally:
            await store.close()

    change = asyncio.run(run())
    print(
        f"opted out {change.changed} number(s); {change.unchanged} were already opted out; "
        f"{len(change.invalid.invalid)} line(s) not a number"
    )
    for token in change.invalid.invalid[:20]:
        print(
            f"  not a number: {token!r} ({number_problem(change.invalid.reasons[token])})",
            file=sys.stderr,
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = open_existing_database()

    async def export() -> None:
        try:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(EXPORT_COLUMNS)
            async for entry in store.every_optout():
                writer.writerow(
                    [
                        entry.msisdn,
                        spreadsheet_safe(entry.reason or ""),
                        entry.created_at.isoformat(),
                        entry.user_id or "",
                        spreadsheet_safe(entry.source or ""),
                    ]
                )
        finally:
            await store.close()

    asyncio.run(export())
    return 0


def add_parser(sub: Any) -> None:
    """Register `optouts import` and `optouts export` on the `viber-bot` parser."""
    optouts = sub.add_parser(
        "optouts",
        help=COMMANDS["optouts"],
        description=(
            "The opt-out list in the database (VIBER_BOT_DB). Opted-out numbers are never "
            "sent to, whatever the route. Needs no Slack or BSG settings."
        ),
    )
    actions = optouts.add_subparsers(dest="action", metavar="ACTION", required=True)
    importing = actions.add_parser(
        "import",
        help="opt out every number of a file (one per line, or CSV)",
        description=(
            "Opt out the numbers of FILE: one per line, or CSV with a `phone` column (else the "
            "first) and an optional `reason` column. A header row, blank lines, a UTF-8 BOM and "
            "`;` separators are accepted. '-' reads standard input."
        ),
    )
    importing.add_argument("file", metavar="FILE")
    importing.set_defaults(handler=cmd_import)
    exporting = actions.add_parser(
        "export",
        help="write every opted-out number as CSV to standard output",
        description="Write phone, reason, opted_out_at, by and source of every opt-out as CSV.",
    )
    exporting.set_defaults(handler=cmd_export)
