"""Run `viber-bot run` as a real subprocess: start, wait for /healthz, SIGKILL, SIGTERM, restart."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from tests import slack_requests
from tests.conftest import stand_in_values
from tests.waiting import wait_until  # re-exported for tests written against this module

REPO = Path(__file__).resolve().parents[1]
# Variables of ours that must not leak from the test runner's environment into the bot's.
OWN_PREFIXES = ("SLACK_", "BSG_", "VIBER_BOT_")
__all__ = ["BotProcess", "bot_env", "env_for", "run_once", "wait_until"]


# `viber-bot run` logs the address it bound (PORT=0 binds any free port).
_LISTENING = re.compile(r"(?:POST /slack/events|/healthz and /metrics) on ([0-9.]+):([0-9]+)")


def bot_env(**settings: Any) -> dict[str, str]:
    """The environment for a bot subprocess: ours replaced, loopback never proxied."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(OWN_PREFIXES)
        and key.upper() not in {"PORT", "HOST"}
        and "PROXY" not in key.upper()
    }
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update({key: str(value) for key, value in settings.items()})
    return env


def env_for(
    bsg: BsgSimulator, slack: SlackStandIn, database: str | Path, **settings: Any
) -> dict[str, str]:
    """`bot_env` for a bot against these stand-ins, with the tests' tokens, quick polling and
    posting, on any free port of 127.0.0.1 (BotProcess reads it back); `settings` add or win."""
    values = stand_in_values(bsg, slack, database)
    values.update(VIBER_BOT_POLL_INTERVAL=0.3, VIBER_BOT_SLACK_POST_INTERVAL=0)
    values.update(settings)
    return bot_env(**values)


def run_once(env: dict[str, str], cwd: Path, timeout: float = 20.0) -> subprocess.CompletedProcess:
    """`viber-bot run` to completion (for start-up failures); stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


class BotProcess:
    """One `viber-bot run` subprocess in `cwd`, its output kept in numbered log files there."""

    def __init__(self, env: dict[str, str], cwd: Path, signing_secret: str):
        self.env = env
        self.cwd = cwd
        self.signing_secret = signing_secret
        # With PORT=0 the address is read back from the log at each start (it may change).
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0
        self.http = httpx.AsyncClient(timeout=10, trust_env=False)

    @property
    def log_path(self) -> Path:
        return self.cwd / f"bot-{self.runs}.log"

    def log_of(self, run: int) -> str:
        """What run number `run` (1 for the first start) wrote to stdout and stderr."""
        path = self.cwd / f"bot-{run}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        """Everything every run wrote so far (for assertion messages)."""
        return "".join(self.log_of(n) for n in range(1, self.runs + 1))

    async def start(self, timeout: float = 20.0) -> None:
        """Start the bot and wait until /healthz answers 200."""
        assert self.process is None or self.process.returncode is not None, "already running"
        self.runs += 1
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.env.get("PORT") == "0" and (bound := _LISTENING.search(self.log_of(self.runs))):
                self.url = f"http://{bound.group(1)}:{bound.group(2)}"
            if self.process.returncode is not None:
                raise AssertionError(
                    f"the bot exited with {self.process.returncode}:\n{self.logs()}"
                )
            try:
                response = await self.http.get(f"{self.url}/healthz", timeout=1)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot never became healthy:\n{self.logs()}")
            await asyncio.sleep(0.05)

    async def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-whatever, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 10)

    async def terminate(self, timeout: float = 10.0) -> tuple[float, int]:
        """SIGTERM; returns (seconds until it exited, exit code)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"the bot ignored SIGTERM for {timeout}s:\n{self.logs()}"
            ) from None
        return time.monotonic() - started, code

    async def health(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.url}/healthz")
        return response.json()

    async def command(self, text: str, **fields: Any) -> httpx.Response:
        """A signed slash command, as Slack would post it."""
        request = slack_requests.slash_command(self.signing_secret, text=text, **fields)
        return await self.http.post(
            f"{self.url}/slack/events", content=request.body, headers=request.headers
        )

    async def close(self) -> None:
        """Kill the process if it still runs (end of test) and close the HTTP client."""
        if self.process is not None and self.process.returncode is None:
            await self.kill()
        await self.http.aclose()
