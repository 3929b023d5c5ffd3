"""The person at the keyboard: signed `/viber` commands and modal submissions into the bot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.text import Text

from bot.devtools.demo.channel import mask_numbers, print_private
from bot.devtools.demo.script import (
    CHANNEL_ID,
    CHANNEL_NAME,
    COMMAND,
    USER_ID,
    USER_NAME,
    DemoFailed,
)
from bot.devtools.slack_requests import SlackRequest, slash_command, view_submission
from bot.devtools.slack_standin import SlackStandIn


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
        self._you("type", Text(mask_numbers(shown), style="cyan"), f"in #{CHANNEL_NAME}")
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
            print_private(self.console, str(body["text"]))
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
            self.console.print(f"    {label:<{width}}  {mask_numbers(str(values[block_id]))}")
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
            raise DemoFailed(f"the form was refused: {mask_numbers(problems)}")
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
