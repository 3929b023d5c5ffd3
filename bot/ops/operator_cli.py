"""Operator commands on the `viber-bot` CLI: messages, show, export and doctor."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.domain.errors import (
    BsgError,
    BsgProtocolError,
    BsgRefused,
    BsgUnavailable,
    InputError,
    StorageError,
    explain_bsg_code,
)
from bot.domain.models import DeliveryStatus, Send, StatusEvent, StoredMessage
from bot.settings import Settings
from storage.store import Store

DEFAULT_LIMIT = 50
# A table printed to a pipe or file is never wrapped: ids and references stay whole.
PLAIN_WIDTH = 1000
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
    "msisdn",
    "reference",
    "bsg_id",
    "status",
    "sms_status",
    "price",
    "currency",
    "sms_price",
    "sms_currency",
    "error_code",
    "error_description",
)

# Spreadsheets run a cell starting with these as a formula; text typed in Slack must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class DatabaseSetting(BaseSettings):
    """Only VIBER_BOT_DB (env or .env, as bot.settings reads it): the read-only commands need
    no Slack or BSG secrets."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    db_path: Path = Field(Path("viber-bot.db"), validation_alias="VIBER_BOT_DB")


def database_path() -> Path:
    return DatabaseSetting().db_path


def open_existing_database() -> Store:
    """The bot's database for reading; a missing file is an error, never silently created."""
    path = database_path()
    if not path.exists():
        raise StorageError(
            f"VIBER_BOT_DB: there is no database at {path} "
            "(point VIBER_BOT_DB at the file the bot uses)"
        )
    return Store.open(path)


# ---------------------------------------------------------------- parsing options


