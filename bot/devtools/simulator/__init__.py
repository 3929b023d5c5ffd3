"""A simulator of BSG's Viber and SMS REST API (aiohttp) for the demo, trials, tests and
benchmarks: how to run and script it is in docs/simulator.md.

lifecycles (what statuses a message passes through), state (a message's state at a moment),
validation (BSG's request rules), viber and sms (the endpoints), answers (the forms answers are
written in), faults (scripted failures and dropped connections), server (routes, the API key,
test controls), standalone (the command line's server).
"""

from __future__ import annotations

from bot.devtools.simulator.lifecycles import (
    DEFAULT_LIFECYCLES,
    Lifecycle,
    LifecycleError,
    Lifecycles,
    Step,
    load_lifecycles,
)
from bot.devtools.simulator.server import BsgSimulator
from bot.devtools.simulator.standalone import serve_forever
from bot.devtools.simulator.state import SimMessage, SimSms, SmsRoute, Snapshot

__all__ = [
    "DEFAULT_LIFECYCLES",
    "BsgSimulator",
    "Lifecycle",
    "LifecycleError",
    "Lifecycles",
    "SimMessage",
    "SimSms",
    "SmsRoute",
    "Snapshot",
    "Step",
    "load_lifecycles",
    "serve_forever",
]
