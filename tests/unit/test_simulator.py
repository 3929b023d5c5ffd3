"""The BSG simulator over real HTTP on 127.0.0.1: endpoints, refusals, lifecycles, hooks, shapes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.simulator import (
    DEFAULT_LIFECYCLES,
    BsgSimulator,
    Lifecycle,
    LifecycleError,
    Lifecycles,
    Step,
    load_lifecycles,
)

T0 = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
KEY = "test_simulator_key"
EXAMPLE_YAML = Path(__file__).resolve().parents[2] / "bot" / "devtools" / "lifecycles.example.yaml"
SMS = {"originator": "Acme", "text": "Your order has shipped (SMS)"}


class FixedClock:
    """Aware UTC time that moves only when a test says so."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


Started = tuple[BsgSimulator, httpx.AsyncClient]
StartSim = Callable[..., Awaitable[Started]]


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
async def start_sim(fixed_clock: FixedClock) -> AsyncIterator[StartSim]:
    started: list[Started] = []

    async def start(**options: Any) -> Started:
        options.setdefault("clock", fixed_clock)
        sim = BsgSimulator(**options)
        url = await sim.start()
        # Plain HTTP on 127.0.0.1: verify=False only skips loading CA certificates (slow).
        client = httpx.AsyncClient(
            base_url=url, headers={"X-API-KEY": KEY}, timeout=5, verify=False
        )
        started.append((sim, client))
        return sim, client

    yield start
    for sim, client in started:
        await client.aclose()
        await sim.stop()


@pytest.fixture
async def sim_http(start_sim: StartSim) -> Started:
    return await start_sim()


def to(*msisdns: str, prefix: str = "ref") -> list[dict[str, str]]:
    return [{"msisdn": m, "reference": f"{prefix}{i}"} for i, m in enumerate(msisdns)]


def body(recipients: list[Any], **message: Any) -> dict[str, Any]:
    """A create body with one message; top-level fields are passed as `top={...}`."""
    top = message.pop("top", {})
    fields = {"to": recipients, "text": "Your order has shipped", "alpha_name": "Acme"}
    fields.update(message)
    return {**top, "messages": [fields]}


