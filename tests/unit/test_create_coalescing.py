"""Creates of different sends sharing one request, against a canned BSG on 127.0.0.1: who
shares, what each send reads of a shared answer, and what happens when BSG refuses one whole."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from bot.bsg.client import BsgClient
from bot.domain.errors import BsgRefused
from bot.domain.models import CreateRequest, CreateResult, MessageContent, Recipient
from tests.canned_bsg import Canned, CannedBsg

KEY = "live_Sup3rSecretKey_0123456789"
CREATE = "/viber/create"
BAD_SENDER = "Unregistered"


def client_for(bsg: CannedBsg, **options: Any) -> BsgClient:
    settings: dict[str, Any] = {"timeout": 2.0, "retries": 0, "create_linger": 0.05}
    settings.update(options)
    return BsgClient(api_key=SecretStr(KEY), base_url=bsg.base_url, **settings)


def send(
    name: str, count: int = 1, *, sender: str = "Acme", validity: int | None = None
) -> CreateRequest:
    """A send of its own: its text and references say whose it is."""
    return CreateRequest(
        content=MessageContent(text=f"Hello from {name}", sender=sender, validity=validity),
        recipients=tuple(
            Recipient(msisdn=f"38097{index:07d}", reference=f"{name}{index}")
            for index in range(count)
        ),
    )


def accepting(body: dict[str, Any]) -> dict[str, Any]:
    """BSG's first shape: every recipient of every item accepted at 0.02 EUR; an item whose
    sender is not registered refuses the whole request, as BSG does (code 45)."""
    if any(item["alpha_name"] == BAD_SENDER for item in body["messages"]):
        return {"error": 45, "errorDescription": "Invalid alpha name"}
    to = [r for item in body["messages"] for r in item["to"]]
    return {
        "result": [
            {"error": 0, "reference": r["reference"], "id": f"id-{r['reference']}", "price": "0.02"}
            for r in to
        ],
        "total_price": str(Decimal("0.02") * len(to)),
        "currency": "EUR",
    }


def per_item(body: dict[str, Any]) -> list[dict[str, Any]]:
    """BSG's second shape: one answer per `messages[]` item; a bad sender refuses its item."""
    answers: list[dict[str, Any]] = []
    for item in body["messages"]:
        if item["alpha_name"] == BAD_SENDER:
            answers.append({"error": "45", "errorDescription": "Invalid alpha name"})
            continue
        answers.append(
            {
                "error": "0",
                "messages": [
                    {"id": f"id-{r['reference']}", "reference": r["reference"], "price": "0.03"}
                    for r in item["to"]
                ],
            }
        )
    return answers


def slow_first(answer: Any, delay: float = 0.3) -> tuple[Canned, Canned]:
    """The first create is held `delay` seconds (a create under way), the rest answer at once."""
    return Canned(body=answer, delay=delay), Canned(body=answer)


def references_of(body: dict[str, Any]) -> list[str]:
    return [r["reference"] for item in body["messages"] for r in item["to"]]


async def started_behind_a_slow_create(
    client: BsgClient, first: CreateRequest, *others: CreateRequest
) -> list[Any]:
    """`first` alone, then `others` together while its create is under way at BSG."""
    leading = asyncio.ensure_future(client.create(first))
    await asyncio.sleep(0.05)  # the first request is at BSG now
    return await asyncio.gather(
        leading, *(client.create(other) for other in others), return_exceptions=True
    )


def accepted_ids(result: CreateResult) -> dict[str, str | None]:
    return {o.reference: o.bsg_id for o in result.outcomes}


async def test_sends_meeting_while_a_create_is_under_way_share_one_request(
    canned_bsg: CannedBsg,
) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(accepting))
    async with client_for(canned_bsg) as client:
        first, b, c, d = await started_behind_a_slow_create(
            client, send("a"), send("b", 2), send("c"), send("d", 3)
        )

    made = canned_bsg.made("POST", CREATE)
    assert [references_of(r.json) for r in made] == [
        ["a0"],
        ["b0", "b1", "c0", "d0", "d1", "d2"],
    ]
    shared = made[1].json
    # Each send keeps its own item (text, sender); only validity and tariff are the request's.
    assert [item["text"] for item in shared["messages"]] == [
        "Hello from b",
        "Hello from c",
        "Hello from d",
    ]
    assert shared["tariff"] == 0 and "validity" not in shared
    # Each send reads only its part of the answer, and its own price.
    assert accepted_ids(first) == {"a0": "id-a0"}
    assert accepted_ids(b) == {"b0": "id-b0", "b1": "id-b1"}
    assert accepted_ids(c) == {"c0": "id-c0"}
    assert accepted_ids(d) == {"d0": "id-d0", "d1": "id-d1", "d2": "id-d2"}
    assert (b.total_price, c.total_price, d.total_price) == (
        Decimal("0.04"),
        Decimal("0.02"),
        Decimal("0.06"),
    )
    assert {b.currency, c.currency, d.currency} == {"EUR"}
    assert client._creates.shared_requests == 1 and client._creates.shared_batches == 3


