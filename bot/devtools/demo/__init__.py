"""`viber-bot demo`: the whole flow on this machine, no accounts, no network (see runner.py)."""

from bot.devtools.demo.runner import demo_settings, play, run_demo
from bot.devtools.demo.script import (
    EXPECTED,
    FAST,
    NEVER_LANDS,
    NOT_ON_VIBER,
    READ_LATER,
    READ_QUICKLY,
    SLOW,
    Pace,
)

__all__ = [
    "EXPECTED",
    "FAST",
    "NEVER_LANDS",
    "NOT_ON_VIBER",
    "READ_LATER",
    "READ_QUICKLY",
    "SLOW",
    "Pace",
    "demo_settings",
    "play",
    "run_demo",
]