async def create(client: httpx.AsyncClient, payload: Any) -> Any:
    response = await client.post("/viber/create", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


async def status(client: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    response = await client.get(f"/viber/reference/{reference}")
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- auth and endpoints


async def test_api_key_is_required(start_sim: StartSim) -> None:
    _, client = await start_sim()
    missing = await client.get("/common/balance", headers={"X-API-KEY": ""})
    assert missing.status_code == 401
    assert missing.json() == {"code": 401, "message": "API Key not found"}
    assert (await client.get("/common/balance", headers={"X-API-KEY": "anything"})).is_success

    strict, strict_client = await start_sim(api_key="live_right")
    wrong = await strict_client.get("/common/balance")
    assert wrong.status_code == 401
    assert wrong.json() == {"code": 401, "message": "API Key not found"}
    right = await strict_client.get("/common/balance", headers={"X-API-KEY": "live_right"})
    assert right.status_code == 200
    refused = await strict_client.post("/viber/create", json=body(to("380972920283")))
    assert refused.status_code == 401
    assert strict.messages == {}


async def test_create_answers_the_documented_shape_and_the_message_is_retrievable(
    sim_http: Started,
) -> None:
    sim, client = sim_http
    answer = await create(client, body(to("380972920283", "380972920282")))
    assert answer == {
        "result": [
            {
                "error": 0,
                "errorDescription": "No errors",
                "reference": "ref0",
                "id": "1001",
                "price": 0.02,
                "currency": "EUR",
            },
            {
                "error": 0,
                "errorDescription": "No errors",
                "reference": "ref1",
                "id": "1002",
                "price": 0.02,
                "currency": "EUR",
            },
        ],
        "total_price": 0.04,
        "currency": "EUR",
    }
    by_id = (await client.get("/viber/1001")).json()
    by_reference = await status(client, "ref0")
    assert by_id == by_reference
    assert by_id == {
        "error": 0,
        "errorDescription": "No errors",
        "id": "1001",
        "msisdn": "380972920283",
        "reference": "ref0",
        "time_in": "2026-01-15 10:30:00",
        "time_sent": "2026-01-15 10:30:00",
        "time_dr": None,
        "status": "sent",
        "price": 0.02,
        "currency": "EUR",
    }
    assert sim.balance == Decimal("99.96")
    assert sim.sent_to("380972920283") == 1
    assert sim.sent_to("380000000000") == 0
    assert set(sim.messages) == {"1001", "1002"}
    assert sim.message("ref1").msisdn == "380972920282"


async def test_put_is_a_create_too(sim_http: Started) -> None:
    sim, client = sim_http
    response = await client.put("/viber/create", json=body(to("380972920283")))
    assert response.json()["result"][0]["error"] == 0
    assert sim.create_calls == 1


async def test_balance_prices_and_price_preview(sim_http: Started) -> None:
    sim, client = sim_http
    balance = (await client.get("/common/balance")).json()
    assert balance == {
        "error": 0,
        "errorDescription": "No errors",
        "amount": "100",
        "currency": "EUR",
        "limit": "0.00",
    }
    prices = (await client.get("/viber/prices")).json()["prices"]
    assert prices[0] == {
        "type": "viber",
        "country": "UA",
        "country_name": "Ukraine",
        "mcc": "255",
        "mnc": "01",
        "price": "0.0200000",
        "currency": "EUR",
    }
    assert (await client.get("/viber/prices/3")).json()["prices"] == prices
    assert (await client.get("/viber/prices/12")).json()["error"] == 6

    payload = body(to("380972920283", "380972920282", "12"))
    preview = (await client.post("/viber/price", json=payload)).json()
    assert preview == {
        "error": 0,
        "errorDescription": "No errors",
        "totalprice": "0.0400000",
        "currency": "EUR",
    }
    bad = (await client.post("/viber/price", json=body(to("380972920283"), text=""))).json()
    assert bad["error"] == 46
    assert sim.messages == {}
    assert sim.balance == Decimal("100")


async def test_unknown_messages_and_paths(start_sim: StartSim) -> None:
    _, client = await start_sim()
    for path in ("/viber/424242", "/viber/reference/nobody"):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.json() == {"error": 40, "errorDescription": "Message not found"}
    nowhere = await client.get("/no/such/path")
    assert nowhere.status_code == 404
    assert nowhere.json()["code"] == 404

    _, loud = await start_sim(http_errors=True)
    response = await loud.get("/viber/reference/nobody")
    assert response.status_code == 404
    assert response.json() == {"error": 40, "errorDescription": "Message not found"}
    refused = await loud.post("/viber/create", json=body([]))
    assert refused.status_code == 400
    assert refused.json()["error"] == 44


# ---------------------------------------------------------------- refusals


def _many(n: int) -> list[dict[str, str]]:
    return [{"msisdn": f"3809729{i:05d}", "reference": f"many{i}"} for i in range(n)]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (body([]), 44),
        (body([{"msisdn": "380972920283"}], to=None), 44),
        ({"validity": 100}, 44),
        ({"messages": []}, 44),
        (body(to("380972920283"), text=""), 46),
        (body(to("380972920283"), text="x" * 1001), 46),
        (body(to("380972920283"), top={"validity": 14}), 48),
        (body(to("380972920283"), top={"validity": 86401}), 48),
        (body(to("380972920283"), top={"validity": "soon"}), 48),
        (body(to("380972920283"), options={"viber": {"img": "https://x/i.png"}}), 49),
        (
            body(
                to("380972920283"), options={"viber": {"img": "https://x/i.png", "caption": "Go"}}
            ),
            49,
        ),
        (body(to("380972920283"), options={"viber": {"caption": "Go"}}), 49),
        (body(to("380972920283"), options={"viber": {"action": "https://x"}}), 49),
        (body(to("380972920283"), options={"viber": {"alt_route": {"originator": "A"}}}), 49),
        (body(to("380972920283"), alpha_name=""), 45),
        (body(to("380972920283"), alpha_name="FifteenCharsXYZ"), 45),
        (body(to("380972920283"), top={"tariff": 10}), 6),
        (body(to("380972920283"), scheduledDatetime="tomorrow morning"), 10),
        (body(_many(51)), 12),
        ([1, 2, 3], 7),
    ],
)
async def test_whole_request_refusals(sim_http: Started, payload: Any, code: int) -> None:
    sim, client = sim_http
    answer = await create(client, payload)
    assert answer["error"] == code
    assert answer["errorDescription"]
    assert "result" not in answer
    assert sim.messages == {}
    assert sim.balance == Decimal("100")


async def test_image_with_a_full_button_is_fine(sim_http: Started) -> None:
    _, client = sim_http
    viber = {"img": "https://x/i.png", "caption": "Track", "action": "https://x/t"}
    answer = await create(client, body(to("380972920283"), options={"viber": viber}))
    assert answer["result"][0]["error"] == 0
    button_only = {"caption": "Track", "action": "https://x/t"}
    button = body(to("380972920284", prefix="button"), options={"viber": button_only})
    answer = await create(client, button)
    assert answer["result"][0]["error"] == 0