def parse_since(text: str | None) -> datetime | None:
    """`YYYY-MM-DD` (midnight UTC) or an ISO date-time; naive values are UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--since: '{text}' is neither a date (2026-01-31) "
            "nor an ISO date-time (2026-01-31T14:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_status(word: str | None) -> DeliveryStatus | None:
    if word is None:
        return None
    try:
        return DeliveryStatus(word.strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        known = ", ".join(s.value for s in DeliveryStatus)
        raise InputError(f"--status: unknown status '{word}'; use one of: {known}") from None


# ---------------------------------------------------------------- formatting


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    console = Console(file=stream, stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(file=stream, stderr=stderr, highlight=False, width=PLAIN_WIDTH)
    return console


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def _price(amount: Decimal | None, currency: str | None) -> str:
    """`0.02 EUR`: at least two decimals, no trailing zeros past them (exact values: --json)."""
    if amount is None:
        return "—"
    if amount.is_finite():
        exact = amount.normalize()
        if int(exact.as_tuple().exponent) > -2:
            exact = exact.quantize(Decimal("0.01"))
        words = f"{exact:f}"
    else:
        words = str(amount)
    return f"{words} {currency}" if currency else words


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _phone(msisdn: str) -> str:
    return f"+{msisdn}" if msisdn.isdigit() else msisdn


def _text(value: object) -> str:
    return "—" if value is None or value == "" else escape(str(value))


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def message_json(message: StoredMessage) -> dict[str, Any]:
    """A message for --json: plain JSON types, Decimals as strings so no cent is lost."""
    return {
        "id": message.id,
        "send_id": message.send_id,
        "created_at": message.created_at.isoformat(),
        "msisdn": message.msisdn,
        "bsg_id": message.bsg_id,
        "reference": message.reference,
        "status": message.status.value,
        "raw_status": message.raw_status,
        "sms_status": message.sms_status.value if message.sms_status else None,
        "price": _dec(message.price),
        "currency": message.currency,
        "sms_price": _dec(message.sms_price),
        "sms_currency": message.sms_currency,
        "error_code": message.error_code,
        "error_description": message.error_description,
        "final": message.final,
    }


# ---------------------------------------------------------------- messages


def cmd_messages(args: argparse.Namespace) -> int:
    status = parse_status(args.status)
    since = parse_since(args.since)
    if args.limit < 0:
        raise InputError("--limit: must be 0 (no limit) or more")
    store = open_existing_database()
    try:
        latest = list(store.messages(status=status, since=since, latest=args.limit or None))
        seen = store.count_messages(status=status, since=since)
    finally:
        store.close()
    if args.json:
        json.dump([message_json(m) for m in latest], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    console = _console()
    if not latest:
        console.print("No messages match.")
        return 0
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("id", "send", "created (UTC)", "to", "BSG id", "reference", "status", "SMS"):
        table.add_column(column, no_wrap=True)
    table.add_column("price", justify="right", no_wrap=True)
    for m in latest:
        table.add_row(
            str(m.id),
            str(m.send_id),
            _when(m.created_at),
            _phone(m.msisdn),
            _text(m.bsg_id),
            m.reference,
            _text(m.status.value),
            _text(m.sms_status.value if m.sms_status else None),
            escape(_price(m.price, m.currency)),
        )
    console.print(table)
    if seen > len(latest):
        console.print(f"The latest {len(latest)} of {seen}; --limit 0 shows all.")
    return 0


# ---------------------------------------------------------------- show


def _show_json(message: StoredMessage, send: Send, history: list[StatusEvent]) -> None:
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
    body["history"] = [
        {
            "observed_at": e.observed_at.isoformat(),
            "channel": e.channel.value,
            "status": e.status.value,
            "raw_status": e.raw_status,
            "provider_time": e.provider_time.isoformat() if e.provider_time else None,
            "price": _dec(e.price),
            "currency": e.currency,
        }
        for e in history
    ]
    json.dump(body, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_show(args: argparse.Namespace) -> int:
    token = args.message.strip()
    store = open_existing_database()
    try:
        message = store.find_message(token)
        if message is None:
            print(f"viber-bot: no message with BSG id or reference '{token}'", file=sys.stderr)
            return 1
        send = store.get_send(message.send_id)
        history = store.history(message.id)
    finally:
        store.close()
    if args.json:
        _show_json(message, send, history)
        return 0

    console = _console()
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
        ("to", _phone(message.msisdn)),
        ("status", status + (" · final" if message.final else "")),
        ("SMS status", message.sms_status.value if message.sms_status else None),
        ("price", _price(message.price, message.currency)),
        ("SMS price", _price(message.sms_price, message.sms_currency)),
        ("error", error),
        ("sent by", f"{send.user_id} in {send.channel_id} at {_when(send.created_at)} UTC"),
        ("sender", send.sender),
        ("outcome", send.outcome.value),
        ("text", send.text),
    ]
    for label, value in rows:
        facts.add_row(label, _text(value))
    console.print(facts)
    console.print()
    if not history:
        console.print("No status history yet.")
        return 0
    table = Table(
        title="History", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    for column in ("observed (UTC)", "channel", "status", "BSG said", "BSG time (UTC)"):
        table.add_column(column, no_wrap=True)
    table.add_column("price", justify="right", no_wrap=True)
    for e in history:
        table.add_row(
            _when(e.observed_at),
            e.channel.value,
            e.status.value,
            _text(e.raw_status),
            _when(e.provider_time),
            escape(_price(e.price, e.currency)),
        )
    console.print(table)
    return 0


# ---------------------------------------------------------------- export


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_rows(store: Store, since: datetime | None) -> Iterator[dict[str, Any]]:
    """One row per recipient message with its send's columns, streamed in id order.

    Messages and sends are both read in id order and merged, so memory stays flat for any
    number of rows; a send without messages still gets one row.
    """
    sends = store.sends_since(since)
    current: Send | None = next(sends, None)
    emitted = False

    def send_columns(send: Send) -> dict[str, Any]:
        return {
            "send_id": send.id,
            "send_created_at": send.created_at.isoformat(),
            "user_id": send.user_id,
            "channel_id": send.channel_id,
            "sender": _cell(send.sender),
            "text": _cell(send.text),
            "outcome": send.outcome.value,
            "error_code": send.error_code,
            "error_description": send.error_description,
        }

    for message in store.messages(since=since):
        while current is not None and current.id < message.send_id:
            if not emitted:
                yield send_columns(current)
            current, emitted = next(sends, None), False
        if current is not None and current.id == message.send_id:
            send = current
            emitted = True
        else:  # a message created after --since of a send created before it
            send = store.get_send(message.send_id)
        row = send_columns(send)
        row.update(
            message_id=message.id,
            msisdn=message.msisdn,
            reference=message.reference,
            bsg_id=message.bsg_id,
            status=message.status.value,
            sms_status=message.sms_status.value if message.sms_status else None,
            price=_dec(message.price),
            currency=message.currency,
            sms_price=_dec(message.sms_price),
            sms_currency=message.sms_currency,
            # The recipient's own error: a send-level one would be wrong for accepted recipients.
            error_code=message.error_code,
            error_description=message.error_description,
        )
        yield row
    while current is not None:
        if not emitted:
            yield send_columns(current)
        current, emitted = next(sends, None), False


def _write_csv(store: Store, since: datetime | None, out: TextIO, show_progress: bool) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    total = store.count_messages() if since is None else None
    console = _console(stderr=True)
    progress = Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (show_progress and console.is_terminal),
    )
    written = 0
    with progress:
        task = progress.add_task("export", total=total)
        for row in export_rows(store, since):
            writer.writerow(row)
            written += 1
            if written % EXPORT_PROGRESS_EVERY == 0:
                progress.update(task, completed=written)
    return written


def cmd_export(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    store = open_existing_database()
    try:
        if args.csv == "-":
            written = _write_csv(store, since, sys.stdout, show_progress=False)
            return 0
        target = Path(args.csv)
        if not target.parent.is_dir():
            raise InputError(f"--csv: the directory {target.parent} does not exist")
        try:
            with target.open("w", newline="", encoding="utf-8") as out:
                written = _write_csv(store, since, out, show_progress=True)
        except OSError as error:
            raise InputError(f"--csv: cannot write {target}: {error.strerror or error}") from None
    finally:
        store.close()
    print(f"Exported {written} rows to {target}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- doctor


@dataclass(frozen=True)
class Check:
    """One line of `viber-bot doctor`: what was checked, how it went and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _setting_problems(error: ValidationError) -> str:
    """Every bad setting in one line (start-up names only the first; doctor names them all)."""
    problems = []
    for item in error.errors():
        loc = item.get("loc") or ()
        name = str(loc[0]) if loc else ""
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        if item.get("type") == "missing":
            message = "required but not set"
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems)


