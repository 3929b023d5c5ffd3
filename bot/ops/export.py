"""`viber-bot export`: sends and per-recipient outcomes and costs as CSV, streamed."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bot.domain.errors import InputError
from bot.domain.models import Send
from bot.domain.spreadsheet import (
    ERROR_COLUMNS,
    RECIPIENT_COLUMNS,
    recipient_cells,
    spreadsheet_safe,
)
from bot.ops import COMMANDS
from bot.ops.options import SINCE_HELP, open_existing_database, parse_since
from bot.ops.output import console
from storage.store import Store

EXPORT_PROGRESS_EVERY = 500

EXPORT_COLUMNS = (
    "send_id",
    "send_created_at",
    "user_id",
    "channel_id",
    "sender",
    "text",
    "outcome",
    "message_id",
    *RECIPIENT_COLUMNS,
    "sms_currency",
    *ERROR_COLUMNS,
)


async def export_rows(store: Store, since: datetime | None) -> AsyncIterator[dict[str, Any]]:
    """One row per recipient message with its send's columns, streamed in id order.

    Messages and sends are both read in id order and merged, so memory stays flat for any
    number of rows; a send without messages still gets one row.
    """
    sends = aiter(store.sends_since(since))
    current: Send | None = await anext(sends, None)
    emitted = False

    def send_columns(send: Send) -> dict[str, Any]:
        return {
            "send_id": send.id,
            "send_created_at": send.created_at.isoformat(),
            "user_id": send.user_id,
            "channel_id": send.channel_id,
            "sender": spreadsheet_safe(send.sender),
            "text": spreadsheet_safe(send.text),
            "outcome": send.outcome.value,
            "error_code": send.error_code,
            "error_description": send.error_description,
        }

    async for message in store.messages(since=since):
        while current is not None and current.id < message.send_id:
            if not emitted:
                yield send_columns(current)
            current, emitted = await anext(sends, None), False
        if current is not None and current.id == message.send_id:
            send = current
            emitted = True
        else:  # a message created after --since of a send created before it
            send = await store.get_send(message.send_id)
        row = send_columns(send)
        row["message_id"] = message.id
        # With the recipient's own error: a send-level one would be wrong for accepted ones.
        row.update(recipient_cells(message, message.msisdn))
        yield row
    while current is not None:
        if not emitted:
            yield send_columns(current)
        current, emitted = await anext(sends, None), False


async def _write_csv(store: Store, since: datetime | None, out: TextIO, show_progress: bool) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    total = await store.count_messages() if since is None else None
    out = console(stderr=True)
    progress = Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        transient=True,
        disable=not (show_progress and out.is_terminal),
    )
    written = 0
    with progress:
        task = progress.add_task("export", total=total)
        async for row in export_rows(store, since):
            writer.writerow(row)
            written += 1
            if written % EXPORT_PROGRESS_EVERY == 0:
                progress.update(task, completed=written)
    return written


def cmd_export(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    target = None if args.csv == "-" else Path(args.csv)
    if target is not None and not target.parent.is_dir():
        raise InputError(f"--csv: the directory {target.parent} does not exist")
    store = open_existing_database()

    async def export() -> int:
        try:
            if target is None:
                return await _write_csv(store, since, sys.stdout, show_progress=False)
            try:
                with target.open("w", newline="", encoding="utf-8") as out:
                    return await _write_csv(store, since, out, show_progress=True)
            except OSError as error:
                reason = error.strerror or error
                raise InputError(f"--csv: cannot write {target}: {reason}") from None
        finally:
            await store.close()

    written = asyncio.run(export())
    if target is None:
        return 0
    print(f"Exported {written} rows to {target}", file=sys.stderr)
    return 0


def add_parser(sub: Any) -> None:
    """Register `export` on the `viber-bot` parser."""
    export = sub.add_parser(
        "export",
        help=COMMANDS["export"],
        description=(
            "Write one CSV row per recipient message with its send's columns: send id, time, "
            "user, channel, sender, text, outcome, number, reference, BSG id, status, SMS status, "
            "prices and errors. Cells that a spreadsheet would run as a formula get a leading '."
        ),
    )
    export.add_argument("--csv", required=True, metavar="FILE", help="the CSV file ('-': stdout)")
    export.add_argument("--since", metavar="DATE", help=SINCE_HELP)
    export.set_defaults(handler=cmd_export)
