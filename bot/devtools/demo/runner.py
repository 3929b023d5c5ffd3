"""`viber-bot demo`: the whole flow on this machine, with no accounts and no network.

It starts the BSG simulator and the Slack stand-in on 127.0.0.1, serves the real app on a real
port, and drives it the way Slack would: signed `/viber` commands and modal submissions into
`POST /slack/events`. The app sends through BSG (the simulator), polls the statuses and posts
through its outbox (to the stand-in). The demo prints the channel as a person would see it,
live: each parent message as it is posted and edited, and each thread reply as it arrives.

Nothing is read from the environment or `.env`, nothing leaves 127.0.0.1, and nothing is left
behind but, with `--keep-db FILE`, a copy of the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot import runtime
from bot.app import ViberBot
from bot.devtools.demo.channel import ChannelPrinter
from bot.devtools.demo.script import (
    BOT_TOKEN,
    BSG_KEY,
    CHANNEL_NAME,
    COMMAND,
    EXPECTED,
    FAST,
    REFRESH,
    SENDER,
    SLOW,
    DemoFailed,
    Expected,
    Pace,
    act,
)
from bot.devtools.demo.workspace import Workspace
from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from bot.domain.phones import mask
from bot.logs import configure_logging
from bot.settings import Settings, load_settings

# Environment variables libraries read on their own: the Slack SDK sends even loopback calls
# through a proxy it finds, Bolt picks up SLACK_BOT_TOKEN beside the client it is given.
FOREIGN_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
FOREIGN_VARIABLES += ("all_proxy",)
FOREIGN_PREFIXES = ("SLACK_", "BSG_", "VIBER_BOT_")


def run_demo(*, keep_db: str | None = None, fast: bool = True) -> int:
    """Run the demo; 0 when the channel showed everything expected, 1 when not, 2 on bad use."""
    kept: Path | None = None
    if keep_db is not None:
        kept = Path(keep_db).expanduser().resolve()
        if kept.exists():
            print(
                f"viber-bot: --keep-db {keep_db}: the file exists; name a new one", file=sys.stderr
            )
            return 2
        if not kept.parent.is_dir():
            print(f"viber-bot: --keep-db {keep_db}: no directory {kept.parent}", file=sys.stderr)
            return 2
    _tolerate_narrow_output()
    console = Console(highlight=False, emoji=False, soft_wrap=False)
    with (
        _isolated_environment(),
        tempfile.TemporaryDirectory(prefix="viber-bot-demo-") as workdir,
    ):
        db_path = Path(workdir) / "viber-bot.db"
        signing_secret = secrets.token_hex(16)
        configure_logging(level="WARNING", fmt="text", secrets=[BOT_TOKEN, BSG_KEY, signing_secret])
        code = runtime.run(
            play(FAST if fast else SLOW, db_path, console, signing_secret=signing_secret)
        )
        if kept is not None and db_path.exists():
            _copy_database(db_path, kept)
    if kept is not None:
        console.print(f"The demo's database is kept at {kept}.")
    else:
        console.print("Nothing was left behind. (--keep-db FILE keeps the database.)")
    return code


def _tolerate_narrow_output() -> None:
    # Emoji and the masking bullets must not crash a terminal or pipe that cannot show them.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]


@contextlib.contextmanager
def _isolated_environment() -> Iterator[None]:
    """Hide the shell's proxy and bot settings while the demo runs; put them back after."""
    names = [
        name
        for name in os.environ
        if name in FOREIGN_VARIABLES or name.upper().startswith(FOREIGN_PREFIXES)
    ]
    saved = {name: os.environ.pop(name) for name in names}
    try:
        yield
    finally:
        os.environ.update(saved)


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite database (the backup API, whatever the journal mode)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def demo_settings(
    *,
    db_path: Path,
    slack_url: str,
    bsg_url: str,
    signing_secret: str,
    pace: Pace,
    public_url: str | None = None,
) -> Settings:
    """The bot's settings for the demo, from nothing in the environment or `.env`.

    Every setting the demo does not choose is passed at its default explicitly, because
    explicit values win over environment variables: a `SLACK_APP_TOKEN` or
    `VIBER_BOT_MASK_NUMBERS=false` in the shell must not change the demo.
    """
    values: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else name
        if not info.is_required():
            values[alias] = info.get_default(call_default_factory=True)
    values.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": signing_secret,
            "SLACK_API_URL": slack_url,
            "BSG_API_KEY": BSG_KEY,
            "BSG_API_URL": bsg_url,
            "VIBER_BOT_DB": str(db_path),
            "VIBER_BOT_COMMAND": COMMAND,
            "VIBER_BOT_DEFAULT_SENDER": SENDER,
            "VIBER_BOT_POLL_INTERVAL": pace.poll_interval,
            "VIBER_BOT_POLL_MAX_INTERVAL": pace.poll_max_interval,
            "VIBER_BOT_EXPIRY_GRACE": pace.expiry_grace,
            "VIBER_BOT_SLACK_POST_INTERVAL": pace.post_interval,
            "HOST": "127.0.0.1",
            "PORT": 0,
            # Delivery callbacks on: the simulator calls the bot back as statuses change.
            "VIBER_BOT_PUBLIC_URL": public_url,
        }
    )
    return load_settings(_env_file=None, **values)


