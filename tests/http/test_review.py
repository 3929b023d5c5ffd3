"""The review step for big sends (Send once, Back keeps every value) and quick-send confirms."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.blockkit import texts, valid_blocks, valid_view
from tests.conftest import SIGNING_SECRET
from tests.slack_requests import block_action, modal_values

CHANNEL = "C123"


def numbers(count: int, start: int = 0) -> str:
    # Last digit 0 or 1: the simulator's "read" lifecycle.
    return ", ".join(f"+3809729{(start + n) * 10:05d}" for n in range(count))


async def open_modal(app) -> dict[str, Any]:
    before = len(app.slack.opened_views)
    await app.command("", channel_id=CHANNEL)
    await app.wait_for(lambda: len(app.slack.opened_views) > before)
    return app.slack.opened_views[-1]


async def submit(app, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    response = await app.submit(values, view=view)
    assert time.perf_counter() - started < 3.0
    assert response.status_code == 200, response.text
    return response.json() if response.content else {}


def button(view: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in view["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button")


async def press(app, view: dict[str, Any], action_id: str, user_id: str = "U123"):
    action = button(view, action_id)
    request = block_action(
        SIGNING_SECRET, action_id=action_id, value=action["value"], view=view, user_id=user_id
    )
    response = await app.post(request)
    assert response.status_code == 200
    return response


async def reviewed(app, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Submit the modal; return (the ack's review view, the review as views.update left it)."""
    view = await open_modal(app)
    ack = await submit(app, view, values)
    assert ack.get("response_action") == "update", ack
    review = ack["view"]
    assert review["callback_id"] == "viber_review"
    valid_view(review)
    full = await app.wait_for(
        lambda: (v := app.slack.view(view["id"])) and v["callback_id"] == "viber_review" and v
    )
    return review, full


async def test_a_big_send_is_reviewed_and_sent_once(app):
    values = {"recipients": numbers(21), "text": "Sale starts today", "sms_text": "Sale today"}
    _, full = await reviewed(app, values)
    valid_view(full)
    shown = texts(full["blocks"])
    assert "*21* recipients" in shown
    assert "Sale starts today" in shown and "*Acme*" in shown
    assert "Viber: *0.42 EUR*" in shown  # 21 x 0.02
    # Worst case 0.42 + 21 x 0.05 = 1.47; balance 100.00 before.
    assert "*1.47 EUR*" in shown
    assert "Balance after the send: *98.53 EUR*" in shown
    assert app.bsg.create_calls == 0 and await app.store.recent_sends() == []
    # A double click: two block actions at once.
    await asyncio.gather(press(app, full, "review_send"), press(app, full, "review_send"))
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    assert app.bsg.create_calls == 1
    sends = await app.store.recent_sends()
    assert len(sends) == 1 and len(await app.store.send_messages(sends[0].id)) == 21
    assert "Sending to *21* recipients" in texts(app.slack.view(full["id"])["blocks"])
    # A later click on the same (stale) review sends nothing either.
    await press(app, full, "review_send")
    await app.settle()
    assert app.bsg.create_calls == 1


async def test_back_returns_to_the_form_with_every_value(app):
    send_at = int(time.time()) + 3600
    typed = {
        "recipients": numbers(25),
        "text": "Your order has shipped",
        "sender": "Shop",
        "promotional": ["promotional"],
        "image_url": "https://example.com/p.png",
        "button_caption": "Track",
        "button_url": "https://example.com/t",
        "sms_text": "Shipped",
        "sms_sender": "ShopSMS",
        "send_at": send_at,
        "validity": 3600,
    }
    _, full = await reviewed(app, modal_values(typed))
    shown = texts(full["blocks"])
    assert "Track" in shown and "https://example.com/p.png" in shown and "ShopSMS" in shown
    await press(app, full, "review_back")
    form = await app.wait_for(
        lambda: (v := app.slack.view(full["id"])) and v["callback_id"] == "viber_send" and v
    )
    valid_view(form)
    initial = {b["block_id"]: b["element"] for b in form["blocks"] if b["type"] == "input"}
    assert initial["recipients"]["initial_value"] == typed["recipients"]
    assert initial["text"]["initial_value"] == typed["text"]
    assert initial["sender"]["initial_value"] == "Shop"
    assert [o["value"] for o in initial["promotional"]["initial_options"]] == ["promotional"]
    assert initial["image_url"]["initial_value"] == typed["image_url"]
    assert initial["button_caption"]["initial_value"] == "Track"
    assert initial["button_url"]["initial_value"] == typed["button_url"]
    assert initial["sms_text"]["initial_value"] == "Shipped"
    assert initial["sms_sender"]["initial_value"] == "ShopSMS"
    assert initial["send_at"]["initial_date_time"] == send_at
    assert initial["validity"]["initial_value"] == "3600"
    assert app.bsg.create_calls == 0
    # Submitted again as it stands (Slack reports the initial values): the review again.
    ack = await submit(app, form, {})
    assert ack["response_action"] == "update" and ack["view"]["callback_id"] == "viber_review"
    assert app.bsg.create_calls == 0