async def test_a_body_that_is_not_json_is_refused(sim_http: Started) -> None:
    _, client = sim_http
    response = await client.post("/viber/create", content=b"{not json")
    assert response.json()["error"] == 7


async def test_sender_must_be_registered_when_a_set_is_given(start_sim: StartSim) -> None:
    sim, client = await start_sim(registered_senders={"Acme"})
    refused = await create(client, body(to("380972920283"), alpha_name="Other"))
    assert refused == {"error": 45, "errorDescription": "Sender not registered"}
    accepted = await create(client, body(to("380972920283")))
    assert accepted["result"][0]["error"] == 0
    assert len(sim.messages) == 1


async def test_not_enough_funds_refuses_the_whole_request(start_sim: StartSim) -> None:
    sim, client = await start_sim(balance=Decimal("0.05"))
    assert (await create(client, body(to("380972920283", "380972920282", "380972920281"))))[
        "error"
    ] == 8
    assert sim.messages == {}
    assert sim.balance == Decimal("0.05")
    answer = await create(client, body(to("380972920283", "380972920282")))
    assert answer["total_price"] == 0.04
    assert sim.balance == Decimal("0.01")
    assert (await create(client, body(to("380972920281", prefix="again"))))["error"] == 8
    balance = (await client.get("/common/balance")).json()
    assert Decimal(balance["amount"]) == Decimal("0.01")


async def test_recipient_limit_is_configurable(start_sim: StartSim) -> None:
    _, client = await start_sim(max_recipients=2)
    assert (await create(client, body(_many(3))))["error"] == 12
    assert (await create(client, body(_many(2))))["result"][1]["error"] == 0
    _, default_client = await start_sim()
    assert len((await create(default_client, body(_many(50))))["result"]) == 50


async def test_per_recipient_refusals(sim_http: Started) -> None:
    sim, client = sim_http
    recipients = [
        {"msisdn": "380972920283", "reference": "good_1"},
        {"msisdn": "12345", "reference": "short"},
        {"msisdn": "38097292028x", "reference": "letters"},
        {"msisdn": "1234567890123456", "reference": "long"},
        {"msisdn": "380972920282", "reference": "bad-ref"},
        {"msisdn": "380972920281", "reference": "r" * 33},
        {"msisdn": "380972920280", "reference": "R" * 32},
    ]
    answer = await create(client, body(recipients))
    codes = [(e.get("reference"), e["error"]) for e in answer["result"]]
    assert codes == [
        ("good_1", 0),
        ("short", 41),
        ("letters", 41),
        ("long", 41),
        ("bad-ref", 47),
        ("r" * 33, 47),
        ("R" * 32, 0),
    ]
    assert answer["result"][1]["errorDescription"] == "Invalid phone number"
    assert "id" not in answer["result"][1]
    assert answer["total_price"] == 0.04
    assert len(sim.messages) == 2
    assert sim.sent_to("12345") == 0


async def test_a_reused_reference_is_refused_and_the_original_stays_retrievable(
    start_sim: StartSim,
) -> None:
    sim, client = await start_sim()
    first = await create(client, body([{"msisdn": "380972920283", "reference": "once_only"}]))
    original_id = first["result"][0]["id"]

    retry = await create(client, body([{"msisdn": "380972920283", "reference": "once_only"}]))
    assert retry["result"] == [
        {"error": 43, "errorDescription": "Reference already exists", "reference": "once_only"}
    ]
    assert retry["total_price"] == 0
    found = await status(client, "once_only")
    assert found["id"] == original_id
    assert found["msisdn"] == "380972920283"
    assert sim.sent_to("380972920283") == 1
    assert sim.balance == Decimal("99.98")

    twice = [
        {"msisdn": "380972920282", "reference": "dup"},
        {"msisdn": "380972920281", "reference": "dup"},
    ]
    assert [e["error"] for e in (await create(client, body(twice)))["result"]] == [0, 43]
    assert (await status(client, "dup"))["msisdn"] == "380972920282"

    # References are unique per API key: another account may use the same one.
    other = {"X-API-KEY": "test_other_account"}
    response = await client.post(
        "/viber/create",
        json=body([{"msisdn": "380972920280", "reference": "once_only"}]),
        headers=other,
    )
    other_id = response.json()["result"][0]["id"]
    assert other_id != original_id
    mine = await client.get("/viber/reference/once_only", headers=other)
    assert mine.json()["id"] == other_id
    assert (await client.get(f"/viber/{original_id}", headers=other)).json()["error"] == 40
    assert (await status(client, "once_only"))["id"] == original_id


