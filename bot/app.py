"""The composition root: builds every service, the Bolt app, the scheduler and the HTTP server.

One subject, over 400 lines: the wiring, the scheduler's jobs and the one stop sequence are
kept together so that start and stop can be read in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

import commands
from bot import runtime
from bot.bsg.client import BsgClient
from bot.callback_endpoint import receive_callback
from bot.clock import Clock, Grid, offset_of, utcnow
from bot.domain.callback_tokens import CallbackTokens
from bot.domain.errors import StorageError
from bot.domain.policy import PollPolicy
from bot.metrics import Metrics
from bot.services import Services
from bot.settings import Settings
from bot.slack.estimate import EstimateService
from bot.slack.home import HomeService
from bot.slack.live_estimate import LiveEstimate
from bot.slack.notifier import Notifier
from bot.slack.outbox import OutboxWorker
from bot.slack.thread_actions import ThreadActions
from bot.tracking.audiences import AudienceService
from bot.tracking.callbacks import CallbackService
from bot.tracking.poller import Poller
from bot.tracking.sending import SendService
from storage.replicas import Coordinator, Leases, Solo, replica_id
from storage.store import Store

log = logging.getLogger(__name__)

SWEEP_JOB = "status-sweep"
HEARTBEAT_JOB = "replica-heartbeat"
HEALTH_PING_TIMEOUT = 2.0  # seconds /healthz waits for the database
SMS_TRACKING = "sms-tracking"  # one replica at a time tracks resend_sms's SMS


def _version() -> str | None:
    try:
        return importlib.metadata.version("viber-bot")
    except importlib.metadata.PackageNotFoundError:
        return None


class _NoTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that our client (or our `authorize`, which
    hands Bolt the same token) wins; that is intended."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "will be unused" not in message and "will be ignored" not in message


bolt_log = logging.getLogger("bot.bolt")
bolt_log.addFilter(_NoTokenNotice())
STOP_BUDGET = 4.0  # seconds; the contract allows 5 from SIGTERM to exit


class ViberBot:
    """Everything one running bot is made of, wired together; start() and stop() it."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        bsg_transport: httpx.AsyncBaseTransport | None = None,
        store: Store | None = None,
    ):
        self.settings = settings
        self.clock = clock
        self.replica = replica_id()
        self.store = store or Store.open(
            settings.postgres_url or settings.db_path,
            pool_size=settings.pg_pool_size,
            applied_by=self.replica,
        )
        # Who works on what: leases in a shared PostgreSQL database, or all of it (SQLite).
        self.replicas: Coordinator = (
            Leases(
                self.store.backend,
                lease_seconds=settings.lease_seconds,
                heartbeat_interval=settings.heartbeat_interval,
                version=_version(),
                replica=self.replica,
            )
            if self.store.backend.name == "postgresql"
            else Solo(self.store, replica=self.replica)
        )
        self.metrics = Metrics()
        secret = settings.callback_secret
        # Without a secret in the settings, the one kept in the database is read by start().
        self.callback_tokens = CallbackTokens(secret.get_secret_value() if secret else None)
        callback_url = (
            partial(self.callback_tokens.url, settings.public_url) if settings.public_url else None
        )
        self.bsg = BsgClient(
            api_key=settings.bsg_api_key,
            base_url=settings.bsg_api_url,
            timeout=settings.bsg_timeout,
            batch_size=settings.bsg_batch_size,
            create_concurrency=settings.bsg_create_concurrency,
            create_linger=settings.bsg_create_linger,
            retries=settings.bsg_retries,
            transport=bsg_transport,
            callback_url=callback_url,
        )
        # No SDK-level retries: a retried post may double; the outbox decides instead.
        self.slack = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            retry_handlers=[],
            timeout=15,
        )
        self.policy = PollPolicy(
            base=settings.poll_interval,
            factor=settings.poll_backoff_factor,
            cap=settings.poll_max_interval,
            expiry_grace=settings.expiry_grace,
        )
        self.notifier = Notifier(store=self.store, settings=settings, clock=clock)
        self.outbox = OutboxWorker(
            store=self.store,
            client=self.slack,
            notifier=self.notifier,
            settings=settings,
            clock=clock,
            metrics=self.metrics,
            replicas=self.replicas,
        )
        self.sending = SendService(
            store=self.store,
            bsg=self.bsg,
            settings=settings,
            clock=clock,
            policy=self.policy,
            metrics=self.metrics,
            listener=self.notifier,
            wake_outbox=self.outbox.wake,
        )
        self.sending.shared_database = self.replicas.shared
        self.poller = Poller(
            store=self.store,
            bsg=self.bsg,
            listener=self.notifier,
            sending=self.sending,
            settings=settings,
            clock=clock,
            policy=self.policy,
            metrics=self.metrics,
            wake_outbox=self.outbox.wake,
            replicas=self.replicas,
        )
        self.callbacks = CallbackService(
            store=self.store,
            tokens=self.callback_tokens,
            poller=self.poller,
            settings=settings,
            clock=clock,
            metrics=self.metrics,
        )
        self.outbox.on_posted = self.callbacks.posted
        self.home = HomeService(store=self.store, bsg=self.bsg, settings=settings, clock=clock)
        self.audiences = AudienceService(
            store=self.store, default_region=settings.default_region, clock=clock
        )
        self._auth_test: AsyncSlackResponse | None = None
        self._auth_test_lock = asyncio.Lock()
        self._warm_identity: asyncio.Future[None] | None = None

        async def authorize(user_id: str | None) -> AuthorizeResult:
            # A plain function: Bolt passes what its parameters name (and would pass `self`).
            return await self._authorize(user_id)

        self.bolt = AsyncApp(
            client=self.slack,
            authorize=authorize,
            signing_secret=(
                settings.slack_signing_secret.get_secret_value()
                if settings.slack_signing_secret
                else None
            ),
            request_verification_enabled=not settings.socket_mode,
            process_before_response=True,  # with commands.ack_first: answered at the ack
            raise_error_for_unhandled_request=False,
            logger=bolt_log,
        )
        self.bolt.error(self._on_listener_error)
        self.estimates = EstimateService(bsg=self.bsg, settings=settings)
        self.live_estimate = LiveEstimate(
            client=self.slack, estimates=self.estimates, audiences=self.audiences
        )
        self.thread_actions = ThreadActions(
            store=self.store,
            bsg=self.bsg,
            sending=self.sending,
            slack=self.slack,
            settings=settings,
            clock=clock,
            policy=self.policy,
            notifier=self.notifier,
            wake_outbox=self.outbox.wake,
            # Opted-out numbers are never resent to (read inside the action's transaction).
            opted_out=self.store.opted_out_among,
        )
        commands.register(
            self.bolt,
            Services(
                settings=settings,
                store=self.store,
                bsg=self.bsg,
                sending=self.sending,
                home=self.home,
                clock=clock,
                metrics=self.metrics,
                estimates=self.estimates,
                live_estimate=self.live_estimate,
                thread_actions=self.thread_actions,
                audiences=self.audiences,
            ),
        )
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._sweeping: asyncio.Task[Any] | None = None
        # The sweeps' ticks (wall time); start() sets it where the scheduler's grid starts.
        self.grid = Grid(utcnow(), timedelta(seconds=settings.poll_interval))
        self._started = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the outbox and the poller; tracking resumes from the database."""
        if self._started:
            return
        if self.settings.callback_secret is None:
            self.callback_tokens.use(await self.store.callback_secret(self.clock()))
        # One connection pool for every Web API call (without it the SDK opens a session,
        # and a connection, per call).
        if self.slack.session is None or self.slack.session.closed:
            self.slack.session = aiohttp.ClientSession()
        self.outbox.start()
        # Who the bot is, asked of Slack now rather than by the first command after a start
        # (every request in flight would wait for that round trip).
        self._warm_identity = asyncio.ensure_future(self._identity_at_start())
        # The first sweep runs at once: it reconciles what a previous run left open. The
        # trigger starts its grid there too, so every sweep runs at a tick of self.grid.
        first = utcnow() + timedelta(seconds=0.05)  # scheduler time is wall time
        self.grid = Grid(first, timedelta(seconds=self.settings.poll_interval))
        self.scheduler.add_job(
            self._sweep_job,
            "interval",
            seconds=self.settings.poll_interval,
            start_date=first,
            id=SWEEP_JOB,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.settings.poll_interval * 2)),
            next_run_time=first,
            replace_existing=True,
        )
        if self.replicas.shared:
            self.scheduler.add_job(
                self._heartbeat_job,
                "interval",
                seconds=self.settings.heartbeat_interval,
                id=HEARTBEAT_JOB,
                coalesce=True,
                max_instances=1,
                next_run_time=utcnow(),
                replace_existing=True,
            )
        self.scheduler.start()
        self._started = True
        log.info(
            "viber-bot started: poll every %ss, database %s, delivery callbacks %s",
            self.settings.poll_interval,
            self.settings.database_label,
            "on" if self.settings.callbacks_on else "off (VIBER_BOT_PUBLIC_URL unset)",
        )

    async def _authorize(self, user_id: str | None) -> AuthorizeResult:
        """Who the bot is, for Bolt: Slack's auth.test asked once per process, by the first
        request (the others wait for that answer). Bolt's own single-team authorization asks
        it for every request until the first answer is back: a burst of commands after a start
        made one auth.test each (20 of them for 20 commands in flight)."""
        identity = await self._identity()
        token = self.settings.slack_bot_token.get_secret_value()
        return AuthorizeResult(
            enterprise_id=identity.get("enterprise_id"),
            team_id=identity.get("team_id"),
            bot_id=identity.get("bot_id"),
            bot_user_id=identity.get("user_id"),
            bot_token=token,
            user_id=user_id,
            bot_scopes=identity.headers.get("x-oauth-scopes"),
        )

    async def _identity_at_start(self) -> None:
        try:
            await self._identity()
        except Exception as error:  # the first request asks again; doctor explains
            log.warning(
                "Slack auth.test at start failed (%s); asked again on the first request",
                type(error).__name__,
            )

    async def _identity(self) -> AsyncSlackResponse:
        if self._auth_test is None:
            async with self._auth_test_lock:
                if self._auth_test is None:
                    self._auth_test = await self.slack.auth_test()
        return self._auth_test

    async def _heartbeat_job(self) -> None:
        try:
            await self.replicas.heartbeat()
        except StorageError as error:  # the database is away: /healthz says so meanwhile
            log.warning("heartbeat failed: %s", error)

    def sweep_tick(self) -> datetime:
        """The tick the sweep starting now was scheduled for, on the bot's clock.

        What a sweep records is due again counted from its tick, not from the moment its answer
        came: a gap of one interval then lands exactly on the next tick. Counted from the
        answer (a few ms or seconds into the sweep), the next tick would just miss it and every
        short gap would grow by a whole interval."""
        return self.grid.tick(utcnow()) + offset_of(self.clock)

    async def _sweep_job(self) -> None:
        self._sweeping = asyncio.current_task()
        try:
            tick = self.sweep_tick()
            await self.poller.sweep(tick=tick)
            # SMS that resend_sms sent through the SMS API, tracked beside the Viber sweep
            # (by one replica at a time: two would announce the same SMS twice).
            async with self.replicas.exclusive(SMS_TRACKING) as ours:
                if ours:
                    await self.thread_actions.track_sms(tick=tick)
        except asyncio.CancelledError:
            if self._started:
                raise
            # stop() gave up waiting. A sweep commits a page of whole sends at a time: what it
            # recorded stays, the rest is still due and the next start looks again.
            # (Re-raising would log a traceback as ERROR.)
            log.info("sweep interrupted by the stop; it is redone on the next start")
        except StorageError as error:  # the database is away: the next sweep tries again
            log.warning("sweep failed: %s", error)
        except Exception:  # one failed sweep must not stop the schedule
            log.exception("sweep failed")
        finally:
            self._sweeping = None

    async def stop(self) -> None:
        """Stop within the contract's 5 seconds; unfinished work resumes on the next start.

        The one stop sequence (SIGTERM, SIGINT and the HTTP server's clean-up all come here):
        1. pause the scheduler: no new sweep starts (shutdown() would cancel the running one
           at once, so it could never finish);
        2. stop taking delivery callbacks;
        3. side by side, each within STOP_BUDGET / 2 so the waits do not add up: the sweep
           under way finishes (or is cancelled: it commits a page of whole sends at a time, so
           no send is half recorded), the outbox post under way finishes (or stays in flight, to be
           looked for in Slack before it is posted again), and the creates that commands
           started after their acks finish (or are cancelled: their sends were stored first,
           and the next start looks them up at BSG);
        4. shut the scheduler down and close BSG's client, Slack's session and the store.
        """
        if not self._started:
            await self._close()
            return
        self._started = False
        self.scheduler.pause()
        await self.callbacks.stop()
        await asyncio.gather(
            self._finish_sweep(STOP_BUDGET / 2),
            self.outbox.stop(grace=STOP_BUDGET / 2),
            self.sending.settle(STOP_BUDGET / 2),
        )
        self.scheduler.shutdown(wait=False)
        if self._warm_identity is not None and not self._warm_identity.done():
            self._warm_identity.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warm_identity
        try:
            # A clean stop hands its leases back: the other replicas need not wait them out.
            await asyncio.wait_for(self.replicas.leave(), 1.0)
        except (StorageError, TimeoutError) as error:
            log.warning("could not hand back leases (they expire by themselves): %s", error)
        await self._close()
        log.info("viber-bot stopped")

    async def _finish_sweep(self, grace: float) -> None:
        sweeping = self._sweeping
        if sweeping is None or sweeping.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(sweeping), grace)
        except TimeoutError:
            sweeping.cancel()
            # _sweep_job logs its own failures; only the cancellation comes out of it.
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping

    async def _close(self) -> None:
        await self.bsg.aclose()
        if self.slack.session is not None and not self.slack.session.closed:
            await self.slack.session.close()
        await self.store.close()

    @property
    def scheduler_running(self) -> bool:
        return bool(self.scheduler.running)

    async def _on_listener_error(self, error: Exception, body: dict[str, Any]) -> None:
        # Bolt calls this for an exception in a listener: log it for the operator.
        log.error("listener failed: %s: %s", type(error).__name__, error, exc_info=error)

    # ------------------------------------------------------------ HTTP

    async def health(self) -> tuple[int, dict[str, Any]]:
        """(status, body) for /healthz: 200 while the database and scheduler are up.

        A BSG outage does not make the bot unhealthy (it keeps state and catches up); it is
        reported as `"bsg": "degraded"` with the last error, still with 200.
        """
        body: dict[str, Any] = {"status": "ok", "backend": self.store.backend.name}
        try:
            # Bounded: a database that does not answer is reported, not waited for.
            await asyncio.wait_for(self.store.ping(), HEALTH_PING_TIMEOUT)
            body["database"] = "ok"
        except Exception as error:
            body["database"] = f"error: {type(error).__name__}"
            body["status"] = "error"
        if self.replicas.shared:
            # Replicas on one database: which one this is and whether it holds work now.
            holds = self.replicas.holds
            body["replica"] = self.replicas.replica
            body["leases"] = holds
            body["holds_leases"] = any(holds.values())
        body["scheduler"] = "running" if self.scheduler_running else "stopped"
        if not self.scheduler_running:
            body["status"] = "error"
        report = self.poller.last_report
        body["last_sweep"] = report.finished_at.isoformat() if report else None
        if self.poller.bsg_failure is not None:
            body["bsg"] = "degraded"
            body["bsg_error"] = self.poller.bsg_failure
            if body["status"] == "ok":
                body["status"] = "degraded"
        else:
            body["bsg"] = "ok" if report else "unknown"
        if self.poller.reconcile_failure is not None:
            body["reconciliation"] = f"error: {self.poller.reconcile_failure}"
            if body["status"] == "ok":
                body["status"] = "degraded"
        try:
            if body["database"] != "ok":
                raise StorageError(body["database"])  # not waited for a second time
            body["outbox_depth"] = await asyncio.wait_for(
                self.store.outbox_depth(), HEALTH_PING_TIMEOUT
            )
            body["outbox_dead"] = await asyncio.wait_for(
                self.store.outbox_dead_count(), HEALTH_PING_TIMEOUT
            )
        except Exception:  # the database line above already says what is wrong
            body["outbox_depth"] = body["outbox_dead"] = None
        return (200 if body["status"] != "error" else 503), body

    def web_app(self, *, with_slack: bool = True) -> web.Application:
        """The aiohttp app: /slack/events (signed), /healthz and /metrics."""
        app = web.Application()

        async def events(request: web.Request) -> web.Response:
            bolt_request = await to_bolt_request(request)
            bolt_response = await self.bolt.async_dispatch(bolt_request)
            return await to_aiohttp_response(bolt_response)

        async def healthz(_: web.Request) -> web.Response:
            status, body = await self.health()
            return web.json_response(body, status=status)

        async def metrics(_: web.Request) -> web.Response:
            self.metrics.outbox_depth.set(await self.store.outbox_depth())
            return web.Response(
                body=self.metrics.render(), headers={"Content-Type": Metrics.content_type}
            )

        async def bsg_callback(request: web.Request) -> web.Response:
            return await receive_callback(self.callbacks, request)

        if with_slack:
            app.router.add_post("/slack/events", events)
        # Served beside /slack/events, and beside /healthz in Socket Mode (CONTRACT).
        app.router.add_post("/bsg/callback/{token}", bsg_callback)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", metrics)

        async def on_startup(_: web.Application) -> None:
            await self.start()

        async def on_cleanup(_: web.Application) -> None:
            await self.stop()

        app.on_startup.append(on_startup)
        app.on_cleanup.append(on_cleanup)
        return app


async def serve(
    bot: ViberBot,
    *,
    ready: Callable[[str], Awaitable[None] | None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop` is set): HTTP mode, or Socket Mode with /healthz
    and /metrics beside it."""
    settings = bot.settings
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(
        bot.web_app(with_slack=not settings.socket_mode), access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    runtime.settle_memory()
    # The address bound, not the one asked for: PORT=0 takes any free port, logged here.
    host, port = runner.addresses[0][:2]
    log.info("running on the %s event loop", runtime.loop_name(loop))
    socket_handler = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert settings.slack_app_token is not None
        socket_handler = AsyncSocketModeHandler(
            bot.bolt, settings.slack_app_token.get_secret_value()
        )
        await socket_handler.connect_async()
        log.info("Socket Mode connected; /healthz and /metrics on %s:%s", host, port)
    else:
        log.info("HTTP mode: POST /slack/events on %s:%s", host, port)
    if ready is not None:
        maybe = ready(f"http://{host}:{port}")
        if maybe is not None:
            await maybe
    await stop.wait()
    log.info("stopping")
    if socket_handler is not None:
        try:
            await asyncio.wait_for(socket_handler.close_async(), 1.0)
        except (TimeoutError, OSError, aiohttp.ClientError) as error:
            # Slack's end may already be gone; the process is stopping either way.
            log.info("Socket Mode connection closed uncleanly: %s", type(error).__name__)
    await runner.cleanup()