async def test_a_create_with_nothing_under_way_goes_at_once(canned_bsg: CannedBsg) -> None:
    canned_bsg.on("POST", CREATE, accepting)
    async with client_for(canned_bsg, create_linger=1.0) as client:
        for name in ("a", "b", "c"):
            started = time.perf_counter()
            result = await client.create(send(name))
            assert time.perf_counter() - started < 0.5  # not held for the linger
            assert accepted_ids(result) == {f"{name}0": f"id-{name}0"}
    assert len(canned_bsg.made("POST", CREATE)) == 3


async def test_no_linger_means_no_sharing(canned_bsg: CannedBsg) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(accepting))
    async with client_for(canned_bsg, create_linger=0) as client:
        await started_behind_a_slow_create(client, send("a"), send("b"), send("c"))
    assert sorted(references_of(r.json) for r in canned_bsg.made("POST", CREATE)) == [
        ["a0"],
        ["b0"],
        ["c0"],
    ]


async def test_sends_with_a_different_validity_never_share(canned_bsg: CannedBsg) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(accepting))
    async with client_for(canned_bsg) as client:
        results = await started_behind_a_slow_create(
            client,
            send("a"),
            send("b", validity=3600),
            send("c", validity=3600),
            send("d"),
        )
    assert all(isinstance(r, CreateResult) for r in results)
    bodies = sorted(
        (r.json.get("validity") or 0, references_of(r.json))
        for r in canned_bsg.made("POST", CREATE)[1:]
    )
    assert bodies == [(0, ["d0"]), (3600, ["b0", "c0"])]


async def test_a_shared_request_carries_at_most_a_batch_of_recipients(
    canned_bsg: CannedBsg,
) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(accepting))
    async with client_for(canned_bsg, batch_size=4) as client:
        results = await started_behind_a_slow_create(
            client, send("a"), send("b", 2), send("c", 2), send("d", 3), send("e", 1)
        )
    assert all(isinstance(r, CreateResult) and r.outcomes for r in results)
    sizes = [len(references_of(r.json)) for r in canned_bsg.made("POST", CREATE)]
    assert max(sizes) <= 4 and sum(sizes) == 9
    assert sorted(
        ref for r in canned_bsg.made("POST", CREATE) for ref in references_of(r.json)
    ) == [
        "a0",
        "b0",
        "b1",
        "c0",
        "c1",
        "d0",
        "d1",
        "d2",
        "e0",
    ]


async def test_a_shared_request_refused_whole_goes_again_send_by_send(
    canned_bsg: CannedBsg,
) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(accepting))
    async with client_for(canned_bsg) as client:
        _, good, bad, other = await started_behind_a_slow_create(
            client, send("a"), send("b"), send("x", sender=BAD_SENDER), send("c")
        )

    # Only the send whose sender BSG refuses is refused; the others are accepted.
    assert isinstance(bad, BsgRefused) and bad.code == 45
    assert accepted_ids(good) == {"b0": "id-b0"}
    assert accepted_ids(other) == {"c0": "id-c0"}
    made = [references_of(r.json) for r in canned_bsg.made("POST", CREATE)]
    assert made[:2] == [["a0"], ["b0", "x0", "c0"]]
    assert sorted(made[2:]) == [["b0"], ["c0"], ["x0"]]  # same bodies, same references


async def test_answers_per_item_are_split_in_the_request_order(canned_bsg: CannedBsg) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(per_item))
    async with client_for(canned_bsg) as client:
        _, b, bad, c = await started_behind_a_slow_create(
            client, send("a"), send("b", 2), send("x", sender=BAD_SENDER), send("c")
        )
    assert len(canned_bsg.made("POST", CREATE)) == 2  # the refusal is the item's, not the request's
    assert accepted_ids(b) == {"b0": "id-b0", "b1": "id-b1"} and b.request_errors == ()
    assert b.total_price == Decimal("0.06")
    assert isinstance(bad, BsgRefused) and bad.code == 45
    assert accepted_ids(c) == {"c0": "id-c0"} and c.request_errors == ()