def check_settings() -> tuple[Settings | None, Check]:
    try:
        settings = Settings()  # type: ignore[call-arg]  # every field comes from env/.env
    except ValidationError as error:
        return None, Check(
            "settings",
            False,
            _setting_problems(error),
            "set each in the environment or in .env in the working directory (see README)",
        )
    mode = (
        "Socket Mode" if settings.socket_mode else f"HTTP mode on {settings.host}:{settings.port}"
    )
    detail = f"loaded ({mode}, command {settings.command}, sender {settings.default_sender})"
    return settings, Check("settings", True, detail)


def _database_fix(problem: str, path: Path) -> str:
    lowered = problem.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return (
            f"the file is damaged or is not a viber-bot database: stop the bot, move it aside "
            f"(mv {path} {path}.broken) and restore a backup, or start the bot to create a "
            "fresh one (the history of earlier messages stays in the moved file)"
        )
    if "locked" in lowered:
        return "another process holds a lock on it: wait and run doctor again"
    if "directory" in lowered:
        return "point VIBER_BOT_DB at a file, e.g. VIBER_BOT_DB=/data/viber-bot.db"
    return (
        f"check that {path} is readable and writable by this user, or point VIBER_BOT_DB elsewhere"
    )


def check_database(path: Path) -> Check:
    if not path.exists() and not path.is_symlink():
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            return Check(
                "database",
                False,
                f"{path}: the directory {folder} does not exist",
                "create the directory, or point VIBER_BOT_DB at a file in an existing one",
            )
        if not os.access(folder, os.W_OK):
            return Check(
                "database",
                False,
                f"{path} does not exist and {folder} is not writable",
                f"let this user write to {folder}, or point VIBER_BOT_DB elsewhere",
            )
        return Check("database", True, f"{path} does not exist yet; `viber-bot run` creates it")
    try:
        store = Store.open(path)
    except StorageError as error:
        return Check("database", False, str(error), _database_fix(str(error), path))
    try:
        now = datetime.now(UTC)
        messages = store.count_messages()
        due = store.count_due(now)
        waiting = store.outbox_depth()
        sweeps = store.recent_sweeps(1)
    except Exception as error:  # a file that opens but cannot be read is still damaged
        return Check("database", False, f"{path}: {error}", _database_fix(str(error), path))
    finally:
        store.close()
    last = (
        f"last sweep {_when(sweeps[0].finished_at)} UTC"
        if sweeps and sweeps[0].finished_at
        else "no sweep yet"
    )
    return Check(
        "database",
        True,
        f"{path}: {_plural(messages, 'message')}, {due} due for a status check, "
        f"{_plural(waiting, 'Slack post')} waiting, {last}",
    )


