"""What the demo prints: #general as it changes, and the private answers, in the terminal."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from bot.devtools.demo.script import CHANNEL_ID, CHANNEL_NAME, REFRESH, USER_ID, USER_NAME
from bot.devtools.slack_standin import SlackStandIn, render_text
from bot.domain.phones import mask

_FULL_NUMBER = re.compile(r"\+?\b\d{10,15}\b")


def mask_numbers(text: str) -> str:
    """Full phone numbers masked as the channel shows them (the transcript shows no full one)."""
    return _FULL_NUMBER.sub(lambda m: mask(m.group(0)), text)


def print_private(console: Console, text: str) -> None:
    line = Text("  Only visible to you: ", style="dim")
    line.append(mask_numbers(text))
    console.print(line)


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
            print_private(self.console, text)
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
