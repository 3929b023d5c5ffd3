"""BSG's SMS API and price check: the client against the simulator over real HTTP, and segments."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from pydantic import SecretStr

from bot.bsg.client import BsgClient
from bot.bsg.requests import build_sms_body
from bot.domain.errors import BsgNotFound, BsgRefused
from bot.domain.models import DeliveryStatus, Recipient
from bot.domain.segments import SmsEncoding, count_segments
from tests.conftest import BSG_KEY
from tests.recording_bsg import RecordingBsg


@pytest.fixture
async def sim_client(bsg: RecordingBsg) -> AsyncIterator[BsgClient]:
    async with BsgClient(api_key=SecretStr(BSG_KEY), base_url=bsg.base_url, retries=0) as c:
        yield c


def last_post(bsg: RecordingBsg) -> tuple[str, dict]:
    """The path and JSON body of the last POST the simulator got."""
    _, path, _, body = [request for request in bsg.wire if request[0] == "POST"][-1]
    return path, json.loads(body)


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


async def test_sms_create_and_status(bsg: RecordingBsg, sim_client: BsgClient, clock) -> None:
    recipients = [
        Recipient(msisdn="380972920280", reference="a" * 32),
        Recipient(msisdn="380972920287", reference="b" * 32),
    ]
    result = await sim_client.sms_create(originator="Acme1", text="Hello", recipients=recipients)
    assert [o.accepted for o in result.outcomes] == [True, True]
    assert result.outcomes[0].price == Decimal("0.05")
    path, body = last_post(bsg)
    assert path == "/rest/sms/create"
    assert body == build_sms_body(originator="Acme1", text="Hello", recipients=recipients)
    assert body["destination"] == "phones" and body["phones"][0] == {
        "msisdn": "380972920280",
        "reference": "a" * 32,
    }
    delivered = result.outcomes[0].bsg_id
    failing = result.outcomes[1].bsg_id
    assert (await sim_client.sms_status(delivered)).status is DeliveryStatus.SENT
    clock.advance(6)
    assert (await sim_client.sms_status(delivered)).status is DeliveryStatus.DELIVERED
    assert (await sim_client.sms_status(failing)).status is DeliveryStatus.UNDELIVERED
    by_ref = await sim_client.sms_status_by_reference("b" * 32)
    assert by_ref.bsg_id == failing


async def test_sms_reference_reused_is_refused_per_recipient(sim_client: BsgClient) -> None:
    one = [Recipient(msisdn="380972920280", reference="c" * 32)]
    await sim_client.sms_create(originator="Acme1", text="Hi", recipients=one)
    again = await sim_client.sms_create(originator="Acme1", text="Hi", recipients=one)
    assert again.outcomes[0].error is not None and again.outcomes[0].error.code == 43


async def test_sms_unknown_is_not_found(sim_client: BsgClient) -> None:
    with pytest.raises(BsgNotFound):
        await sim_client.sms_status("424242")


async def test_sms_originator_refused(sim_client: BsgClient) -> None:
    with pytest.raises(BsgRefused) as refused:
        await sim_client.sms_create(
            originator="AB", text="Hi", recipients=[Recipient(msisdn="380972920280", reference="d")]
        )
    assert refused.value.code == 7


async def test_sms_price_counts_segments(bsg: RecordingBsg, sim_client: BsgClient) -> None:
    preview = await sim_client.sms_price(
        originator="Acme1", text="я" * 71, msisdns=["380972920280", "380972920281"]
    )
    assert preview.total_price == Decimal("0.05") * 2 * 2
    assert last_post(bsg)[1] == {
        "destination": "phones",
        "phones": [{"msisdn": "380972920280"}, {"msisdn": "380972920281"}],
        "originator": "Acme1",
        "body": "я" * 71,
    }


async def test_viber_price_waits_for_the_configured_delay(
    bsg: RecordingBsg, sim_client: BsgClient
) -> None:
    import time

    from bot.domain.models import CreateRequest, MessageContent

    bsg.price_delay = 0.3
    started = time.perf_counter()
    preview = await sim_client.price_preview(
        CreateRequest(
            content=MessageContent(text="Hi", sender="Acme"),
            recipients=(Recipient(msisdn="380972920280", reference="e"),),
        )
    )
    assert time.perf_counter() - started >= 0.3
    assert preview.total_price == Decimal("0.02")