async def check_bsg(settings: Settings) -> Check:
    from bot.bsg.client import BsgClient

    url = settings.bsg_api_url
    client = BsgClient(
        api_key=settings.bsg_api_key,
        base_url=url,
        timeout=settings.bsg_timeout,
        retries=0,
    )
    try:
        balance = await client.balance()
    except BsgRefused as error:
        said = f", HTTP {error.http_status}" if error.http_status else ""
        what = f"(code {error.code}{said}): {error.description or '-'}"
        if error.code == 1 or error.http_status in (401, 403):
            return Check(
                "BSG",
                False,
                f"BSG at {url} refused the API key {what}",
                "check BSG_API_KEY: copy the key from BSG's dashboard (live keys start with live_)",
            )
        return Check(
            "BSG", False, f"BSG refused the balance request {what}", explain_bsg_code(error.code)
        )
    except BsgUnavailable as error:
        return Check(
            "BSG",
            False,
            f"BSG could not be reached at {url}: {error.reason}",
            "check BSG_API_URL (BSG's is https://api.bsg.world/rest) and that this machine can "
            "reach it (network, proxy, firewall); if both are right, BSG may be down",
        )
    except BsgProtocolError as error:
        return Check(
            "BSG",
            False,
            f"{url} does not answer like BSG's REST API: {error}",
            "check BSG_API_URL: it is BSG's REST base URL, e.g. https://api.bsg.world/rest",
        )
    except BsgError as error:
        return Check("BSG", False, f"BSG at {url}: {error}", "run doctor again in a minute")
    finally:
        await client.aclose()
    amount = _price(balance.amount, balance.currency)
    return Check("BSG", True, f"API key accepted at {url}; balance {amount}")


_SLACK_TOKEN_FIX = (
    "copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page at "
    "https://api.slack.com/apps into SLACK_BOT_TOKEN"
)
_SLACK_ERRORS = {
    "invalid_auth": ("Slack rejected SLACK_BOT_TOKEN (invalid_auth)", _SLACK_TOKEN_FIX),
    "not_authed": ("no token reached Slack (not_authed)", _SLACK_TOKEN_FIX),
    "account_inactive": (
        "the token's app or workspace is inactive (account_inactive)",
        "reinstall the app to the workspace and copy the new bot token into SLACK_BOT_TOKEN",
    ),
    "token_revoked": (
        "the token was revoked (token_revoked)",
        "reinstall the app to the workspace and copy the new bot token into SLACK_BOT_TOKEN",
    ),
    "token_expired": (
        "the token expired (token_expired)",
        "turn off token rotation for the app, or reinstall it and copy the new bot token",
    ),
    "ratelimited": ("Slack rate-limited the check (ratelimited)", "run doctor again in a minute"),
}


