"""BSG's SMS API and price check: the client against the simulator over real HTTP, and segments."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.bsg.client import BsgClient
from bot.bsg.requests import build_sms_body
from bot.devtools.simulator import BsgSimulator
from bot.domain.errors import BsgNotFound, BsgRefused
from bot.domain.models import DeliveryStatus, Recipient
from bot.domain.segments import SmsEncoding, count_segments

KEY = "live_sms_key_0123456789"


class Recording(BsgSimulator):
    def __init__(self, **options):
        super().__init__(**options)
        self.bodies: list[tuple[str, dict]] = []

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def record(request: web.Request, handler):
            if request.method == "POST":
                self.bodies.append((request.path, json.loads(await request.read())))
            return await handler(request)

        app.middlewares.append(record)
        return app


@pytest.fixture
async def sim(clock) -> AsyncIterator[Recording]:
    simulator = Recording(api_key=KEY, clock=clock)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim: Recording) -> AsyncIterator[BsgClient]:
    async with BsgClient(api_key=SecretStr(KEY), base_url=sim.base_url, retries=0) as c:
        yield c


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "per_segment"),
    [
        ("", SmsEncoding.GSM7, 0, 160),
        ("a" * 160, SmsEncoding.GSM7, 1, 160),
        ("a" * 161, SmsEncoding.GSM7, 2, 153),
        ("a" * 306, SmsEncoding.GSM7, 2, 153),
        ("a" * 307, SmsEncoding.GSM7, 3, 153),
        ("€" * 80, SmsEncoding.GSM7, 1, 160),  # extension characters count twice
        ("€" * 81, SmsEncoding.GSM7, 2, 153),
        ("я" * 70, SmsEncoding.UCS2, 1, 70),
        ("я" * 71, SmsEncoding.UCS2, 2, 67),
        ("я" * 134, SmsEncoding.UCS2, 2, 67),
        ("я" * 135, SmsEncoding.UCS2, 3, 67),
        ("😀" * 35, SmsEncoding.UCS2, 1, 70),  # two UTF-16 units each
    ],
)
def test_segments(text: str, encoding: SmsEncoding, segments: int, per_segment: int) -> None:
    counted = count_segments(text)
    assert (counted.encoding, counted.segments, counted.per_segment) == (
        encoding,
        segments,
        per_segment,
    )


async def test_sms_create_and_status(sim: Recording, client: BsgClient, clock) -> None:
    recipients = [
        Recipient(msisdn="380972920280", reference="a" * 32),
        Recipient(msisdn="380972920287", reference="b" * 32),
    ]
    result = await client.sms_create(originator="Acme1", text="Hello", recipients=recipients)
    assert [o.accepted for o in result.outcomes] == [True, True]
    assert result.outcomes[0].price == Decimal("0.05")
    path, body = sim.bodies[-1]
    assert path == "/rest/sms/create"
    assert body == build_sms_body(originator="Acme1", text="Hello", recipients=recipients)
    assert body["destination"] == "phones" and body["phones"][0] == {
        "msisdn": "380972920280",
        "reference": "a" * 32,
    }
    delivered = result.outcomes[0].bsg_id
    failing = result.outcomes[1].bsg_id
    assert (await client.sms_status(delivered)).status is DeliveryStatus.SENT
    clock.advance(6)
    assert (await client.sms_status(delivered)).status is DeliveryStatus.DELIVERED
    assert (await client.sms_status(failing)).status is DeliveryStatus.UNDELIVERED
    by_ref = await client.sms_status_by_reference("b" * 32)
    assert by_ref.bsg_id == failing


async def test_sms_reference_reused_is_refused_per_recipient(client: BsgClient) -> None:
    one = [Recipient(msisdn="380972920280", reference="c" * 32)]
    await client.sms_create(originator="Acme1", text="Hi", recipients=one)
    again = await client.sms_create(originator="Acme1", text="Hi", recipients=one)
    assert again.outcomes[0].error is not None and again.outcomes[0].error.code == 43


async def test_sms_unknown_is_not_found(client: BsgClient) -> None:
    with pytest.raises(BsgNotFound):
        await client.sms_status("424242")


async def test_sms_originator_refused(client: BsgClient) -> None:
    with pytest.raises(BsgRefused) as refused:
        await client.sms_create(
            originator="AB", text="Hi", recipients=[Recipient(msisdn="380972920280", reference="d")]
        )
    assert refused.value.code == 7


async def test_sms_price_counts_segments(sim: Recording, client: BsgClient) -> None:
    preview = await client.sms_price(
        originator="Acme1", text="я" * 71, msisdns=["380972920280", "380972920281"]
    )
    assert preview.total_price == Decimal("0.05") * 2 * 2
    assert sim.bodies[-1][1] == {
        "destination": "phones",
        "phones": [{"msisdn": "380972920280"}, {"msisdn": "380972920281"}],
        "originator": "Acme1",
        "body": "я" * 71,
    }


async def test_viber_price_waits_for_the_configured_delay(
    sim: Recording, client: BsgClient
) -> None:
    import time

    from bot.domain.models import CreateRequest, MessageContent

    sim.price_delay = 0.3
    started = time.perf_counter()
    preview = await client.price_preview(
        CreateRequest(
            content=MessageContent(text="Hi", sender="Acme"),
            recipients=(Recipient(msisdn="380972920280", reference="e"),),
        )
    )
    assert time.perf_counter() - started >= 0.3
    assert preview.total_price == Decimal("0.02")
