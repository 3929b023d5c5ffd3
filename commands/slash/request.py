"""What every subcommand handler gets: the command as Slack sent it and the ways to answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from commands.slash.parsing import SlashCommand


@dataclass(frozen=True)
class SlashRequest:
    """One invocation of the slash command, parsed; `ack` must be called within 3 seconds."""

    ack: AsyncAck
    respond: AsyncRespond
    client: AsyncWebClient
    command: dict[str, Any]
    parsed: SlashCommand
