"""BsgClient against a canned BSG on 127.0.0.1: bodies sent, every answer shape, errors, retries."""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from bot.bsg.client import BsgClient
from bot.bsg.requests import build_create_body
from bot.domain.errors import (
    BsgCode,
    BsgError,
    BsgNotFound,
    BsgProtocolError,
    BsgRefused,
    BsgUnavailable,
)
from bot.domain.models import (
    CreateRequest,
    DeliveryStatus,
    MessageContent,
    Recipient,
    SmsFallback,
)
from bot.slack.render.bsg_errors import BSG_EXPLANATIONS, refusal_for_person
from tests.canned_bsg import Canned, CannedBsg

KEY = "live_Sup3rSecretKey_0123456789"
DOCUMENTED_CODES = sorted(BSG_EXPLANATIONS)  # 1..12, 40, 41, 43..49, 51
STATUS_PATH = "/viber/16"
E = TypeVar("E", bound=BsgError)


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(autouse=True)
def key_never_logged(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.DEBUG)
    yield
    formatter = logging.Formatter()
    for record in caplog.get_records("call"):
        assert KEY not in formatter.format(record)


def make_client(base_url: str, **overrides: Any) -> BsgClient:
    options: dict[str, Any] = {
        "timeout": 0.5,
        "retries": 2,
        "backoff": 0.001,
        "backoff_max": 0.005,
        "retry_after_max": 0.05,
    }
    options.update(overrides)
    return BsgClient(api_key=SecretStr(KEY), base_url=base_url, **options)


@pytest.fixture
async def client(canned_bsg: CannedBsg) -> AsyncIterator[BsgClient]:
    async with make_client(canned_bsg.base_url) as bsg_client:
        yield bsg_client


def recipients(count: int, prefix: str = "ref") -> tuple[Recipient, ...]:
    return tuple(
        Recipient(msisdn=f"38097{i:07d}", reference=f"{prefix}{i:04d}") for i in range(count)
    )


def create_request(count: int = 2, **content: Any) -> CreateRequest:
    return CreateRequest(
        content=MessageContent(text="Your order has shipped", sender="Acme", **content),
        recipients=recipients(count),
    )


def accept_all(body: dict[str, Any]) -> dict[str, Any]:
    """BSG's first shape, accepting every recipient of the body at 0.02 EUR."""
    to = body["messages"][0]["to"]
    return {
        "result": [
            {"error": 0, "reference": r["reference"], "id": f"id-{r['reference']}", "price": "0.02"}
            for r in to
        ],
        "total_price": str(Decimal("0.02") * len(to)),
        "currency": "EUR",
    }


async def raises(kind: type[E], call: Any) -> E:
    """Await `call`, expect `kind`, and check the key is nowhere in what was raised."""
    with pytest.raises(kind) as caught:
        await call
    error = caught.value
    assert KEY not in str(error)
    assert KEY not in repr(error)
    if isinstance(error, BsgRefused):
        assert KEY not in refusal_for_person(error)
    return error