async def test_an_answer_that_cannot_be_split_leaves_the_unnamed_unconfirmed(
    canned_bsg: CannedBsg,
) -> None:
    def one_item_for_all(body: dict[str, Any]) -> list[dict[str, Any]]:
        # One answer item for a request of several items, naming only some recipients.
        return [{"error": "0", "messages": [{"id": "id-b0", "reference": "b0"}]}]

    canned_bsg.script(
        "POST", CREATE, Canned(body=accepting, delay=0.3), Canned(body=one_item_for_all)
    )
    async with client_for(canned_bsg) as client:
        _, b, c = await started_behind_a_slow_create(client, send("a"), send("b"), send("c"))
    assert accepted_ids(b) == {"b0": "id-b0"}
    [outcome] = c.outcomes
    assert outcome.reference == "c0" and outcome.unconfirmed and outcome.error is None


async def test_a_shared_request_bsg_never_answers_leaves_every_send_unconfirmed(
    canned_bsg: CannedBsg,
) -> None:
    canned_bsg.script(
        "POST", CREATE, Canned(body=accepting, delay=0.3), Canned(status=503, body={})
    )
    async with client_for(canned_bsg) as client:
        _, b, c = await started_behind_a_slow_create(client, send("a"), send("b", 2), send("c"))
    assert [(o.reference, o.unconfirmed) for o in b.outcomes + c.outcomes] == [
        ("b0", True),
        ("b1", True),
        ("c0", True),
    ]


async def test_a_send_that_stops_waiting_is_left_out_of_the_shared_request(
    canned_bsg: CannedBsg,
) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(accepting))
    async with client_for(canned_bsg) as client:
        leading = asyncio.ensure_future(client.create(send("a")))
        await asyncio.sleep(0.05)
        gone = asyncio.ensure_future(client.create(send("gone")))
        staying = asyncio.ensure_future(client.create(send("b")))
        await asyncio.sleep(0)
        gone.cancel()
        result = await staying
        await leading
    assert accepted_ids(result) == {"b0": "id-b0"}
    assert [references_of(r.json) for r in canned_bsg.made("POST", CREATE)] == [["a0"], ["b0"]]


async def test_closing_the_client_fails_what_is_held_and_under_way_as_unconfirmed(
    canned_bsg: CannedBsg,
) -> None:
    canned_bsg.script("POST", CREATE, *slow_first(accepting, delay=0.5))
    client = client_for(canned_bsg, create_linger=5.0)
    leading = asyncio.ensure_future(client.create(send("a")))
    await asyncio.sleep(0.05)
    held = asyncio.ensure_future(client.create(send("b")))
    await asyncio.sleep(0.05)
    await client.aclose()
    # Neither sender was cancelled: both hear "unconfirmed" (looked up by reference later),
    # the held one without waiting for the linger.
    under_way, result = await asyncio.wait_for(asyncio.gather(leading, held), 1.0)
    assert [(o.reference, o.unconfirmed) for o in under_way.outcomes] == [("a0", True)]
    assert [(o.reference, o.unconfirmed) for o in result.outcomes] == [("b0", True)]
    assert [references_of(r.json) for r in canned_bsg.made("POST", CREATE)] == [["a0"]]


async def test_a_shared_answer_is_read_as_the_reader_reads_references(
    canned_bsg: CannedBsg,
) -> None:
    def loosely(body: dict[str, Any]) -> dict[str, Any]:
        # A number for a reference of digits, spaces around another, and an entry whose
        # reference no reader can use: nothing hangs, and only that entry's recipient is
        # left unconfirmed.
        return {
            "result": [
                {"error": 0, "reference": 1001, "id": "id-1001", "price": "0.02"},
                {"error": 0, "reference": " c0 ", "id": "id-c0", "price": "0.02"},
                {"error": 0, "reference": ["x0"], "id": "id-x0", "price": "0.02"},
            ],
            "currency": "EUR",
        }

    numbered = CreateRequest(
        content=MessageContent(text="Hello from digits", sender="Acme"),
        recipients=(Recipient(msisdn="380970000001", reference="1001"),),
    )
    canned_bsg.script("POST", CREATE, Canned(body=accepting, delay=0.3), Canned(body=loosely))
    async with client_for(canned_bsg) as client:
        _, digits, c, x = await asyncio.wait_for(
            started_behind_a_slow_create(client, send("a"), numbered, send("c"), send("x")), 5
        )
    assert accepted_ids(digits) == {"1001": "id-1001"}
    assert accepted_ids(c) == {"c0": "id-c0"}
    [unread] = x.outcomes
    assert unread.reference == "x0" and unread.unconfirmed