async def test_at_the_threshold_it_sends_at_once(app):
    view = await open_modal(app)
    ack = await submit(app, view, {"recipients": numbers(20), "text": "Hi"})
    assert ack == {}
    await app.wait_for(lambda: app.bsg.create_calls == 1)


async def test_review_above_a_cost(make_bot):
    app = await make_bot(VIBER_BOT_REVIEW_COST="0.01")
    view = await open_modal(app)
    ack = await submit(app, view, {"recipients": numbers(1), "text": "Hi"})
    assert ack["response_action"] == "update"  # 0.02 > 0.01
    cheap = await make_bot(VIBER_BOT_REVIEW_COST="1.00")
    view = await open_modal(cheap)
    assert await submit(cheap, view, {"recipients": numbers(1), "text": "Hi"}) == {}
    await cheap.wait_for(lambda: cheap.bsg.create_calls == 1)


async def test_the_review_of_another_person_is_not_theirs_to_send(app):
    _, full = await reviewed(app, {"recipients": numbers(21), "text": "Hi"})
    await press(app, full, "review_send", user_id="U999")
    await asyncio.sleep(0.2)
    assert app.bsg.create_calls == 0


# ---------------------------------------------------------------- quick sends


async def quick(app, count: int) -> tuple[str, dict[str, Any]]:
    url = app.slack.response_url()
    response = await app.command(
        f"send {numbers(count).replace(' ', '')} Flash sale", response_url=url
    )
    assert response.status_code == 200
    assert "Checking the price" in response.json()["text"]
    answer = await app.wait_for(lambda: app.slack.responses_to(url))
    return url, answer[-1]


async def click(app, answer: dict[str, Any], user_id: str = "U123") -> str:
    url = app.slack.response_url()
    action = next(
        e
        for b in answer["blocks"]
        for e in b.get("elements") or []
        if e.get("action_id") == "quick_confirm"
    )
    request = block_action(
        SIGNING_SECRET,
        action_id="quick_confirm",
        value=action["value"],
        user_id=user_id,
        response_url=url,
    )
    assert (await app.post(request)).status_code == 200
    return url


async def test_a_big_quick_send_asks_first_and_sends_once(app):
    _, answer = await quick(app, 21)
    valid_blocks(answer["blocks"])
    shown = texts(answer["blocks"])
    assert "*21* recipients" in shown and "Viber: *0.42 EUR*" in shown
    assert app.bsg.create_calls == 0
    first, second = await asyncio.gather(click(app, answer), click(app, answer))
    await app.wait_for(lambda: app.slack.responses_to(first) and app.slack.responses_to(second))
    # The create follows the answer ("Sending to 21"): wait for it, then for anything after it.
    await app.wait_for(lambda: app.bsg.create_calls >= 1)
    await app.settle()
    assert app.bsg.create_calls == 1
    said = [r["text"] for r in app.slack.responses_to(first) + app.slack.responses_to(second)]
    assert any("Sending to 21" in s for s in said)
    assert any("already confirmed" in s for s in said)
    assert len(await app.store.recent_sends()) == 1


async def test_a_late_click_sends_nothing(app, clock):
    _, answer = await quick(app, 21)
    clock.advance(601)
    url = await click(app, answer)
    said = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "expired after 10 minutes" in said[-1]["text"]
    await asyncio.sleep(0.1)
    assert app.bsg.create_calls == 0


async def test_someone_else_cannot_confirm(app):
    _, answer = await quick(app, 21)
    url = await click(app, answer, user_id="U777")
    said = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "Only the person who ran the command" in said[-1]["text"]
    assert app.bsg.create_calls == 0


async def test_a_small_quick_send_goes_at_once(app):
    response = await app.command(f"send {numbers(2).replace(' ', '')} Hi")
    assert "Sending to 2" in response.json()["text"]
    await app.wait_for(lambda: app.bsg.create_calls == 1)