async def check_slack(settings: Settings) -> Check:
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    url = settings.slack_api_url
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=url,
        retry_handlers=[],
        timeout=10,
    )
    try:
        answer = await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if code in _SLACK_ERRORS:
            detail, fix = _SLACK_ERRORS[code]
            return Check("Slack", False, f"{detail} at {url}", fix)
        if code:
            return Check(
                "Slack",
                False,
                f"Slack answered auth.test with {code} at {url}",
                "see https://api.slack.com/methods/auth.test for what it means",
            )
        return Check(
            "Slack",
            False,
            f"{url} answered HTTP {error.response.status_code}, not like Slack's Web API",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            "Slack",
            False,
            f"Slack could not be reached at {url}: {type(error).__name__}",
            "check SLACK_API_URL and that this machine can reach it (network, proxy, firewall)",
        )
    except Exception as error:  # a diagnosis must report, not crash
        return Check(
            "Slack",
            False,
            f"auth.test at {url} failed: {type(error).__name__}: {error}",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    if not answer.get("bot_id"):
        return Check(
            "Slack",
            False,
            f"SLACK_BOT_TOKEN belongs to a person ({answer.get('user')}), not to the bot",
            _SLACK_TOKEN_FIX,
        )
    return Check(
        "Slack",
        True,
        f"authenticated as {answer.get('user')} in {answer.get('team')} "
        f"({answer.get('team_id')}) at {url}",
    )


async def _remote_checks(settings: Settings) -> list[Check]:
    return list(await asyncio.gather(check_bsg(settings), check_slack(settings)))


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def cmd_doctor(args: argparse.Namespace) -> int:
    settings, first = check_settings()
    checks = [first]
    checks.append(check_database(settings.db_path if settings else database_path()))
    if settings is not None:
        checks += asyncio.run(_remote_checks(settings))
    else:
        for name in ("BSG", "Slack"):
            checks.append(Check(name, False, "not checked: the settings must load first"))
    secrets = settings.secrets() if settings else []
    console = _console()
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        detail = escape(_scrub(check.detail, secrets))
        console.print(f"{mark} {check.name:<{width}}  {detail}", soft_wrap=True)
        if check.fix:
            fix = escape(_scrub(check.fix, secrets))
            console.print(f"  {'':<{width}}  [bold]fix:[/bold] {fix}", soft_wrap=True)
    failed = sum(not c.ok for c in checks)
    if failed:
        console.print(f"{failed} of {len(checks)} checks failed.")
        return 1
    console.print(f"All {len(checks)} checks passed.")
    return 0


# ---------------------------------------------------------------- registration


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the operator subcommands on the `viber-bot` parser."""
    statuses = ", ".join(s.value for s in DeliveryStatus)
    since_help = "only messages created at or after this (2026-01-31 or 2026-01-31T14:00:00Z; UTC)"

    messages = sub.add_parser(
        "messages",
        help="list recipients' messages from the database (full numbers: operator view)",
        description=(
            "List messages, one per recipient, from the database (VIBER_BOT_DB): id, send, "
            "created, number, BSG id, reference, status, SMS status and price. "
            "Needs no Slack or BSG settings."
        ),
    )
    messages.add_argument("--status", metavar="S", help=f"only this status ({statuses})")
    messages.add_argument("--since", metavar="DATE", help=since_help)
    messages.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"the latest N (default {DEFAULT_LIMIT}; 0 for all)",
    )
    messages.add_argument("--json", action="store_true", help="print a JSON array instead")
    messages.set_defaults(handler=cmd_messages)

    show = sub.add_parser(
        "show",
        help="one message with its send and its full status history",
        description=(
            "Show one message, found by its BSG id or its reference: who sent it where, the "
            "text and sender, its status and SMS status, price, and every status it went through."
        ),
    )
    show.add_argument("message", metavar="ID-OR-REFERENCE", help="BSG id or reference")
    show.add_argument("--json", action="store_true", help="print JSON instead")
    show.set_defaults(handler=cmd_show)

    export = sub.add_parser(
        "export",
        help="write sends and per-recipient outcomes and costs as CSV",
        description=(
            "Write one CSV row per recipient message with its send's columns: send id, time, "
            "user, channel, sender, text, outcome, number, reference, BSG id, status, SMS status, "
            "prices and errors. Cells that a spreadsheet would run as a formula get a leading '."
        ),
    )
    export.add_argument("--csv", required=True, metavar="FILE", help="the CSV file ('-': stdout)")
    export.add_argument("--since", metavar="DATE", help=since_help)
    export.set_defaults(handler=cmd_export)

    doctor = sub.add_parser(
        "doctor",
        help="check the settings, the database, BSG (balance) and Slack (auth.test)",
        description=(
            "Check the settings, the database, BSG (through the balance call) and Slack "
            "(through auth.test), printing ✓ or ✗ per check with how to fix it. "
            "Exit status 0 when every check passes, 1 otherwise. No secret is printed."
        ),
    )
    doctor.set_defaults(handler=cmd_doctor)
