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
import re
import secrets
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.app import ViberBot
from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_requests import SlackRequest, slash_command, view_submission
from bot.devtools.slack_standin import SlackStandIn, render_text
from bot.domain.phones import mask
from bot.logs import configure_logging
from bot.settings import Settings, load_settings

# Who does what in the demo's workspace. The tokens are plainly not real ones.
CHANNEL_ID = "C0DEMO"
CHANNEL_NAME = "general"
USER_ID = "U0DEMO"
USER_NAME = "alice"
BOT_TOKEN = "xoxb-demo-not-a-real-token"
BSG_KEY = "demo-bsg-key-not-a-real-one"
SENDER = "DemoShop"
COMMAND = "/viber"

# Recipients, chosen by the simulator's default lifecycles (by last digit; see
# bot/devtools/simulator/lifecycles.py).
READ_LATER = "380972920280"  # delivered, read later
NOT_ON_VIBER = "380972920283"  # not a Viber user: the SMS fallback goes out and is delivered
READ_QUICKLY = "380972920288"  # delivered and read within a second or so
NEVER_LANDS = "380972920285"  # stays `sent` at BSG: the bot's validity logic expires it
VALIDITY = 15  # seconds; BSG's minimum

# Environment variables libraries read on their own: the Slack SDK sends even loopback calls
# through a proxy it finds, Bolt picks up SLACK_BOT_TOKEN beside the client it is given.
FOREIGN_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
FOREIGN_VARIABLES += ("all_proxy",)
FOREIGN_PREFIXES = ("SLACK_", "BSG_", "VIBER_BOT_")


@dataclass(frozen=True)
class Pace:
    """How fast the demo runs: the simulator's clock and the bot's polling knobs."""

    time_scale: float  # BSG simulator lifecycles (0.4: 2.5 times faster than real)
    poll_interval: float
    poll_max_interval: float
    expiry_grace: float
    post_interval: float
    deadline: float  # seconds for everything expected to show in the channel
    settle: float  # seconds to wait for the last edits once everything showed


FAST = Pace(
    time_scale=0.4,
    poll_interval=0.5,
    poll_max_interval=1.0,
    expiry_grace=1.0,
    post_interval=0.05,
    deadline=25.0,
    settle=3.0,
)
SLOW = Pace(
    time_scale=1.0,
    poll_interval=2.0,
    poll_max_interval=5.0,
    expiry_grace=5.0,
    post_interval=0.5,
    deadline=120.0,
    settle=10.0,
)
REFRESH = 0.2  # seconds between looks at the stand-in's channel


@dataclass(frozen=True)
class Expected:
    """A thread reply the channel must show before the demo counts as a success."""

    what: str
    msisdn: str
    words: str

    def seen_in(self, reply: str) -> bool:
        return self.words in reply and mask(self.msisdn) in reply


EXPECTED = (
    Expected("delivered", READ_LATER, "Delivered"),
    Expected("read", READ_LATER, "Read"),
    Expected("fallback to SMS", NOT_ON_VIBER, "Fell back to SMS"),
    Expected("SMS delivered", NOT_ON_VIBER, "SMS delivered"),
    Expected("read within seconds", READ_QUICKLY, "Read"),
    Expected("expired", NEVER_LANDS, "Expired"),
)


class DemoFailed(Exception):
    """Something the demo waits for did not happen; the message says what."""


