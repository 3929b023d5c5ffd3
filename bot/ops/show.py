"""`viber-bot show`: one message with its send and its full status history."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from bot.domain.models import Send, StatusEvent, StoredMessage
from bot.domain.wording import decimal_json
from bot.ops import COMMANDS
from bot.ops.options import open_existing_database
from bot.ops.output import cell, console, message_json, phone, price, when
from storage.callbacks import CallbackBody


def _callbacks_json(callbacks: list[CallbackBody]) -> list[dict[str, Any]]:
    return [
        {
            "received_at": c.received_at.isoformat(),
            "source": c.source,
            "content_type": c.content_type,
            "parsed_status": c.parsed_status,
            "body": c.body,
            "truncated": c.truncated,
        }
        for c in callbacks
    ]


def _show_json(
    message: StoredMessage,
    send: Send,
    history: list[StatusEvent],
    callbacks: list[CallbackBody],
) -> None:
    body = message_json(message)
    body["send"] = {
        "id": send.id,
        "created_at": send.created_at.isoformat(),
        "user_id": send.user_id,
        "channel_id": send.channel_id,
        "sender": send.sender,
        "text": send.text,
        "outcome": send.outcome.value,
        "error_code": send.error_code,
        "error_description": send.error_description,
    }
    # What this recipient received: their own text when the send had personal texts.
    body["text"] = message.text or send.text
    body["sms_text"] = message.sms_text
    body["history"] = [
        {
            "observed_at": e.observed_at.isoformat(),
            "channel": e.channel.value,
            "status": e.status.value,
            "raw_status": e.raw_status,
            "provider_time": e.provider_time.isoformat() if e.provider_time else None,
            "price": decimal_json(e.price),
            "currency": e.currency,
        }
        for e in history
    ]
    body["callbacks"] = _callbacks_json(callbacks)
    json.dump(body, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_show(args: argparse.Namespace) -> int:
    token = args.message.strip()
    store = open_existing_database()

    async def read() -> tuple[StoredMessage, Send, list[StatusEvent], list[CallbackBody]] | None:
        try:
            message = await store.find_message(token)
            if message is None:
                return None
            return (
                message,
                await store.get_send(message.send_id),
                await store.history(message.id),
                await store.callback_bodies(message.id),
            )
        finally:
            await store.close()

    found = asyncio.run(read())
    if found is None:
        print(f"viber-bot: no message with BSG id or reference '{token}'", file=sys.stderr)
        return 1
    message, send, history, callbacks = found
    if args.json:
        _show_json(message, send, history, callbacks)
        return 0

    out = console()
    error = None
    if message.error_code is not None or message.error_description:
        error = f"code {message.error_code}: {message.error_description or '-'}"
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    status = message.status.value
    if message.raw_status and message.raw_status != message.status.value:
        status += f" (BSG said '{message.raw_status}')"
    rows = [
        ("message", f"{message.id} (send {send.id})"),
        ("BSG id", message.bsg_id),
        ("reference", message.reference),
        ("to", phone(message.msisdn)),
        ("status", status + (" · final" if message.final else "")),
        ("SMS status", message.sms_status.value if message.sms_status else None),
        ("price", price(message.price, message.currency)),
        ("SMS price", price(message.sms_price, message.sms_currency)),
        ("error", error),
        ("sent by", f"{send.user_id} in {send.channel_id} at {when(send.created_at)} UTC"),
        ("sender", send.sender),
        ("outcome", send.outcome.value),
        ("text", message.text or send.text),
    ]
    if message.sms_text:
        rows.append(("SMS text", message.sms_text))
    for label, value in rows:
        facts.add_row(label, cell(value))
    out.print(facts)
    out.print()
    if not history:
        out.print("No status history yet.")
        return 0
    table = Table(
        title="History", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    for column in ("observed (UTC)", "channel", "status", "BSG said", "BSG time (UTC)"):
        table.add_column(column, no_wrap=True)
    table.add_column("price", justify="right", no_wrap=True)
    for e in history:
        table.add_row(
            when(e.observed_at),
            e.channel.value,
            e.status.value,
            cell(e.raw_status),
            when(e.provider_time),
            escape(price(e.price, e.currency)),
        )
    out.print(table)
    if callbacks:
        _print_callbacks(out, callbacks)
    return 0


def _print_callbacks(out: Any, callbacks: list[CallbackBody]) -> None:
    """BSG's delivery callbacks for the message, raw (first 4 KB), for diagnosis."""
    table = Table(
        title="Delivery callbacks (latest 50; BSG's status request decides, not these)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for column in ("received (UTC)", "from", "content type", "says"):
        table.add_column(column, no_wrap=True)
    table.add_column("body")
    for c in callbacks:
        body = c.body if len(c.body) <= 200 else c.body[:200] + "…"
        table.add_row(
            when(c.received_at),
            cell(c.source),
            cell(c.content_type),
            cell(c.parsed_status),
            escape(body + (" (cut at 4 KB)" if c.truncated else "")),
        )
    out.print()
    out.print(table)


def add_parser(sub: Any) -> None:
    """Register `show` on the `viber-bot` parser."""
    show = sub.add_parser(
        "show",
        help=COMMANDS["show"],
        description=(
            "Show one message, found by its BSG id or its reference: who sent it where, the "
            "text and sender, its status and SMS status, price, and every status it went through."
        ),
    )
    show.add_argument("message", metavar="ID-OR-REFERENCE", help="BSG id or reference")
    show.add_argument("--json", action="store_true", help="print JSON instead")
    show.set_defaults(handler=cmd_show)