# ---------------------------------------------------------------- lifecycles

LAST_DIGIT_TIMELINES = [
    # (last digit, alt_route asked, [(seconds, viber status, sms status)])
    (
        "0",
        False,
        [(0, "sent", None), (4.9, "sent", None), (5, "delivered", None), (30, "read", None)],
    ),
    ("1", False, [(0, "sent", None), (5, "delivered", None), (3600, "read", None)]),
    ("2", False, [(0, "sent", None), (5, "delivered", None), (86400, "delivered", None)]),
    (
        "3",
        True,
        [
            (0, "sent", None),
            (10, "not_viber_user", None),
            (12, "not_viber_user", "sent"),
            (20, "not_viber_user", "delivered"),
            (999, "not_viber_user", "delivered"),
        ],
    ),
    ("3", False, [(0, "sent", None), (10, "not_viber_user", None), (99, "not_viber_user", None)]),
    ("4", False, [(0, "sent", None), (14, "sent", None), (15, "undelivered", None)]),
    ("5", False, [(0, "sent", None), (10**6, "sent", None)]),
    ("6", False, [(0, "sent", None), (59, "sent", None), (60, "expired", None)]),
    (
        "7",
        True,
        [
            (10, "not_viber_user", None),
            (12, "not_viber_user", "sent"),
            (30, "not_viber_user", "undelivered"),
        ],
    ),
    ("7", False, [(30, "not_viber_user", None)]),
    ("8", False, [(0, "sent", None), (1, "delivered", None), (2, "read", None)]),
    ("9", False, [(0, "rejected", None), (100, "rejected", None)]),
]


@pytest.mark.parametrize(("digit", "alt_route", "timeline"), LAST_DIGIT_TIMELINES)
async def test_default_lifecycles_by_last_digit(
    sim_http: Started,
    fixed_clock: FixedClock,
    digit: str,
    alt_route: bool,
    timeline: list[tuple[float, str, str | None]],
) -> None:
    _, client = sim_http
    options = {"viber": {"alt_route": SMS}} if alt_route else {}
    await create(client, body(to(f"38097292028{digit}"), options=options))
    for seconds, viber, sms in timeline:
        fixed_clock.at(seconds)
        answer = await status(client, "ref0")
        seen_sms = answer["alt_route"][0]["status"] if "alt_route" in answer else None
        assert (seconds, answer["status"], seen_sms) == (seconds, viber, sms)
        assert ("alt_route_messages" in answer) == (sms is not None)


async def test_status_times_and_the_sms_fallback_detail(
    sim_http: Started, fixed_clock: FixedClock
) -> None:
    _, client = sim_http
    alt = {"originator": "AcmeSMS", "text": "Shipped (SMS)"}
    await create(client, body(to("380972920283"), options={"viber": {"alt_route": alt}}))
    fixed_clock.at(15)
    midway = await status(client, "ref0")
    assert midway["alt_route_messages"][0]["time_dr"] is None
    assert midway["alt_route_messages"][0]["status"] == "sent"
    fixed_clock.at(25)
    answer = await status(client, "ref0")
    assert answer["time_in"] == "2026-01-15 10:30:00"
    assert answer["time_sent"] == "2026-01-15 10:30:00"
    assert answer["time_dr"] == "2026-01-15 10:30:10"
    sms_id = answer["alt_route"][0]["id"]
    assert sms_id != answer["id"]
    assert answer["alt_route"] == [
        {"channel": "sms", "id": sms_id, "status": "delivered", "price": 0.05}
    ]
    assert answer["alt_route_messages"] == [
        {
            "id": sms_id,
            "time_in": "2026-01-15 10:30:12",
            "time_sent": "2026-01-15 10:30:12",
            "time_dr": "2026-01-15 10:30:20",
            "status": "delivered",
            "price": 0.05,
            "currency": "EUR",
            "message": "Shipped (SMS)",
            "sender": "AcmeSMS",
        }
    ]


async def test_read_keeps_the_time_of_the_read_and_rejected_is_never_sent(
    sim_http: Started, fixed_clock: FixedClock
) -> None:
    _, client = sim_http
    await create(client, body(to("380972920280", "380972920289")))
    fixed_clock.at(40)
    read = await status(client, "ref0")
    assert (read["status"], read["time_sent"], read["time_dr"]) == (
        "read",
        "2026-01-15 10:30:00",
        "2026-01-15 10:30:30",
    )
    rejected = await status(client, "ref1")
    assert (rejected["status"], rejected["time_sent"], rejected["time_dr"]) == (
        "rejected",
        None,
        "2026-01-15 10:30:00",
    )


