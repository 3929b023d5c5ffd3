"""`viber-bot messages`: recipients' messages from the database, newest first."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from bot.domain.errors import InputError
from bot.domain.models import DeliveryStatus, StoredMessage
from bot.ops import COMMANDS
from bot.ops.options import SINCE_HELP, open_existing_database, parse_since, parse_status
from bot.ops.output import cell, console, message_json, phone, price, when

DEFAULT_LIMIT = 50


def cmd_messages(args: argparse.Namespace) -> int:
    status = parse_status(args.status)
    since = parse_since(args.since)
    if args.limit < 0:
        raise InputError("--limit: must be 0 (no limit) or more")
    store = open_existing_database()

    async def read() -> tuple[list[StoredMessage], int]:
        try:
            found = store.messages(status=status, since=since, latest=args.limit or None)
            return [m async for m in found], await store.count_messages(status=status, since=since)
        finally:
            await store.close()

    latest, seen = asyncio.run(read())
    if args.json:
        json.dump([message_json(m) for m in latest], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    out = console()
    if not latest:
        out.print("No messages match.")
        return 0
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("id", "send", "created (UTC)", "to", "BSG id", "reference", "status", "SMS"):
        table.add_column(column, no_wrap=True)
    table.add_column("price", justify="right", no_wrap=True)
    for m in latest:
        table.add_row(
            str(m.id),
            str(m.send_id),
            when(m.created_at),
            phone(m.msisdn),
            cell(m.bsg_id),
            m.reference,
            cell(m.status.value),
            cell(m.sms_status.value if m.sms_status else None),
            escape(price(m.price, m.currency)),
        )
    out.print(table)
    if seen > len(latest):
        out.print(f"The latest {len(latest)} of {seen}; --limit 0 shows all.")
    return 0


def add_parser(sub: Any) -> None:
    """Register `messages` on the `viber-bot` parser."""
    statuses = ", ".join(s.value for s in DeliveryStatus)
    messages = sub.add_parser(
        "messages",
        help=COMMANDS["messages"],
        description=(
            "List messages, one per recipient, from the database (VIBER_BOT_DB): id, send, "
            "created, number, BSG id, reference, status, SMS status and price. "
            "Needs no Slack or BSG settings."
        ),
    )
    messages.add_argument("--status", metavar="S", help=f"only this status ({statuses})")
    messages.add_argument("--since", metavar="DATE", help=SINCE_HELP)
    messages.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"the latest N (default {DEFAULT_LIMIT}; 0 for all)",
    )
    messages.add_argument("--json", action="store_true", help="print a JSON array instead")
    messages.set_defaults(handler=cmd_messages)
