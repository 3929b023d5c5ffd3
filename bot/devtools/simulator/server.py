"""The simulator's server: its routes, the API key check, and the controls tests script it with."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from bot.clock import Clock, utcnow
from bot.devtools.sim_callbacks import CallbackSender
from bot.devtools.simulator.answers import AnswerForms
from bot.devtools.simulator.faults import REST, Failure, FaultScripting
from bot.devtools.simulator.lifecycles import DEFAULT_LIFECYCLES, Lifecycles, load_lifecycles
from bot.devtools.simulator.sms import SmsEndpoints
from bot.devtools.simulator.state import Forced, SimMessage, SimSms, SmsRoute
from bot.devtools.simulator.validation import ACCOUNT, DESCRIPTIONS
from bot.devtools.simulator.viber import ViberEndpoints

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


ENDPOINT_OF_ROUTE = {"create_put": "create", "prices_by_tariff": "prices"}


class BsgSimulator(ViberEndpoints, SmsEndpoints, FaultScripting, AnswerForms):
    """BSG's Viber REST API on 127.0.0.1, realistic by default and scriptable from tests."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        time_scale: float = 1.0,
        lifecycles: Lifecycles | Mapping[str, Any] | str | Path | None = None,
        shape: Literal["result", "array"] = "result",
        quirky: bool = False,
        seed: int = 0,
        balance: Decimal | str | int = Decimal("100"),
        price: Decimal | str = Decimal("0.0200000"),
        sms_price: Decimal | str = Decimal("0.0500000"),
        currency: str = "EUR",
        registered_senders: Iterable[str] | None = None,
        max_recipients: int = 50,
        http_errors: bool = False,
        clock: Clock | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if shape not in ("result", "array"):
            raise ValueError("shape must be 'result' or 'array'")
        self.api_key = api_key
        self.time_scale = float(time_scale)
        self.lifecycles = self._resolve_lifecycles(lifecycles)
        self.shape = shape
        self.quirky = quirky
        self.balance = Decimal(balance)
        self.price = Decimal(price)
        self.sms_price = Decimal(sms_price)
        self.currency = currency
        self.registered_senders = (
            None if registered_senders is None else frozenset(registered_senders)
        )
        self.max_recipients = max_recipients
        self.http_errors = http_errors
        self.clock: Clock = clock or utcnow
        self.create_delay = 0.0
        self.get_delay = 0.0
        self.price_delay = 0.0
        self.sms: dict[str, SimSms] = {}
        self._sms_by_reference: dict[tuple[str, str], SimSms] = {}
        self.hang_seconds = 300.0
        # Share of answers after which the server closes the kept-alive connection (0..1).
        self.drop_connections = 0.0
        self.dropped_connections = 0
        self._drop_rng = random.Random(seed + 1)

        self.messages: dict[str, SimMessage] = {}
        self.requests: list[tuple[str, str]] = []
        self.calls: Counter[str] = Counter()
        self._by_reference: dict[tuple[str, str], SimMessage] = {}
        self._any_reference: dict[str, SimMessage] = {}
        self._accepted: Counter[str] = Counter()
        self._failures: list[Failure] = []
        self._refused_msisdns: dict[str, int] = {}
        self._next_id = 1000
        self._rng = random.Random(seed)
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None
        # POSTs to each create's callback_url as statuses change (see sim_callbacks).
        self.callbacks = CallbackSender(lambda: self.clock(), seed=seed)

    @staticmethod
    def _resolve_lifecycles(
        lifecycles: Lifecycles | Mapping[str, Any] | str | Path | None,
    ) -> Lifecycles:
        if lifecycles is None:
            return DEFAULT_LIFECYCLES
        if isinstance(lifecycles, Lifecycles):
            return lifecycles
        if isinstance(lifecycles, str | Path):
            return load_lifecycles(lifecycles)
        return Lifecycles.from_mapping(lifecycles)

    # ------------------------------------------------------------ running

    def make_app(self) -> web.Application:
        """The aiohttp application (routes under /rest); `start()` serves it."""
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024)
        app.router.add_post("/rest/viber/create", self._create, name="create")
        app.router.add_put("/rest/viber/create", self._create, name="create_put")
        app.router.add_post("/rest/viber/price", self._price_preview, name="price_preview")
        app.router.add_get("/rest/viber/prices", self._prices, name="prices")
        app.router.add_get("/rest/viber/prices/{tariff}", self._prices, name="prices_by_tariff")
        app.router.add_get(
            "/rest/viber/reference/{reference}",
            self._status_by_reference,
            name="status_by_reference",
        )
        app.router.add_get("/rest/viber/{id}", self._status_by_id, name="status_by_id")
        app.router.add_get("/rest/common/balance", self._balance, name="balance")
        app.router.add_post("/rest/sms/create", self._sms_create, name="sms_create")
        app.router.add_post("/rest/sms/price", self._sms_price, name="sms_price")
        app.router.add_get(
            "/rest/sms/reference/{reference}", self._sms_by_ref, name="sms_status_by_reference"
        )
        app.router.add_get("/rest/sms/{id}", self._sms_by_id, name="sms_status")
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 picks a free port); returns the base URL ending in /rest."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.base_url = f"http://{shown}:{bound_port}{REST}"
        logger.info("BSG simulator listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Stop serving; requests held by `timeout` failures or delays end at once."""
        self._stopping.set()
        await self.callbacks.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("BSG simulator stopped")

    async def __aenter__(self) -> BsgSimulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ scripting

    def refuse_msisdn(self, msisdn: str, code: int = 41) -> None:
        """Refuse this number per recipient with `code` (e.g. 41) in every later create."""
        if code == 0 or code not in DESCRIPTIONS:
            raise ValueError(f"code must be a BSG error code the simulator knows, not {code}")
        self._refused_msisdns[str(msisdn)] = code

    def set_status(
        self, reference_or_id: str, viber_status: str, sms_status: str | None = None
    ) -> None:
        """Force a message's status from now on (the lifecycle stops for it)."""
        msg = self.message(reference_or_id)
        if sms_status is not None and msg.sms is None:
            msg.sms = SmsRoute(self._new_id(), msg.sender[:15], msg.text[:765], self.sms_price)
        msg.forced = Forced(viber_status, sms_status, self.clock())
        self.callbacks.changed(msg)

    def message(self, reference_or_id: str) -> SimMessage:
        """A recorded message by BSG id, or by reference (any API key); KeyError if none."""
        key = str(reference_or_id)
        msg = self.messages.get(key) or self._any_reference.get(key)
        if msg is None:
            raise KeyError(reference_or_id)
        return msg

    def status_of(self, reference_or_id: str) -> str:
        """The Viber status a query would report now."""
        return self.message(reference_or_id).snapshot(self.clock()).viber

    def sms_status_of(self, reference_or_id: str) -> str | None:
        """The SMS fallback's status a query would report now (None: no fallback yet)."""
        return self.message(reference_or_id).snapshot(self.clock()).sms

    def sent_to(self, msisdn: str) -> int:
        """How many times BSG accepted a message to this number."""
        return self._accepted[msisdn]

    @property
    def create_calls(self) -> int:
        return self.calls["create"]

    @property
    def status_calls(self) -> int:
        return self.calls["status_by_id"] + self.calls["status_by_reference"]

    @property
    def status_by_id_calls(self) -> int:
        return self.calls["status_by_id"]

    @property
    def status_by_reference_calls(self) -> int:
        return self.calls["status_by_reference"]

    def reset_counters(self) -> None:
        """Forget the request log and counts (messages and balance stay)."""
        self.requests.clear()
        self.calls.clear()

    # ------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        route_name = request.match_info.route.name
        if route_name:
            self.calls[ENDPOINT_OF_ROUTE.get(route_name, route_name)] += 1
        failure = self._take_failure(request.path)
        if failure is not None and not failure.after_processing:
            return await self._fail(failure)
        supplied = request.headers.get("X-API-KEY", "").strip()
        if not supplied or (self.api_key is not None and supplied != self.api_key):
            logger.info(
                "BSG simulator: %s %s without a valid API key", request.method, request.path
            )
            response: web.StreamResponse = web.json_response(
                {"code": 401, "message": "API Key not found"}, status=401
            )
        else:
            request[ACCOUNT] = supplied
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = web.json_response({"code": 404, "message": "Not Found"}, status=404)
            except web.HTTPMethodNotAllowed:
                response = web.json_response(
                    {"code": 405, "message": "Method Not Allowed"}, status=405
                )
        if failure is not None:
            return await self._fail(failure)
        if self.drop_connections and self._drop_rng.random() < self.drop_connections:
            await self._answer_then_close(request, response)
        return response

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)