async def test_time_scale_speeds_every_step_up(
    start_sim: StartSim, fixed_clock: FixedClock
) -> None:
    _, client = await start_sim(time_scale=0.1)
    await create(client, body(to("380972920280")))
    seen = []
    for seconds in (0, 0.4, 0.5, 2.9, 3.0):
        fixed_clock.at(seconds)
        seen.append((await status(client, "ref0"))["status"])
    assert seen == ["sent", "sent", "delivered", "delivered", "read"]


async def test_time_scale_with_the_real_clock(start_sim: StartSim) -> None:
    _, client = await start_sim(time_scale=0.001, clock=None)
    await create(client, body(to("380972920288")))  # read after 2 s, scaled to 2 ms
    await asyncio.sleep(0.05)
    assert (await status(client, "ref0"))["status"] == "read"


async def test_scheduled_messages_wait_for_their_time(
    sim_http: Started, fixed_clock: FixedClock
) -> None:
    sim, client = sim_http
    later = "2026-01-15T11:30:00Z"
    await create(client, body(to("380972920280"), scheduledDatetime=later))
    await create(
        client, body(to("380972920281", prefix="past"), scheduledDatetime="2026-01-01T00:00:00Z")
    )
    for seconds in (0, 3599):
        fixed_clock.at(seconds)
        answer = await status(client, "ref0")
        assert (answer["status"], answer["time_sent"], answer["time_dr"]) == (
            "scheduled",
            None,
            None,
        )
        assert answer["time_in"] == "2026-01-15 10:30:00"
    fixed_clock.at(3600)
    answer = await status(client, "ref0")
    assert (answer["status"], answer["time_sent"]) == ("sent", "2026-01-15 11:30:00")
    fixed_clock.at(3605)
    assert (await status(client, "ref0"))["status"] == "delivered"
    fixed_clock.at(0)
    assert (await status(client, "past0"))["status"] == "sent"
    assert sim.status_of("ref0") == "scheduled"


async def test_set_status_forces_and_freezes(sim_http: Started, fixed_clock: FixedClock) -> None:
    sim, client = sim_http
    answer = await create(client, body(to("380972920280", "380972920285")))
    fixed_clock.at(3)
    sim.set_status("ref0", "undeliverable")
    fixed_clock.at(100)
    forced = await status(client, "ref0")
    assert (forced["status"], forced["time_dr"]) == ("undeliverable", "2026-01-15 10:30:03")

    sim.set_status(answer["result"][1]["id"], "not_viber_user", "delivered")
    fallback = await status(client, "ref1")
    assert fallback["status"] == "not_viber_user"
    assert fallback["alt_route"][0]["status"] == "delivered"
    assert fallback["alt_route_messages"][0]["time_dr"] == "2026-01-15 10:31:40"
    assert sim.status_of("ref1") == "not_viber_user"
    assert sim.sms_status_of("ref1") == "delivered"
    with pytest.raises(KeyError):
        sim.set_status("nobody", "read")


async def test_lifecycles_from_the_example_yaml() -> None:
    loaded = load_lifecycles(EXAMPLE_YAML)
    assert dict(loaded.by_last_digit) == dict(DEFAULT_LIFECYCLES.by_last_digit)
    assert loaded.for_msisdn("380972920201").steps[-1] == Step(8, "failed")
    assert loaded.for_msisdn("380972920211") == DEFAULT_LIFECYCLES.for_msisdn("380972920211")