async def play(
    pace: Pace, db_path: Path, console: Console, *, signing_secret: str | None = None
) -> int:
    """The demo in the running loop, its database at `db_path`; 0 when everything showed.

    Everything it starts it stops before returning, whatever happens.
    """
    started = time.monotonic()
    signing_secret = signing_secret or secrets.token_hex(16)
    bsg = BsgSimulator(api_key=BSG_KEY, time_scale=pace.time_scale)
    slack = SlackStandIn(token=BOT_TOKEN)
    runner: web.AppRunner | None = None
    http: httpx.AsyncClient | None = None
    printer: ChannelPrinter | None = None
    try:
        bsg_url = await bsg.start("127.0.0.1", 0)
        slack_url = await slack.start("127.0.0.1", 0)
        # The bot's socket is bound first so that its callback URL is known to its settings.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        bot_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = demo_settings(
            db_path=db_path,
            slack_url=slack_url,
            bsg_url=bsg_url,
            signing_secret=signing_secret,
            pace=pace,
            public_url=bot_url,
        )
        bot = ViberBot(settings)
        runner = web.AppRunner(bot.web_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.SockSite(runner, listener)
        await site.start()
        http = httpx.AsyncClient(base_url=bot_url, timeout=10, trust_env=False)
        _introduce(console, pace, bsg_url, slack_url, bot_url)

        printer = ChannelPrinter(slack, console)
        workspace = Workspace(http=http, slack=slack, secret=signing_secret, console=console)
        watching = asyncio.create_task(printer.watch(), name="demo-channel")
        try:
            await act(workspace, pace)
            missing = await _wait_for_expected(printer, pace, started)
            await _settle(bot, printer, pace)
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        printer.refresh()
        if missing:
            console.print()
            console.print(
                Text(f"✗ Within {pace.deadline:.0f} s the channel never showed:", style="bold red")
            )
            for expected in missing:
                console.print(f"  - {expected.what} for {mask(expected.msisdn)}")
            return 1
        await _summarise(console, bot, printer, bsg, slack, time.monotonic() - started)
        return 0
    except DemoFailed as failure:
        if printer is not None:
            printer.refresh()
        console.print(Text(f"✗ The demo failed: {failure}", style="bold red"))
        return 1
    finally:
        if http is not None:
            await http.aclose()
        if runner is not None:
            await runner.cleanup()  # stops the bot: scheduler, outbox, database
        await slack.stop()
        await bsg.stop()


def _introduce(console: Console, pace: Pace, bsg_url: str, slack_url: str, bot_url: str) -> None:
    speed = "real-time lifecycles"
    if pace.time_scale < 1:
        speed = f"lifecycles {1 / pace.time_scale:g}x faster than real"
    console.print(Text("viber-bot demo", style="bold"))
    console.print(
        "No Slack workspace, no BSG account, no network: everything below runs on 127.0.0.1.\n"
        f"  BSG simulator   {bsg_url}  ({speed})\n"
        f"  Slack stand-in  {slack_url}\n"
        f"  viber-bot       {bot_url}/slack/events\n"
        f"Delivery callbacks are on: the simulator POSTs to {bot_url}/bsg/callback/… as each "
        f"status changes, and the bot asks BSG at once; polling every {pace.poll_interval:g} s "
        "stays as the backstop.\n"
        f"Requests go to the bot signed as Slack signs them; the bot answers, sends through "
        f"BSG, polls and posts in #{CHANNEL_NAME}."
    )


async def _wait_for_expected(printer: ChannelPrinter, pace: Pace, started: float) -> list[Expected]:
    """Wait until every expected reply showed, or the deadline; what is still missing."""
    while True:
        missing = [e for e in EXPECTED if not any(e.seen_in(r) for r in printer.replies)]
        if not missing or time.monotonic() - started > pace.deadline:
            return missing
        await asyncio.sleep(REFRESH)


async def _settle(bot: ViberBot, printer: ChannelPrinter, pace: Pace) -> None:
    """Let the outbox make its last posts (the parents' final edits) before the summary."""
    deadline = time.monotonic() + pace.settle
    while time.monotonic() < deadline:
        if await bot.outbox.is_idle():
            break
        await asyncio.sleep(REFRESH)
    printer.refresh()


async def _summarise(
    console: Console,
    bot: ViberBot,
    printer: ChannelPrinter,
    bsg: BsgSimulator,
    slack: SlackStandIn,
    elapsed: float,
) -> None:
    table = Table(title="Where every message ended", title_justify="left")
    for column in ("message", "recipient", "Viber", "SMS"):
        table.add_column(column)
    sends = sorted(await bot.store.recent_sends(100), key=lambda s: s.id)
    for send in sends:
        number = printer.number_of(send.parent_ts)
        for message in await bot.store.send_messages(send.id):
            table.add_row(
                str(number) if number else "-",
                mask(message.msisdn),
                message.status.label,
                message.sms_status.label if message.sms_status else "",
            )
    console.print()
    console.print(table)
    console.print(
        f"#{CHANNEL_NAME} got {printer.posts} messages, {printer.edits} edits and "
        f"{len(printer.replies)} thread replies in {elapsed:.1f} s. "
        f"The BSG simulator answered {sum(bsg.calls.values())} requests and the Slack "
        f"stand-in {len(slack.calls)}; nothing went beyond 127.0.0.1. "
        f"Delivery callbacks: {bsg.callbacks.counts['sent']} made, "
        f"{_accepted_callbacks(bot)} led the bot to ask BSG at once."
    )
    console.print(
        Text(
            "✓ Delivered, read, SMS fallback, SMS delivered and expired: all shown.",
            style="bold green",
        )
    )


def _accepted_callbacks(bot: ViberBot) -> int:
    """Callbacks that led the bot to ask BSG at once, as /metrics counts them."""
    name = "viber_bot_callbacks_received_total"
    value = bot.metrics.registry.get_sample_value(name, {"outcome": "accepted"})
    return int(value or 0)