# ---------------------------------------------------------------- entry point


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
        code = asyncio.run(
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


# ---------------------------------------------------------------- the run


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
            await _script(workspace, pace)
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


async def _script(workspace: Workspace, pace: Pace) -> None:
    """What the person in Slack does: two modal sends and one quick send."""
    view = await workspace.open_modal()
    await workspace.submit(
        view,
        {
            "recipients": f"+{READ_LATER}, +{NOT_ON_VIBER}",
            "text": "Your parcel is waiting at the pickup point until Friday.",
            "sms_text": "Your parcel is waiting at the pickup point until Friday.",
        },
        labels={
            "recipients": "Recipients",
            "text": "Message",
            "sms_text": "SMS fallback text",
        },
    )
    await workspace.command(f"send +{READ_QUICKLY} Your sign-in code is 4321")
    view = await workspace.open_modal()
    await workspace.submit(
        view,
        {
            "recipients": f"+{NEVER_LANDS}",
            "text": "Flash sale: 20% off for the next hour.",
            "validity": VALIDITY,
        },
        labels={"recipients": "Recipients", "text": "Message", "validity": "Validity (seconds)"},
        note=(
            f"This phone never takes the message: BSG keeps it as sent. After its {VALIDITY} s "
            f"validity and a {pace.expiry_grace:g} s grace the bot calls it expired."
        ),
    )
    workspace.console.print(Text("\nNow watch the channel.", style="dim"))


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
    return int(bot.metrics.callbacks.labels(outcome="accepted")._value.get())


# ---------------------------------------------------------------- the person in Slack


@dataclass
class Workspace:
    """The person at the keyboard: signed requests into the bot, as Slack would send them."""

    http: httpx.AsyncClient
    slack: SlackStandIn
    secret: str
    console: Console

    async def _post(self, request: SlackRequest) -> httpx.Response:
        response = await self.http.post(
            "/slack/events", content=request.body, headers=request.headers
        )
        if response.status_code != 200:
            raise DemoFailed(f"the bot answered HTTP {response.status_code}: {response.text[:200]}")
        return response

    def _you(self, action: str, *detail: str | Text) -> None:
        line = Text("\n▸ You ", style="bold cyan")
        line.append(action, style="bold")
        for part in detail:
            line.append(" ")
            line.append(part)
        self.console.print(line)

    async def command(self, text: str) -> dict[str, Any]:
        """Type `/viber <text>` in #general; prints the private answer, returns the ack body."""
        shown = f"{COMMAND} {text}".strip()
        self._you("type", Text(_mask_numbers(shown), style="cyan"), f"in #{CHANNEL_NAME}")
        response = await self._post(
            slash_command(
                self.secret,
                command=COMMAND,
                text=text,
                user_id=USER_ID,
                user_name=USER_NAME,
                channel_id=CHANNEL_ID,
                channel_name=CHANNEL_NAME,
                response_url=self.slack.response_url(),
            )
        )
        body = _json_or_empty(response)
        if body.get("text"):
            _print_private(self.console, str(body["text"]))
        return body

    async def open_modal(self) -> dict[str, Any]:
        """Type `/viber`; the bot opens the send modal on the stand-in; returns the view."""
        opened = len(self.slack.opened_views)
        await self.command("")
        try:
            await self.slack.wait_for(lambda s: len(s.opened_views) > opened, timeout=5)
        except TimeoutError:
            raise DemoFailed("the send modal did not open within 5 s") from None
        view = self.slack.opened_views[opened]
        inputs = [
            _plain_label(block)
            for block in view.get("blocks") or []
            if block.get("type") == "input"
        ]
        title = (view.get("title") or {}).get("text", "")
        self.console.print(f"  The “{title}” form opens: {', '.join(inputs)}.")
        return view

    async def submit(
        self,
        view: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        labels: Mapping[str, str],
        note: str = "",
    ) -> None:
        """Fill in the modal and press its submit button; the bot must accept it."""
        self._you("fill it in and press", f"“{(view.get('submit') or {}).get('text', 'Send')}”:")
        width = max(len(label) for label in labels.values())
        for block_id, label in labels.items():
            self.console.print(f"    {label:<{width}}  {_mask_numbers(str(values[block_id]))}")
        if note:
            self.console.print(Text(f"  {note}", style="dim"))
        response = await self._post(
            view_submission(
                self.secret, view=view, values=values, user_id=USER_ID, user_name=USER_NAME
            )
        )
        body = _json_or_empty(response)
        if body.get("response_action") == "errors":
            problems = "; ".join(f"{k}: {v}" for k, v in (body.get("errors") or {}).items())
            raise DemoFailed(f"the form was refused: {_mask_numbers(problems)}")
        self.console.print("  The form closes.")


def _plain_label(block: Mapping[str, Any]) -> str:
    label = block.get("label") or {}
    return str(label.get("text", block.get("block_id", "")))


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


_FULL_NUMBER = re.compile(r"\+?\b\d{10,15}\b")


def _mask_numbers(text: str) -> str:
    """Full phone numbers masked as the channel shows them (the transcript shows no full one)."""
    return _FULL_NUMBER.sub(lambda m: mask(m.group(0)), text)


def _print_private(console: Console, text: str) -> None:
    line = Text("  Only visible to you: ", style="dim")
    line.append(_mask_numbers(text))
    console.print(line)


# ---------------------------------------------------------------- the channel


class ChannelPrinter:
    """Prints what #general shows as it changes: messages posted and edited, thread replies."""

    def __init__(self, slack: SlackStandIn, console: Console) -> None:
        self.slack = slack
        self.console = console
        self._rendered: dict[str, str] = {}  # parent ts -> text as last printed
        self._numbers: dict[str, int] = {}  # parent ts -> 1, 2, ... in order of posting
        self._replies_shown: dict[str, int] = {}
        self._private_shown = 0
        self.posts = 0
        self.edits = 0
        self.replies: list[str] = []

    def number_of(self, ts: str | None) -> int | None:
        return self._numbers.get(ts) if ts else None

    async def watch(self) -> None:
        while True:
            self.refresh()
            await asyncio.sleep(REFRESH)

    def refresh(self) -> None:
        """Print whatever changed in the channel since the last look."""
        for message in self.slack.channel_messages(CHANNEL_ID):
            ts = str(message["ts"])
            text = _as_seen(render_text(message))
            previous = self._rendered.get(ts)
            if previous is None:
                self._numbers[ts] = len(self._numbers) + 1
                self.posts += 1
                self._print_parent(ts, text, edited_from=None)
            for reply in self.slack.thread(CHANNEL_ID, ts)[self._replies_shown.get(ts, 0) :]:
                self._replies_shown[ts] = self._replies_shown.get(ts, 0) + 1
                self._print_reply(ts, reply)
            if previous is not None and previous != text:
                self.edits += 1
                self._print_parent(ts, text, edited_from=previous)
            self._rendered[ts] = text
        private = [e.get("text") or "" for e in self.slack.ephemerals]
        private += [str(r.get("text") or "") for r in self.slack.responses]
        for text in private[self._private_shown :]:
            _print_private(self.console, text)
        self._private_shown = len(private)

    def _print_parent(self, ts: str, text: str, *, edited_from: str | None) -> None:
        number = self._numbers[ts]
        when = _time_of(ts) if edited_from is None else datetime.now().strftime("%H:%M:%S")
        body = Text()
        old_lines = set(edited_from.splitlines()) if edited_from is not None else set()
        for index, line in enumerate(text.splitlines()):
            if index:
                body.append("\n")
            changed = edited_from is not None and line not in old_lines
            body.append_text(_mrkdwn(line, style="bold yellow" if changed else ""))
        title = f"#{CHANNEL_NAME} · viber-bot · message {number}"
        subtitle = "edited" if edited_from is not None else "posted"
        self.console.print()
        self.console.print(
            Panel(
                body,
                title=f"{when}  {title}",
                title_align="left",
                subtitle=subtitle,
                subtitle_align="right",
                border_style="dim" if edited_from is not None else "blue",
                expand=False,
            )
        )

    def _print_reply(self, parent_ts: str, reply: Mapping[str, Any]) -> None:
        text = _as_seen(render_text(dict(reply)))
        self.replies.append(text)
        where = f"  ↳ {_time_of(str(reply.get('ts')))} in the thread of message "
        self.console.print(Text(f"{where}{self._numbers[parent_ts]}:", style="dim"))
        for line in text.splitlines():
            self.console.print(Text("    ").append_text(_mrkdwn(line)))


def _as_seen(text: str) -> str:
    """Mentions of the demo's user as Slack shows them (by name)."""
    return text.replace(f"@{USER_ID}", f"@{USER_NAME}")


def _time_of(ts: str) -> str:
    try:
        return datetime.fromtimestamp(float(ts)).strftime("%H:%M:%S")
    except ValueError:
        return datetime.now().strftime("%H:%M:%S")


_MRKDWN = re.compile(r"\*([^*\n]+)\*|`([^`\n]+)`")


def _mrkdwn(line: str, style: str = "") -> Text:
    """Slack's *bold*, `code` and `>` quotes as terminal styles."""
    text = Text(style=style)
    if line.startswith(">"):
        text.append("▌ ", style="dim")
        line = line[1:].lstrip()
    position = 0
    for match in _MRKDWN.finditer(line):
        text.append(line[position : match.start()])
        if match.group(1) is not None:
            text.append(match.group(1), style="bold")
        else:
            text.append(match.group(2), style="cyan")
        position = match.end()
    text.append(line[position:])
    return text


__all__ = ["EXPECTED", "FAST", "SLOW", "Pace", "demo_settings", "play", "run_demo"]