async def test_lifecycles_from_a_yaml_file_drive_the_simulator(
    start_sim: StartSim, fixed_clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "lifecycles.yaml"
    path.write_text(
        "by_last_digit:\n"
        "  0: [[0, sent], [1, failed]]\n"  # unquoted digit: YAML reads an int
        "  '3': [[0, waiting], [2, not_viber_user], [3, not_viber_user, delivered]]\n"
        "by_msisdn:\n"
        "  380972920270: [[0, moderation], [5, read]]\n"
    )
    sim, client = await start_sim(lifecycles=str(path))
    recipients = to("380972920280", "380972920283", "380972920270", "380972920282")
    await create(client, body(recipients, options={"viber": {"alt_route": SMS}}))
    fixed_clock.at(0)
    assert [sim.status_of(f"ref{i}") for i in range(4)] == ["sent", "waiting", "moderation", "sent"]
    assert (await status(client, "ref1"))["time_sent"] is None
    fixed_clock.at(3)
    answer = await status(client, "ref1")
    assert (answer["status"], answer["alt_route"][0]["status"]) == ("not_viber_user", "delivered")
    assert answer["time_sent"] == "2026-01-15 10:30:02"
    fixed_clock.at(5)
    assert [sim.status_of(f"ref{i}") for i in range(4)] == [
        "failed",
        "not_viber_user",
        "read",
        "delivered",  # digit 2 keeps the default lifecycle
    ]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("by_last_digit:\n  '0': []\n", "at least one step"),
        ("by_last_digit:\n  '12': [[0, sent]]\n", "single digit"),
        ("by_last_digit:\n  '1': [[-1, sent]]\n", ">= 0"),
        ("by_last_digit:\n  '1': [[0]]\n", "[after_seconds, viber_status"),
        ("by_last_digit:\n  '1': [[0, 5]]\n", "Viber status"),
        ("by_msisdn:\n  '12ab': [[0, sent]]\n", "6..15 digits"),
        ("by_digit: {}\n", "unknown keys"),
        ("by_last_digit: [1, 2]\n", "expected a mapping"),
        ("by_last_digit: {'1': [[0, sent]]\n", "not valid YAML"),
    ],
)
def test_bad_lifecycle_files_are_named(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LifecycleError, match=complaint.replace("[", r"\[")) as caught:
        load_lifecycles(path)
    assert str(path) in str(caught.value)
    with pytest.raises(LifecycleError, match="cannot read"):
        load_lifecycles(tmp_path / "missing.yaml")


def test_lifecycles_from_python() -> None:
    custom = Lifecycles.from_mapping({"by_msisdn": {"380972920283": [[5, "read"], [0, "sent"]]}})
    assert custom.for_msisdn("380972920283") == Lifecycle([Step(0, "sent"), Step(5, "read")])
    assert custom.for_msisdn("380972920273") == DEFAULT_LIFECYCLES.for_msisdn("380972920273")
    assert Lifecycle([[0, "sent"], [1, "delivered", None]]).as_lists() == [
        [0.0, "sent"],
        [1.0, "delivered"],
    ]
    with pytest.raises(ValueError, match="time_scale"):
        BsgSimulator(time_scale=0)


# ---------------------------------------------------------------- scripting hooks


async def test_fail_next_answers_server_errors_then_recovers(sim_http: Started) -> None:
    sim, client = sim_http
    sim.fail_next("/viber/create", count=2)
    for _ in range(2):
        failed = await client.post("/viber/create", json=body(to("380972920283")))
        assert failed.status_code == 500
        assert failed.json() == {"code": 500, "message": "Internal Server Error"}
    assert sim.messages == {}
    assert (await create(client, body(to("380972920283"))))["result"][0]["error"] == 0
    assert sim.create_calls == 3

    sim.fail_next("/rest/viber/reference", status=503)
    assert (await client.get("/viber/1001")).status_code == 200  # other paths untouched
    assert (await client.get("/viber/reference/ref0")).status_code == 503
    assert (await client.get("/viber/reference/ref0")).status_code == 200


async def test_fail_next_429_carries_retry_after(sim_http: Started) -> None:
    sim, client = sim_http
    sim.fail_next("/viber/", status=429, retry_after=2)
    sim.fail_next("/common/balance", status=429)
    limited = await client.get("/viber/prices")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["code"] == 429
    assert (await client.get("/common/balance")).headers["Retry-After"] == "1"
    with pytest.raises(ValueError, match="status"):
        sim.fail_next("/viber/create", status=200)


async def test_fail_next_timeout_hangs_until_the_client_gives_up(start_sim: StartSim) -> None:
    sim, client = await start_sim()
    sim.fail_next("/viber/", status="timeout")
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/viber/prices", timeout=0.2)
    sim.hang_seconds = 0.05
    sim.fail_next("/viber/", status="timeout")
    assert (await client.get("/viber/prices")).status_code == 504
    started = time.perf_counter()
    await sim.stop()  # a request still hanging must not hold the shutdown
    assert time.perf_counter() - started < 1.5


async def test_a_failure_after_processing_leaves_the_message_at_bsg(sim_http: Started) -> None:
    sim, client = sim_http
    sim.fail_next("/viber/create", status=502, after_processing=True)
    payload = body([{"msisdn": "380972920283", "reference": "lost_answer"}])
    assert (await client.post("/viber/create", json=payload)).status_code == 502
    assert sim.message("lost_answer").msisdn == "380972920283"
    retry = await create(client, payload)
    assert retry["result"][0]["error"] == 43
    assert (await status(client, "lost_answer"))["status"] == "sent"
    assert sim.sent_to("380972920283") == 1


