"""Operator commands: demo, messages, show, export and doctor."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register the operator subcommands on the `viber-bot` parser."""