def status_body(**fields: Any) -> dict[str, Any]:
    body = {
        "error": 0,
        "errorDescription": "No errors",
        "id": "16",
        "msisdn": "380953227272",
        "reference": "viber_ref_124",
        "time_in": "2025-01-15 10:30:00",
        "time_sent": "2025-01-15 10:30:01",
        "time_dr": "2025-01-15 10:30:10",
        "status": "delivered",
        "price": 0.08,
        "currency": "USD",
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


# ---------------------------------------------------------------- the body BSG receives


def test_create_body_carries_every_option_in_bsg_shape() -> None:
    content = MessageContent(
        text="Your order has shipped",
        sender="MyCompany",
        promotional=True,
        image_url="https://example.com/logo.png",
        button_caption="Track order",
        button_url="https://example.com/track",
        sms=SmsFallback(originator="MyCompany", text="Your order has shipped (SMS)"),
        send_at=datetime(2026, 12, 1, 11, 0, tzinfo=timezone(timedelta(hours=2))),
        validity=3600,
    )
    body = build_create_body(content, recipients(2), 3)
    assert body == {
        "validity": 3600,
        "tariff": 3,
        "messages": [
            {
                "to": [
                    {"msisdn": "380970000000", "reference": "ref0000"},
                    {"msisdn": "380970000001", "reference": "ref0001"},
                ],
                "text": "Your order has shipped",
                "alpha_name": "MyCompany",
                "is_promotional": True,
                "scheduledDatetime": "2026-12-01T09:00:00Z",
                "options": {
                    "viber": {
                        "img": "https://example.com/logo.png",
                        "caption": "Track order",
                        "action": "https://example.com/track",
                        "alt_route": {
                            "originator": "MyCompany",
                            "text": "Your order has shipped (SMS)",
                        },
                    }
                },
            }
        ],
    }


def test_create_body_leaves_out_what_is_not_set() -> None:
    body = build_create_body(MessageContent(text="Hi", sender="Acme"), recipients(1), 0)
    assert body == {
        "tariff": 0,
        "messages": [
            {
                "to": [{"msisdn": "380970000000", "reference": "ref0000"}],
                "text": "Hi",
                "alpha_name": "Acme",
                "is_promotional": False,
            }
        ],
    }


def test_create_body_with_only_a_button_has_only_the_button() -> None:
    content = MessageContent(text="Hi", sender="Acme", button_caption="Go", button_url="https://x")
    body = build_create_body(content, recipients(1), 0)
    assert body["messages"][0]["options"] == {"viber": {"caption": "Go", "action": "https://x"}}


async def test_create_posts_the_body_with_the_key_header(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on("POST", "/viber/create", accept_all)
    request = create_request(2, validity=600)
    await client.create(request)
    [sent] = canned_bsg.made("POST", "/viber/create")
    assert sent.json == build_create_body(request.content, request.recipients, request.tariff)
    assert sent.headers["X-API-KEY"] == KEY
    assert sent.headers["Content-Type"].startswith("application/json")


# ---------------------------------------------------------------- create answers


async def test_create_result_shape_with_per_recipient_error(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on(
        "POST",
        "/viber/create",
        {
            "result": [
                {
                    "error": 0,
                    "errorDescription": "No errors",
                    "reference": "ref0000",
                    "id": "15",
                    "price": 0.08,
                    "currency": "USD",
                },
                {"error": 41, "errorDescription": "Invalid phone number", "reference": "ref0001"},
            ],
            "total_price": 0.08,
            "currency": "USD",
        },
    )
    result = await client.create(create_request(2))
    accepted, refused = result.outcomes
    assert accepted.accepted and accepted.bsg_id == "15"
    assert accepted.price == Decimal("0.08") and accepted.currency == "USD"
    assert not refused.accepted and refused.error is not None
    assert (refused.error.code, refused.error.description) == (41, "Invalid phone number")
    assert result.total_price == Decimal("0.08") and result.currency == "USD"
    assert result.request_errors == ()


async def test_create_list_shape(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on(
        "POST",
        "/viber/create",
        [
            {
                "error": "0",
                "messages": [
                    {"id": "22125", "reference": "ref0000", "price": "0.02", "currency": "EUR"},
                    {"id": 22126, "reference": "ref0001", "price": "0.0200000", "currency": "EUR"},
                ],
            }
        ],
    )
    result = await client.create(create_request(2))
    assert [o.bsg_id for o in result.outcomes] == ["22125", "22126"]
    assert all(o.accepted for o in result.outcomes)
    assert result.total_price == Decimal("0.04")
    assert result.currency == "EUR"


async def test_create_list_shape_with_refused_message(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on("POST", "/viber/create", [{"error": "45", "errorDescription": "Bad sender"}])
    error = await raises(BsgRefused, client.create(create_request(2)))
    assert (error.code, error.description) == (45, "Bad sender")


async def test_create_whole_request_refusal_raises(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on("POST", "/viber/create", {"error": "48", "errorDescription": "Invalid validity"})
    error = await raises(BsgRefused, client.create(create_request(2)))
    assert (error.code, error.description) == (48, "Invalid validity")
    assert error.code == BsgCode.INVALID_VALIDITY


@pytest.mark.parametrize("error_field", [{"error": 0}, {"error": "0"}, {}, {"error": None}])
async def test_create_no_error_forms(
    canned_bsg: CannedBsg, client: BsgClient, error_field: dict[str, Any]
) -> None:
    entry = {"reference": "ref0000", "id": "1", "price": 0.05, **error_field}
    canned_bsg.on("POST", "/viber/create", {**error_field, "result": [entry], "currency": "USD"})
    result = await client.create(create_request(1))
    [outcome] = result.outcomes
    assert outcome.accepted and outcome.error is None
    assert outcome.currency == "USD"  # the answer's currency when the entry has none


@pytest.mark.parametrize(
    ("price", "expected"),
    [(0.08, Decimal("0.08")), ("0.08", Decimal("0.08")), ("0.0200000", Decimal("0.02")), (2, 2)],
)
async def test_create_prices_as_numbers_or_strings(
    canned_bsg: CannedBsg, client: BsgClient, price: Any, expected: Decimal
) -> None:
    canned_bsg.on(
        "POST",
        "/viber/create",
        {"result": [{"reference": "ref0000", "id": 5, "price": price}], "total_price": price},
    )
    result = await client.create(create_request(1))
    [outcome] = result.outcomes
    assert isinstance(outcome.price, Decimal) and outcome.price == expected
    assert isinstance(result.total_price, Decimal) and result.total_price == expected
    assert outcome.bsg_id == "5"


async def test_create_null_and_missing_fields(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on(
        "POST",
        "/viber/create",
        {
            "result": [
                {"reference": "ref0000", "id": "7", "price": None, "currency": None},
                {"reference": "ref0001", "error": 0},  # accepted, but no id: state unknown
            ],
            "total_price": None,
        },
    )
    result = await client.create(create_request(3))
    first, second, third = result.outcomes
    assert first.accepted and first.price is None and first.currency is None
    assert second.unconfirmed and second.error is None
    assert third.unconfirmed and third.reference == "ref0002"  # BSG never mentioned it
    assert result.total_price is None and result.currency is None


async def test_create_every_documented_code_per_recipient(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    request = create_request(len(DOCUMENTED_CODES))
    canned_bsg.on(
        "POST",
        "/viber/create",
        {
            "result": [
                {
                    "error": str(code),
                    "errorDescription": f"bsg says {code}",
                    "reference": r.reference,
                }
                for code, r in zip(DOCUMENTED_CODES, request.recipients, strict=True)
            ]
        },
    )
    result = await client.create(request)
    assert [o.error.code for o in result.outcomes if o.error] == DOCUMENTED_CODES
    assert result.request_errors == ()


@pytest.mark.parametrize("code", DOCUMENTED_CODES)
async def test_create_whole_refusal_for_every_documented_code(
    canned_bsg: CannedBsg, client: BsgClient, code: int
) -> None:
    canned_bsg.on("POST", "/viber/create", {"error": code, "errorDescription": "refused"})
    error = await raises(BsgRefused, client.create(create_request(1)))
    assert error.code == code
    assert error.code in BsgCode.__members__.values()


async def test_create_batches_of_fifty(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("POST", "/viber/create", accept_all)
    request = create_request(120)
    result = await client.create(request)
    sent = canned_bsg.made("POST", "/viber/create")
    assert [len(s.json["messages"][0]["to"]) for s in sent] == [50, 50, 20]
    sent_refs = [t["reference"] for s in sent for t in s.json["messages"][0]["to"]]
    assert sent_refs == [r.reference for r in request.recipients]
    assert [o.reference for o in result.outcomes] == sent_refs
    assert all(o.accepted for o in result.outcomes)
    assert result.total_price == Decimal("2.40")


async def test_create_one_batch_refused_whole_others_accepted(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.script(
        "POST",
        "/viber/create",
        Canned(body=accept_all),
        Canned(body={"error": 11, "errorDescription": "Too many messages"}),
        Canned(body=accept_all),
    )
    result = await client.create(create_request(120))
    assert len(result.outcomes) == 120
    refused = [o for o in result.outcomes if o.error]
    assert len(refused) == 50 and {o.error.code for o in refused if o.error} == {11}
    assert [e.code for e in result.request_errors] == [11]
    assert sum(o.accepted for o in result.outcomes) == 70
    assert result.total_price == Decimal("1.40")


async def test_create_every_batch_refused_raises_the_first(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.script(
        "POST",
        "/viber/create",
        Canned(body={"error": 8, "errorDescription": "Not enough funds"}),
        Canned(body={"error": 11}),
    )
    error = await raises(BsgRefused, client.create(create_request(60)))
    assert (error.code, error.description) == (8, "Not enough funds")
    assert len(canned_bsg.made("POST", "/viber/create")) == 2


# ---------------------------------------------------------------- retries and transient failures


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_create_retries_transient_answers_with_the_same_body(
    canned_bsg: CannedBsg, client: BsgClient, status: int
) -> None:
    canned_bsg.script(
        "POST",
        "/viber/create",
        Canned(status=status, body={"code": status, "message": "busy"}),
        Canned(status=status, body={"code": status, "message": "busy"}),
        Canned(body=accept_all),
    )
    result = await client.create(create_request(3))
    sent = canned_bsg.made("POST", "/viber/create")
    assert len(sent) == 3
    assert sent[0].json == sent[1].json == sent[2].json
    assert all(o.accepted for o in result.outcomes)


async def test_create_exhausted_retries_leave_recipients_unconfirmed(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on(
        "POST", "/viber/create", {"code": 500, "message": "An internal error occurred"}, 500
    )
    result = await client.create(create_request(3))
    assert all(o.unconfirmed and o.error is None for o in result.outcomes)
    assert [o.reference for o in result.outcomes] == ["ref0000", "ref0001", "ref0002"]
    sent = canned_bsg.made("POST", "/viber/create")
    assert len(sent) == 3  # 1 + retries
    assert all(s.json == sent[0].json for s in sent)


async def test_create_timeouts_reuse_references_then_unconfirmed(canned_bsg: CannedBsg) -> None:
    canned_bsg.script("POST", "/viber/create", Canned(body=accept_all, delay=0.3))
    async with make_client(canned_bsg.base_url, timeout=0.05) as client:
        started = time.monotonic()
        result = await client.create(create_request(2))
    assert time.monotonic() - started < 1.0
    assert all(o.unconfirmed for o in result.outcomes)
    sent = canned_bsg.made("POST", "/viber/create")
    assert len(sent) == 3
    assert all(s.json == sent[0].json for s in sent)


async def test_status_timeout_raises_unavailable_after_retries(canned_bsg: CannedBsg) -> None:
    canned_bsg.script("GET", STATUS_PATH, Canned(body=status_body(), delay=0.3))
    async with make_client(canned_bsg.base_url, timeout=0.05) as client:
        error = await raises(BsgUnavailable, client.status_by_id("16"))
    assert "ReadTimeout" in error.reason
    assert len(canned_bsg.made("GET", STATUS_PATH)) == 3


async def test_status_recovers_after_a_timeout(canned_bsg: CannedBsg) -> None:
    canned_bsg.script(
        "GET", STATUS_PATH, Canned(body=status_body(), delay=0.3), Canned(body=status_body())
    )
    async with make_client(canned_bsg.base_url, timeout=0.05) as client:
        status = await client.status_by_id("16")
    assert status.status is DeliveryStatus.DELIVERED


async def test_connection_refused_is_unavailable(refusing_port: Callable[[], int]) -> None:
    async with make_client(f"http://127.0.0.1:{refusing_port()}/rest") as client:
        error = await raises(BsgUnavailable, client.balance())
    assert "ConnectError" in error.reason


async def test_429_honours_retry_after_capped(canned_bsg: CannedBsg) -> None:
    canned_bsg.script(
        "GET",
        "/common/balance",
        Canned(status=429, body={"message": "Too Many Attempts."}, headers={"Retry-After": "0.2"}),
        Canned(body={"error": 0, "amount": "1.00"}),
    )
    async with make_client(canned_bsg.base_url, retry_after_max=5.0) as client:
        started = time.monotonic()
        balance = await client.balance()
    assert time.monotonic() - started >= 0.2
    assert balance.amount == Decimal("1.00")


async def test_429_exhausted_carries_retry_after(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.script("GET", STATUS_PATH, Canned(status=429, headers={"Retry-After": "30"}))
    started = time.monotonic()
    error = await raises(BsgUnavailable, client.status_by_id("16"))
    assert time.monotonic() - started < 1.0  # capped by retry_after_max
    assert error.retry_after == 30.0
    assert "429" in error.reason


async def test_retry_is_logged_without_secrets(
    canned_bsg: CannedBsg, client: BsgClient, caplog: pytest.LogCaptureFixture
) -> None:
    canned_bsg.script("GET", STATUS_PATH, Canned(status=503), Canned(body=status_body()))
    await client.status_by_id("16")
    retries = [
        r for r in caplog.records if r.name == "bot.bsg.client" and r.levelno == logging.WARNING
    ]
    assert len(retries) == 1 and "HTTP 503" in retries[0].getMessage()
    requests = [
        r for r in caplog.records if r.name == "bot.bsg.client" and r.levelno == logging.DEBUG
    ]
    assert [r.getMessage().split(" in ")[0] for r in requests] == [
        "BSG GET /viber/16 -> 503",
        "BSG GET /viber/16 -> 200",
    ]


# ---------------------------------------------------------------- status answers


async def test_status_by_id_parses_everything(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("GET", STATUS_PATH, status_body())
    status = await client.status_by_id("16")
    assert status.bsg_id == "16" and status.msisdn == "380953227272"
    assert status.reference == "viber_ref_124"
    assert status.status is DeliveryStatus.DELIVERED and status.raw_status == "delivered"
    assert status.price == Decimal("0.08") and status.currency == "USD"
    assert status.time_in == datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert status.time_dr == datetime(2025, 1, 15, 10, 30, 10, tzinfo=UTC)
    assert status.sms is None


async def test_a_status_check_sends_the_key_and_accept_but_no_content_type(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    """A GET has no body, so no Content-Type; and none of httpx's defaults that buy nothing."""
    canned_bsg.on("GET", STATUS_PATH, status_body())
    await client.status_by_id("16")
    [sent] = canned_bsg.made("GET", STATUS_PATH)
    assert sent.headers["X-API-KEY"] == KEY
    assert sent.headers["Accept"] == "application/json"
    assert "Content-Type" not in sent.headers
    assert "python-httpx" not in sent.headers.get("User-Agent", "")
    assert "gzip" in sent.headers["Accept-Encoding"]


async def test_status_by_reference_quotes_the_reference(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on("GET", "/viber/reference/a%2Fb%20c", status_body(reference="a/b c"))
    status = await client.status_by_reference("a/b c")
    assert status.reference == "a/b c"
    assert canned_bsg.made()[0].headers["X-API-KEY"] == KEY


@pytest.mark.parametrize("error_field", [{"error": 0}, {"error": "0"}, {"error": ...}])
async def test_status_no_error_forms(
    canned_bsg: CannedBsg, client: BsgClient, error_field: dict[str, Any]
) -> None:
    canned_bsg.on("GET", STATUS_PATH, status_body(**error_field))
    assert (await client.status_by_id("16")).status is DeliveryStatus.DELIVERED


@pytest.mark.parametrize(("price", "expected"), [(0.08, "0.08"), ("0.0800000", "0.08"), (0, "0")])
async def test_status_prices(
    canned_bsg: CannedBsg, client: BsgClient, price: Any, expected: str
) -> None:
    canned_bsg.on("GET", STATUS_PATH, status_body(price=price, id=16))
    status = await client.status_by_id("16")
    assert status.price == Decimal(expected) and status.bsg_id == "16"


async def test_status_null_and_missing_fields(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on(
        "GET",
        STATUS_PATH,
        {"status": "sent", "time_in": None, "time_dr": "", "price": None, "alt_route": None},
    )
    status = await client.status_by_id("16")
    assert status.status is DeliveryStatus.SENT
    assert status.bsg_id is None and status.reference is None and status.msisdn is None
    assert status.time_in is None and status.time_sent is None and status.time_dr is None
    assert status.price is None and status.currency is None and status.sms is None


@pytest.mark.parametrize("word", ["queued_somewhere", "", None, 7, "PENDING", "refused"])
async def test_status_unknown_words_become_unknown(
    canned_bsg: CannedBsg, client: BsgClient, word: Any
) -> None:
    canned_bsg.on("GET", STATUS_PATH, status_body(status=word))
    status = await client.status_by_id("16")
    assert status.status is DeliveryStatus.UNKNOWN
    expected_raw = None if word in ("", None) else str(word)
    assert status.raw_status == expected_raw


async def test_status_words_are_read_case_insensitively(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on("GET", STATUS_PATH, status_body(status="Not_Viber_User"))
    status = await client.status_by_id("16")
    assert status.status is DeliveryStatus.NOT_VIBER_USER
    assert status.raw_status == "Not_Viber_User"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2025-01-15 10:30:00", datetime(2025, 1, 15, 10, 30, tzinfo=UTC)),
        ("2025-01-15T10:30:00Z", datetime(2025, 1, 15, 10, 30, tzinfo=UTC)),
        ("2025-01-15T12:30:00+02:00", datetime(2025, 1, 15, 10, 30, tzinfo=UTC)),
        ("0000-00-00 00:00:00", None),
        ("not a time", None),
        (None, None),
    ],
)
async def test_status_times_are_aware_utc(
    canned_bsg: CannedBsg, client: BsgClient, written: str | None, expected: datetime | None
) -> None:
    canned_bsg.on("GET", STATUS_PATH, status_body(time_sent=written))
    status = await client.status_by_id("16")
    assert status.time_sent == expected
    if expected is not None:
        assert status.time_sent is not None and status.time_sent.utcoffset() == timedelta(0)


async def test_status_sms_fallback_merges_both_arrays(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on(
        "GET",
        STATUS_PATH,
        status_body(
            status="not_viber_user",
            alt_route=[{"channel": "sms", "id": "17", "status": "delivered", "price": 0.05}],
            alt_route_messages=[
                {
                    "id": "17",
                    "time_in": "2025-01-15 10:30:11",
                    "time_sent": "2025-01-15 10:30:12",
                    "time_dr": "2025-01-15 10:30:15",
                    "status": "delivered",
                    "price": 0.05,
                    "currency": "USD",
                    "message": "SMS fallback message",
                    "sender": "BSG",
                }
            ],
        ),
    )
    status = await client.status_by_id("16")
    assert status.status is DeliveryStatus.NOT_VIBER_USER
    sms = status.sms
    assert sms is not None
    assert (sms.bsg_id, sms.status, sms.raw_status) == ("17", DeliveryStatus.DELIVERED, "delivered")
    assert (sms.price, sms.currency) == (Decimal("0.05"), "USD")
    assert sms.time_in == datetime(2025, 1, 15, 10, 30, 11, tzinfo=UTC)
    assert sms.time_dr == datetime(2025, 1, 15, 10, 30, 15, tzinfo=UTC)


async def test_status_sms_fallback_from_alt_route_only(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on(
        "GET",
        STATUS_PATH,
        status_body(
            alt_route=[
                {"channel": "sms", "id": "17", "status": "failed", "price": "0.05"},
                {"channel": "sms", "id": 18, "status": "sending", "price": "0.0500000"},
            ]
        ),
    )
    sms = (await client.status_by_id("16")).sms
    assert sms is not None
    assert (sms.bsg_id, sms.status, sms.price) == ("18", DeliveryStatus.SENDING, Decimal("0.05"))
    assert sms.time_in is None and sms.currency is None


async def test_status_sms_fallback_latest_detailed_entry_wins(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on(
        "GET",
        STATUS_PATH,
        status_body(
            alt_route_messages=[
                {"id": "19", "time_in": "2025-01-15 10:40:00", "status": "sent"},
                {"id": "17", "time_in": "2025-01-15 10:30:11", "status": "failed"},
            ]
        ),
    )
    sms = (await client.status_by_id("16")).sms
    assert sms is not None
    assert (sms.bsg_id, sms.status) == ("19", DeliveryStatus.SENT)


async def test_status_sms_unknown_word_kept(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on(
        "GET", STATUS_PATH, status_body(alt_route=[{"channel": "sms", "status": "mystery"}])
    )
    sms = (await client.status_by_id("16")).sms
    assert sms is not None and sms.status is DeliveryStatus.UNKNOWN and sms.raw_status == "mystery"


@pytest.mark.parametrize("code", DOCUMENTED_CODES)
@pytest.mark.parametrize("as_text", [False, True])
async def test_status_every_documented_code_is_refused(
    canned_bsg: CannedBsg, client: BsgClient, code: int, as_text: bool
) -> None:
    canned_bsg.on(
        "GET", STATUS_PATH, {"error": str(code) if as_text else code, "errorDescription": "no"}
    )
    error = await raises(BsgRefused, client.status_by_id("16"))
    assert error.code == code and error.description == "no"
    assert isinstance(error, BsgNotFound) == (code == BsgCode.NOT_FOUND)
    assert len(canned_bsg.made()) == 1  # refusals are not retried


# ---------------------------------------------------------------- HTTP error bodies


async def test_http_401_is_an_invalid_key(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("GET", STATUS_PATH, {"code": 401, "message": "API Key not found"}, 401)
    error = await raises(BsgRefused, client.status_by_id("16"))
    assert (error.code, error.description, error.http_status) == (1, "API Key not found", 401)


async def test_http_403_with_bsg_code_keeps_it(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("GET", "/common/balance", {"code": 4, "message": "Account blocked"}, 403)
    error = await raises(BsgRefused, client.balance())
    assert (error.code, error.http_status) == (4, 403)


async def test_http_401_echoing_the_key_is_scrubbed(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.on(
        "POST", "/viber/create", {"code": 401, "message": f"API Key {KEY} not found"}, 401
    )
    error = await raises(BsgRefused, client.create(create_request(1)))
    assert error.code == 1 and "[redacted]" in error.description


async def test_http_422_validation_errors(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on(
        "POST",
        "/viber/create",
        {
            "message": "The given data was invalid.",
            "errors": {
                "messages.0.alpha_name": ["The alpha name field is required."],
                "validity": ["The validity must be at least 15."],
            },
        },
        422,
    )
    error = await raises(BsgRefused, client.create(create_request(1)))
    assert error.code == 7 and error.http_status == 422
    assert error.description.startswith("The given data was invalid.")
    assert "messages.0.alpha_name: The alpha name field is required." in error.description
    assert "validity: The validity must be at least 15." in error.description


@pytest.mark.parametrize("body", [{"message": "Not Found"}, None, {"code": 404, "message": "x"}])
async def test_http_404_on_status_is_not_found(
    canned_bsg: CannedBsg, client: BsgClient, body: Any
) -> None:
    canned_bsg.on("GET", "/viber/reference/gone", body, 404)
    error = await raises(BsgNotFound, client.status_by_reference("gone"))
    assert error.code == 40 and error.http_status == 404


async def test_http_404_with_bsg_body(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("GET", STATUS_PATH, {"error": 40, "errorDescription": "Message not found"}, 404)
    error = await raises(BsgNotFound, client.status_by_id("16"))
    assert error.description == "Message not found"


async def test_http_404_html_is_a_protocol_error(canned_bsg: CannedBsg, client: BsgClient) -> None:
    # An HTML 404 most likely means a wrong BSG_API_URL, not a missing message.
    canned_bsg.script("GET", STATUS_PATH, Canned(status=404, body="<html>nginx</html>", raw=True))
    error = await raises(BsgProtocolError, client.status_by_id("16"))
    assert "404" in str(error)


async def test_http_500_exhausted_is_unavailable(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on(
        "GET", "/common/balance", {"code": 500, "message": "An internal error occurred"}, 500
    )
    error = await raises(BsgUnavailable, client.balance())
    assert "HTTP 500" in error.reason
    assert len(canned_bsg.made()) == 3


async def test_retries_zero_means_one_attempt(canned_bsg: CannedBsg) -> None:
    canned_bsg.on("GET", "/common/balance", None, 502)
    async with make_client(canned_bsg.base_url, retries=0) as client:
        await raises(BsgUnavailable, client.balance())
    assert len(canned_bsg.made()) == 1


async def test_http_200_with_an_http_error_body(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("GET", STATUS_PATH, {"code": 401, "message": "API Key not found"})
    error = await raises(BsgRefused, client.status_by_id("16"))
    assert error.code == 1


# ---------------------------------------------------------------- unrecognised answers


@pytest.mark.parametrize(
    "canned",
    [
        Canned(body="<html>Bad gateway</html>", raw=True),
        Canned(body="", raw=True),
        Canned(body={"something": "else"}),
        Canned(body=[1, 2, 3]),
        Canned(body={"error": "oops"}),
    ],
)
async def test_unrecognised_status_answers(
    canned_bsg: CannedBsg, client: BsgClient, canned: Canned
) -> None:
    canned_bsg.script("GET", STATUS_PATH, canned)
    await raises(BsgProtocolError, client.status_by_id("16"))


async def test_unrecognised_create_answer(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.script("POST", "/viber/create", Canned(body=f"oops {KEY} " + "x" * 500, raw=True))
    error = await raises(BsgProtocolError, client.create(create_request(2)))
    assert len(str(error)) < 400


async def test_unrecognised_create_answer_in_one_batch_is_unconfirmed(
    canned_bsg: CannedBsg, client: BsgClient
) -> None:
    canned_bsg.script(
        "POST", "/viber/create", Canned(body=accept_all), Canned(body={"weird": True})
    )
    result = await client.create(create_request(60))
    assert sum(o.accepted for o in result.outcomes) == 50
    assert sum(o.unconfirmed for o in result.outcomes) == 10


# ---------------------------------------------------------------- other endpoints


@pytest.mark.parametrize(
    "body",
    [
        {"error": 0, "amount": "100.50", "currency": "EUR", "limit": "0.00"},
        {"balance": 100.5, "currency": "EUR", "credit_limit": 0},
    ],
)
async def test_balance(canned_bsg: CannedBsg, client: BsgClient, body: dict[str, Any]) -> None:
    canned_bsg.on("GET", "/common/balance", body)
    balance = await client.balance()
    assert balance.amount == Decimal("100.50") and balance.currency == "EUR"
    assert balance.limit == 0


async def test_balance_refused(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("GET", "/common/balance", {"error": "1", "errorDescription": "Invalid key"})
    error = await raises(BsgRefused, client.balance())
    assert error.code == 1


@pytest.mark.parametrize("field", ["totalprice", "total_price"])
async def test_price_preview(canned_bsg: CannedBsg, client: BsgClient, field: str) -> None:
    canned_bsg.on("POST", "/viber/price", {"error": 0, field: "0.16", "currency": "EUR"})
    request = create_request(2)
    preview = await client.price_preview(request)
    assert preview.total_price == Decimal("0.16") and preview.currency == "EUR"
    assert canned_bsg.made()[0].json == build_create_body(request.content, request.recipients, 0)


async def test_price_preview_without_a_price(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("POST", "/viber/price", {"error": 0, "currency": "EUR"})
    await raises(BsgProtocolError, client.price_preview(create_request(1)))


# ---------------------------------------------------------------- the key stays secret


async def test_key_is_not_in_repr(canned_bsg: CannedBsg, client: BsgClient) -> None:
    assert KEY not in repr(client)
    assert KEY not in str(client)
    assert canned_bsg.base_url in repr(client)


async def test_key_is_sent_on_every_endpoint(canned_bsg: CannedBsg, client: BsgClient) -> None:
    canned_bsg.on("GET", STATUS_PATH, status_body())
    canned_bsg.on("GET", "/common/balance", {"amount": "1"})
    canned_bsg.on("POST", "/viber/price", {"error": 0, "totalprice": "0.05", "currency": "EUR"})
    canned_bsg.on("POST", "/viber/create", accept_all)
    await client.status_by_id("16")
    await client.balance()
    await client.price_preview(create_request(1))
    await client.create(create_request(1))
    assert len(canned_bsg.requests) == 4
    assert all(r.headers.get("X-API-KEY") == KEY for r in canned_bsg.requests)


async def test_httpx_own_transport_works_too(canned_bsg: CannedBsg) -> None:
    canned_bsg.script("GET", STATUS_PATH, Canned(status=503), Canned(body=status_body()))
    transport = httpx.AsyncHTTPTransport(verify=False)  # plain HTTP: skip loading CA certificates
    async with make_client(canned_bsg.base_url, transport=transport) as client:
        status = await client.status_by_id("16")
    assert status.status is DeliveryStatus.DELIVERED
    assert [r.headers["X-API-KEY"] for r in canned_bsg.requests] == [KEY, KEY]


async def test_httpx_own_transport_timeout(canned_bsg: CannedBsg) -> None:
    canned_bsg.script("GET", STATUS_PATH, Canned(body=status_body(), delay=0.3))
    transport = httpx.AsyncHTTPTransport(verify=False)
    async with make_client(
        canned_bsg.base_url, timeout=0.05, retries=1, transport=transport
    ) as client:
        await raises(BsgUnavailable, client.status_by_id("16"))
    assert len(canned_bsg.requests) == 2


async def test_gzip_answers_are_decoded(canned_bsg: CannedBsg, client: BsgClient) -> None:
    payload = gzip.compress(json.dumps(status_body(status="read")).encode())
    canned_bsg.script(
        "GET",
        STATUS_PATH,
        Canned(body=payload, raw=True, headers={"Content-Encoding": "gzip"}),
    )
    assert (await client.status_by_id("16")).status is DeliveryStatus.READ


async def test_closed_client_does_not_leak_the_key(canned_bsg: CannedBsg) -> None:
    client = make_client(canned_bsg.base_url)
    await client.aclose()
    with pytest.raises(Exception) as caught:  # httpx says the client is closed
        await client.balance()
    assert KEY not in str(caught.value)
