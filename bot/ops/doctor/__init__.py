"""`viber-bot doctor`: run every check (settings, database, BSG, Slack, callbacks) and print
each with how to fix it; one module per group of checks beside this runner."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.markup import escape

from bot.domain.redact import scrub
from bot.ops import COMMANDS
from bot.ops.doctor.bsg import check_bsg
from bot.ops.doctor.check import Check
from bot.ops.doctor.database import check_database, check_outbox, check_postgres
from bot.ops.doctor.settings import check_settings
from bot.ops.doctor.slack import check_app_token, check_slack
from bot.ops.output import console
from bot.settings import DatabaseSettings, Settings

__all__ = ["Check", "add_parser", "cmd_doctor"]

DEFAULT_HEARTBEAT = 5.0  # seconds: VIBER_BOT_HEARTBEAT_INTERVAL's default, when settings fail


async def _remote_checks(settings: Settings) -> list[Check]:
    checks = [check_bsg(settings), check_slack(settings), check_app_token(settings)]
    if settings.public_url is not None:
        from bot.ops.doctor.callbacks import check_callbacks

        checks.append(check_callbacks(settings))
    found = await asyncio.gather(*checks)
    return [check for check in found if check is not None]


def cmd_doctor(args: argparse.Namespace) -> int:
    settings, first = check_settings()
    checks = [first]
    database = settings or DatabaseSettings()
    if database.postgres_url is not None:
        interval = settings.heartbeat_interval if settings else DEFAULT_HEARTBEAT
        checks += check_postgres(database.postgres_url, interval)
    else:
        db_path = database.db_path
        checks.append(check_database(db_path))
        if checks[-1].ok and (outbox := check_outbox(db_path)) is not None:
            checks.append(outbox)
    if settings is not None:
        checks += asyncio.run(_remote_checks(settings))
    else:
        for name in ("BSG", "Slack"):
            checks.append(Check(name, False, "not checked: the settings must load first"))
    secrets = settings.secrets() if settings else []
    out = console()
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
        detail = escape(scrub(check.detail, secrets))
        out.print(f"{mark} {check.name:<{width}}  {detail}", soft_wrap=True)
        if check.fix:
            fix = escape(scrub(check.fix, secrets))
            out.print(f"  {'':<{width}}  [bold]fix:[/bold] {fix}", soft_wrap=True)
    failed = sum(not c.ok for c in checks)
    if failed:
        out.print(f"{failed} of {len(checks)} checks failed.")
        return 1
    out.print(f"All {len(checks)} checks passed.")
    return 0


def add_parser(sub: Any) -> None:
    """Register `doctor` on the `viber-bot` parser."""
    doctor = sub.add_parser(
        "doctor",
        help=COMMANDS["doctor"],
        description=(
            "Check the settings, the database (and Slack posts set aside as dead), BSG "
            "(through the balance call) and Slack (through auth.test, and apps.connections.open "
            "when SLACK_APP_TOKEN is set), printing ✓ or ✗ per check with how to fix it. "
            "Exit status 0 when every check passes, 1 otherwise. No secret is printed."
        ),
    )
    doctor.set_defaults(handler=cmd_doctor)