async def test_create_delay_records_the_message_before_answering(sim_http: Started) -> None:
    sim, client = sim_http
    sim.create_delay = 5.0
    payload = body([{"msisdn": "380972920283", "reference": "slow_answer"}])
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/viber/create", json=payload, timeout=0.2)
    assert sim.sent_to("380972920283") == 1
    found = await status(client, "slow_answer")
    assert found["msisdn"] == "380972920283"


async def test_get_delay_holds_status_answers(sim_http: Started) -> None:
    sim, client = sim_http
    await create(client, body(to("380972920283")))
    sim.get_delay = 0.1
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.get("/viber/reference/ref0") for _ in range(8)))
    elapsed = time.perf_counter() - started
    assert all(a.json()["status"] == "sent" for a in answers)
    assert 0.1 <= elapsed < 0.6  # held, and held concurrently


async def test_counters_and_request_log(sim_http: Started) -> None:
    sim, client = sim_http
    await create(client, body(to("380972920283", "380972920282")))
    await client.get("/viber/1001")
    await client.get("/viber/reference/ref1")
    await client.get("/viber/reference/ref0")
    await client.get("/common/balance")
    await client.get("/viber/prices/0")
    await client.post("/viber/price", json=body(to("380972920283")))
    assert (sim.create_calls, sim.status_calls) == (1, 3)
    assert (sim.status_by_id_calls, sim.status_by_reference_calls) == (1, 2)
    assert sim.calls["balance"] == sim.calls["prices"] == sim.calls["price_preview"] == 1
    assert sim.requests[:2] == [("POST", "/rest/viber/create"), ("GET", "/rest/viber/1001")]
    sim.reset_counters()
    assert (sim.requests, sim.create_calls, sim.status_calls) == ([], 0, 0)
    assert len(sim.messages) == 2


# ---------------------------------------------------------------- shapes


async def test_array_shape(start_sim: StartSim) -> None:
    _, client = await start_sim(shape="array")
    answer = await create(client, body(to("380972920283", "12")))
    assert answer == [
        {
            "error": "0",
            "messages": [
                {"id": "1001", "reference": "ref0", "price": "0.0200000", "currency": "EUR"},
                {"error": "41", "errorDescription": "Invalid phone number", "reference": "ref1"},
            ],
        }
    ]
    assert await create(client, body(to("380972920283"), text="")) == {
        "error": 46,
        "errorDescription": "Invalid text",
    }


async def test_quirky_mode_mixes_every_published_form_deterministically(
    start_sim: StartSim,
) -> None:
    async def exchange(client: httpx.AsyncClient) -> list[Any]:
        seen = []
        for i in range(12):
            seen.append(await create(client, body(to("380972920283", prefix=f"q{i}_"))))
            seen.append(await status(client, f"q{i}_0"))
        return seen

    _, first = await start_sim(quirky=True, seed=7)
    _, second = await start_sim(quirky=True, seed=7)
    answers = await exchange(first)
    assert answers == await exchange(second)

    entries = [a["result"][0] for a in answers[::2]] + answers[1::2]
    error_forms = {repr(e.get("error", "absent")) for e in entries}
    assert error_forms == {"0", "'0'", "'absent'"}
    price_types = {type(e["price"]) for e in entries}
    assert price_types == {float, str}
    assert all(isinstance(e["id"], str) for e in entries)
    assert {Decimal(str(e["price"])) for e in entries} == {Decimal("0.02")}
    statuses = answers[1::2]
    assert any("time_dr" not in s for s in statuses)
    assert any(s.get("time_dr", "x") is None for s in statuses)


# ---------------------------------------------------------------- through BsgClient


@pytest.fixture
def bsg_client_factory() -> Callable[..., Any]:
    pytest.importorskip("bot.bsg.client")
    from pydantic import SecretStr

    from bot.bsg.client import BsgClient

    def make(base_url: str, **options: Any) -> Any:
        options.setdefault("timeout", 2.0)
        options.setdefault("retries", 0)
        return BsgClient(api_key=SecretStr(KEY), base_url=base_url, backoff=0.01, **options)

    return make


