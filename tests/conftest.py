"""Shared fixtures: BSG simulator and Slack stand-in on 127.0.0.1, the bot on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.app import ViberBot, serve
from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from bot.settings import Settings, load_settings
from tests import slack_requests
from tests.recording_bsg import RecordingBsg
from tests.waiting import wait_until

# The PostgreSQL server fixtures (pg_server, pg_url, own_pg_server).
pytest_plugins = ["tests.postgres"]

BOT_TOKEN = "xoxb-test-bot-token-0123456789"
SIGNING_SECRET = "signing-secret-abcdef0123456789"
BSG_KEY = "live_secret_bsg_key_0123456789"
CHANNEL = "C123"
APP_TOKEN = "xapp-1-test-app-token-0123456789"
USER = "U123"

# No proxy may route loopback traffic anywhere else.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"


class FakeClock:
    """Real time plus an offset the test moves forward: time flows, and can jump."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bsg(clock: FakeClock) -> AsyncIterator[RecordingBsg]:
    """The BSG simulator, speaking real HTTP on 127.0.0.1 and keeping every request it got;
    tests script it."""
    simulator = RecordingBsg(api_key=BSG_KEY, clock=clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    """The Slack Web API stand-in on 127.0.0.1."""
    standin = SlackStandIn(token=BOT_TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def socket_slack() -> AsyncIterator[SlackStandIn]:
    """A Slack stand-in that also takes Socket Mode connections (with APP_TOKEN)."""
    standin = SlackStandIn(token=BOT_TOKEN, app_token=APP_TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
def standin(slack: SlackStandIn) -> SlackStandIn:
    """The same stand-in, under the name the process and stand-in tests use."""
    return slack


def stand_in_values(bsg: BsgSimulator, slack: SlackStandIn, database: str | Path) -> dict[str, Any]:
    """What every test bot is configured with: the tests' tokens, the stand-ins' URLs, its
    database, a sender, and any free port of 127.0.0.1."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "BSG_API_KEY": BSG_KEY,
        "BSG_API_URL": bsg.base_url,
        "VIBER_BOT_DB": str(database),
        "VIBER_BOT_DEFAULT_SENDER": "Acme",
        "HOST": "127.0.0.1",
        "PORT": 0,
    }


def settings_for(
    bsg: BsgSimulator, slack: SlackStandIn, database: str | Path, **overrides: Any
) -> Settings:
    """Settings of an in-process test bot: quick polls, short timeouts, few retries."""
    values = stand_in_values(bsg, slack, database)
    values.update(
        {
            "VIBER_BOT_POLL_INTERVAL": 0.2,
            "VIBER_BOT_BSG_TIMEOUT": 2.0,
            "VIBER_BOT_BSG_RETRIES": 1,
            "VIBER_BOT_SLACK_POST_INTERVAL": 0.0,
            "VIBER_BOT_SLACK_RETRIES": 2,
        }
    )
    values.update(overrides)
    return load_settings(_env_file=None, **values)


@pytest.fixture
def make_settings(
    tmp_path: Path, bsg: BsgSimulator, slack: SlackStandIn
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        overrides.setdefault("VIBER_BOT_RECONCILE_GRACE", 1.0)
        return settings_for(bsg, slack, tmp_path / "viber-bot.db", **overrides)

    return build


@dataclass
class RunningBot:
    """The bot serving on a real port, and a signed-request client for it."""

    bot: ViberBot
    url: str
    http: httpx.AsyncClient
    slack: SlackStandIn
    bsg: BsgSimulator
    runner: web.AppRunner
    stopped: bool = False

    async def stop(self) -> None:
        """Stop the bot as SIGTERM would (the database stays for a restart)."""
        if not self.stopped:
            self.stopped = True
            await self.http.aclose()
            await self.runner.cleanup()

    @property
    def store(self):
        return self.bot.store

    async def post(self, request: slack_requests.SlackRequest) -> httpx.Response:
        return await self.http.post(
            f"{self.url}/slack/events", content=request.body, headers=request.headers
        )

    async def command(self, text: str, **fields: Any) -> httpx.Response:
        fields.setdefault("response_url", self.slack.response_url())
        fields.setdefault("command", self.bot.settings.command)
        return await self.post(slack_requests.slash_command(SIGNING_SECRET, text=text, **fields))

    async def submit(self, values: dict[str, Any], **fields: Any) -> httpx.Response:
        return await self.post(
            slack_requests.view_submission(SIGNING_SECRET, values=values, **fields)
        )

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        return await wait_until(predicate, timeout)

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of GET /metrics, as Prometheus would scrape it (0 when not there yet)."""
        response = await self.http.get(f"{self.url}/metrics")
        assert response.status_code == 200
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    async def settle(self) -> None:
        """Wait until no create started here is under way and the outbox is empty (every
        queued post made)."""
        await self.wait_for(lambda: not self.bot.sending.delivering)
        await self.wait_for(self.bot.outbox.is_idle)

    def parent(self, channel: str = CHANNEL, index: int = -1) -> dict[str, Any]:
        return self.slack.channel_messages(channel)[index]

    def replies(self, channel: str = CHANNEL, index: int = -1) -> list[str]:
        parent = self.parent(channel, index)
        return [m.get("text", "") for m in self.slack.thread(channel, parent["ts"])]

    async def sweeps_after(self, count: int = 2, timeout: float = 10.0) -> None:
        """Wait until `count` more sweeps have finished."""
        target = len(await self.bot.store.recent_sweeps(1000)) + count

        async def swept() -> bool:
            return len(await self.bot.store.recent_sweeps(1000)) >= target

        await self.wait_for(swept, timeout)


async def start_bot(
    settings: Settings, slack: SlackStandIn, bsg: BsgSimulator, clock: FakeClock
) -> tuple[RunningBot, web.AppRunner]:
    bot = ViberBot(settings, clock=clock)
    runner = web.AppRunner(bot.web_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    http = httpx.AsyncClient(timeout=10, trust_env=False)
    running = RunningBot(
        bot=bot, url=f"http://127.0.0.1:{port}", http=http, slack=slack, bsg=bsg, runner=runner
    )
    return running, runner


@pytest.fixture
async def make_bot(make_settings, slack, bsg, clock) -> AsyncIterator[Callable[..., Any]]:
    """Start bots on demand (`await make_bot(**settings)`); all are stopped at the end."""
    started: list[RunningBot] = []

    async def make(**overrides: Any) -> RunningBot:
        running, _ = await start_bot(make_settings(**overrides), slack, bsg, clock)
        started.append(running)
        return running

    yield make
    for running in started:
        await running.stop()


@pytest.fixture
async def app(make_bot) -> RunningBot:
    return await make_bot()


@contextlib.asynccontextmanager
async def serving_socket_mode(
    settings: Settings, slack: SlackStandIn, clock: FakeClock
) -> AsyncIterator[str]:
    """`serve()` a Socket Mode bot until the block ends; yields its address (/healthz and
    /metrics, and /bsg/callback) once its Socket Mode connection is open."""
    bot = ViberBot(settings, clock=clock)
    stop = asyncio.Event()
    address: list[str] = []
    task = asyncio.create_task(serve(bot, stop=stop, ready=address.append))
    try:
        await wait_until(lambda: slack.socket_connected and address, 4, "a Socket Mode connection")
        yield address[0]
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def socket_command(slack: SlackStandIn, text: str) -> dict[str, Any]:
    """`/viber <text>` in C123 over Socket Mode; the bot's acknowledgement payload."""
    return await slack.socket_request(
        "slash_commands",
        {
            "command": "/viber",
            "text": text,
            "user_id": USER,
            "channel_id": CHANNEL,
            "team_id": "T123",
            "trigger_id": "1337.42.abc",
            "response_url": slack.response_url(),
        },
    )


def bound_socket() -> socket.socket:
    """A listening socket on a port of 127.0.0.1 the system chose: the port is ours from the
    start, so a bot that must know its address first (VIBER_BOT_PUBLIC_URL) races no one."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.fixture
def refusing_port() -> Iterator[Callable[[], int]]:
    """Ports of 127.0.0.1 that refuse connections: bound, so ours for the whole test, but never
    listened on. (A port probed free and let go could be taken by anyone before it is used.)"""
    held: list[socket.socket] = []

    def take() -> int:
        sock = socket.socket()
        held.append(sock)
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

    yield take
    for sock in held:
        sock.close()


@pytest.fixture
async def callback_bot(make_settings, slack, bsg, clock) -> AsyncIterator[Callable[..., Any]]:
    """A bot on a port known in advance, so VIBER_BOT_PUBLIC_URL can name it."""
    started: list[RunningBot] = []

    async def make(**overrides: Any) -> RunningBot:
        sock = bound_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        overrides.setdefault("VIBER_BOT_PUBLIC_URL", url)
        overrides.setdefault("VIBER_BOT_POLL_INTERVAL", 30)  # only a callback can be quick
        bot = ViberBot(make_settings(**overrides), clock=clock)
        runner = web.AppRunner(bot.web_app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        http = httpx.AsyncClient(timeout=10, trust_env=False)
        running = RunningBot(bot=bot, url=url, http=http, slack=slack, bsg=bsg, runner=runner)
        started.append(running)
        return running

    yield make
    for running in started:
        await running.stop()