def _request(*msisdns: str, prefix: str = "cli", **content: Any) -> Any:
    from bot.domain.models import CreateRequest, MessageContent, Recipient

    content.setdefault("sender", "Acme")
    return CreateRequest(
        content=MessageContent(text="Your order has shipped", **content),
        recipients=tuple(
            Recipient(msisdn=m, reference=f"{prefix}{i}") for i, m in enumerate(msisdns)
        ),
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"shape": "array"}, {"quirky": True, "seed": 3}],
    ids=["result", "array", "quirky"],
)
async def test_bsg_client_sends_retries_idempotently_and_follows_a_fallback(
    start_sim: StartSim,
    fixed_clock: FixedClock,
    bsg_client_factory: Callable[..., Any],
    options: dict[str, Any],
) -> None:
    from bot.domain.models import DeliveryStatus, SmsFallback

    sim, _ = await start_sim(**options)
    async with bsg_client_factory(sim.base_url) as bsg:
        request = _request(
            "380972920283", "380972920280", sms=SmsFallback(originator="Acme", text="Shipped")
        )
        result = await bsg.create(request)
        assert [o.accepted for o in result.outcomes] == [True, True]
        assert result.outcomes[0].price == Decimal("0.02")
        again = await bsg.create(request)
        assert [o.error.code for o in again.outcomes if o.error] == [43, 43]
        assert sim.sent_to("380972920283") == 1

        fixed_clock.at(35)
        fallback = await bsg.status_by_reference("cli0")
        assert fallback.bsg_id == result.outcomes[0].bsg_id
        assert fallback.status is DeliveryStatus.NOT_VIBER_USER
        assert fallback.sms is not None
        assert fallback.sms.status is DeliveryStatus.DELIVERED
        assert fallback.sms.time_dr == T0 + timedelta(seconds=20)
        read = await bsg.status_by_id(result.outcomes[1].bsg_id)
        assert (read.status, read.time_dr) == (DeliveryStatus.READ, T0 + timedelta(seconds=30))
        assert read.sms is None


async def test_bsg_client_reads_refusals_and_account_endpoints(
    start_sim: StartSim, bsg_client_factory: Callable[..., Any]
) -> None:
    from bot.domain.errors import BsgNotFound, BsgRefused

    sim, _ = await start_sim(registered_senders={"Acme"})
    async with bsg_client_factory(sim.base_url) as bsg:
        with pytest.raises(BsgNotFound):
            await bsg.status_by_reference("nobody")
        balance = await bsg.balance()
        assert (balance.amount, balance.currency) == (Decimal("100"), "EUR")
        preview = await bsg.price_preview(_request("380972920283", "380972920282"))
        assert preview.total_price == Decimal("0.04")
        with pytest.raises(BsgRefused) as refused:
            await bsg.create(_request("380972920283", sender="Other"))
        assert refused.value.code == 45
    assert sim.messages == {}

    strict, _ = await start_sim(api_key="live_someone_else")
    async with bsg_client_factory(strict.base_url) as bsg:
        with pytest.raises(BsgRefused) as refused:
            await bsg.balance()
        assert refused.value.http_status == 401


async def test_bsg_client_through_failures_and_a_lost_answer(
    start_sim: StartSim, bsg_client_factory: Callable[..., Any]
) -> None:
    sim, _ = await start_sim()
    async with bsg_client_factory(sim.base_url, retries=2) as bsg:
        sim.fail_next("/viber/create", count=2, status=503)
        result = await bsg.create(_request("380972920283", prefix="flaky"))
        assert result.outcomes[0].accepted
        assert sim.create_calls == 3

        sim.fail_next("/viber/reference", status=429, retry_after=0.01)
        assert (await bsg.status_by_reference("flaky0")).bsg_id == result.outcomes[0].bsg_id

    async with bsg_client_factory(sim.base_url, timeout=0.2) as impatient:
        sim.create_delay = 5.0
        lost = await impatient.create(_request("380972920282", prefix="lost"))
        assert lost.outcomes[0].unconfirmed
        sim.create_delay = 0.0
        found = await impatient.status_by_reference("lost0")
        assert found.msisdn == "380972920282"
        assert sim.sent_to("380972920282") == 1


# ---------------------------------------------------------------- serve_forever


def test_serve_forever_answers_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    script = (
        "import logging, sys\n"
        "from bot.devtools.simulator import serve_forever\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "serve_forever('127.0.0.1', 0, on_ready=lambda url: print(url, flush=True),"
        f" api_key='live_secret_key', lifecycles={str(EXAMPLE_YAML)!r}, time_scale=0.1)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/rest"), url
        headers = {"X-API-KEY": "live_secret_key"}
        answer = httpx.post(
            f"{url}/viber/create", json=body(to("380972920283")), headers=headers, timeout=5
        )
        assert answer.json()["result"][0]["error"] == 0
        assert httpx.get(f"{url}/common/balance", timeout=5).status_code == 401
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "listening on" in stderr
    assert "live_secret_key" not in stderr
