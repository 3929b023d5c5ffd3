"""The live estimate: block actions from the modal update its `estimate` block (views.update)."""

from __future__ import annotations

import time
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_requests import view_values
from tests.blockkit import texts, valid_view
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.slack_requests import block_action

CHANNEL = "C123"


async def open_modal(app) -> dict[str, Any]:
    before = len(app.slack.opened_views)
    await app.command("", channel_id=CHANNEL)
    await app.wait_for(lambda: len(app.slack.opened_views) > before)
    return app.slack.opened_views[-1]


def estimate_text(app, view_id: str) -> str:
    view = app.slack.view(view_id)
    block = next(b for b in view["blocks"] if b.get("block_id") == "estimate")
    return texts([block])


async def type_into(app, view: dict[str, Any], action_id: str, values: dict[str, Any]):
    """A block action as Slack sends it while typing: the view as it is now, with its state."""
    current = app.slack.view(view["id"]) or view
    payload_view = dict(current, state={"values": view_values(values, current["blocks"])})
    started = time.perf_counter()
    response = await app.post(block_action(SIGNING_SECRET, action_id=action_id, view=payload_view))
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def inputs_of(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in view["blocks"] if b["type"] == "input"]


async def test_the_modal_dispatches_its_estimated_inputs(app):
    view = await open_modal(app)
    valid_view(view)
    dispatching = {b["block_id"] for b in inputs_of(view) if b.get("dispatch_action")}
    assert dispatching == {"recipients", "text", "sms_text"}
    for block in inputs_of(view):
        if block["block_id"] in dispatching:
            config = block["element"]["dispatch_action_config"]
            assert config == {"trigger_actions_on": ["on_character_entered"]}
    assert "estimate" in [b.get("block_id") for b in view["blocks"]]


async def test_counts_segments_and_prices_follow_what_is_typed(app):
    view = await open_modal(app)
    values = {
        "recipients": "+380972920280, 380972920281 12345\n00380972920280, hello",
        "text": "Your order has shipped",
        "sms_text": "Ваше замовлення відправлено, дякуємо що обрали нас! " * 2,
    }
    elapsed = await type_into(app, view, "sms_text", values)
    assert elapsed < 1.0
    shown = await app.wait_for(
        lambda: (t := estimate_text(app, view["id"])) and "Viber:" in t and t
    )
    assert "2 recipients" in shown
    assert "2 invalid (`12345`, `hello`)" in shown
    assert "1 duplicate" in shown
    assert "2 segments, UCS-2" in shown and "67 per segment" in shown
    # Simulator: 0.02 per Viber message; 0.05 per SMS segment.
    assert "Viber: *0.04 EUR*" in shown
    assert "*0.24 EUR*" in shown  # 0.04 + 2 recipients x 2 segments x 0.05
    updated = app.slack.view(view["id"])
    valid_view(updated)
    # The inputs go back exactly as they were: Slack keeps what was typed by block id.
    assert inputs_of(updated) == inputs_of(view)
    hashes = [c.get("hash") for c in app.slack.calls_to("views.update")]
    assert hashes and all(hashes)
    assert app.bsg.calls["price_preview"] == 1 and app.bsg.calls["sms_price"] == 1


async def test_a_gsm_text_counts_160_then_153(app):
    view = await open_modal(app)
    values = {"recipients": "+380972920280", "text": "Hi", "sms_text": "x" * 161}
    await type_into(app, view, "sms_text", values)
    shown = await app.wait_for(lambda: (t := estimate_text(app, view["id"])) and "EUR" in t and t)
    assert "2 segments, GSM-7" in shown and "153 per segment" in shown


async def test_the_same_draft_is_priced_once(app):
    view = await open_modal(app)
    values = {"recipients": "+380972920280", "text": "Hi"}
    await type_into(app, view, "text", values)
    await app.wait_for(lambda: "Viber:" in estimate_text(app, view["id"]))
    await type_into(app, view, "recipients", values)
    await app.wait_for(lambda: len(app.slack.calls_to("views.update")) >= 3)
    assert app.bsg.calls["price_preview"] == 1


async def test_slow_bsg_never_blocks_typing(make_bot):
    app = await make_bot(VIBER_BOT_ESTIMATE_TIMEOUT=0.5)
    app.bsg.price_delay = 3.0
    view = await open_modal(app)
    values = {"recipients": "+380972920280, +380972920281", "text": "Hi"}
    elapsed = await type_into(app, view, "recipients", values)
    assert elapsed < 0.3
    # Counts come at once, the price "checking…", then "unavailable" once the budget is spent.
    await app.wait_for(lambda: "checking" in estimate_text(app, view["id"]), timeout=2)
    assert "2 recipients" in estimate_text(app, view["id"])
    shown = await app.wait_for(
        lambda: (t := estimate_text(app, view["id"])) and "unavailable" in t and t, timeout=3
    )
    assert "Price unavailable" in shown
    # The modal still works: the send goes out.
    current = app.slack.view(view["id"])
    response = await app.submit(values, view=current)
    assert response.status_code == 200 and not response.content
    await app.wait_for(lambda: app.bsg.create_calls == 1, timeout=5)


async def test_bsg_down_says_price_unavailable(app):
    app.bsg.fail_next("/viber/price", count=5, status=500)
    view = await open_modal(app)
    await type_into(app, view, "text", {"recipients": "+380972920280", "text": "Hi"})
    shown = await app.wait_for(
        lambda: (t := estimate_text(app, view["id"])) and "unavailable" in t and t
    )
    assert "2 recipients" not in shown and "1 recipient" in shown


async def test_a_stale_hash_is_handled(app):
    view = await open_modal(app)
    # Someone else (another change) updated the view: the hash this action carries is stale.
    web = AsyncWebClient(token=BOT_TOKEN, base_url=app.slack.base_url)
    try:
        await web.views_update(view_id=view["id"], hash=view["hash"], view=_bare(view))
    finally:
        if web.session is not None:
            await web.session.close()
    stale = dict(
        view, state={"values": view_values({"recipients": "+380972920280"}, view["blocks"])}
    )
    response = await app.post(block_action(SIGNING_SECRET, action_id="recipients", view=stale))
    assert response.status_code == 200
    await app.wait_for(lambda: len(app.slack.calls_to("views.update")) >= 2)
    errors = [c for c in app.slack.calls_to("views.update") if c.get("hash") == view["hash"]]
    assert len(errors) == 2  # ours was refused with hash_conflict, nothing overwritten
    assert "1 recipient" not in estimate_text(app, view["id"])
    # The next change carries the current hash and shows the estimate.
    await type_into(app, view, "recipients", {"recipients": "+380972920280", "text": "Hi"})
    await app.wait_for(lambda: "Viber:" in estimate_text(app, view["id"]))


async def test_a_newer_change_wins(app):
    app.bsg.price_delay = 0.4
    view = await open_modal(app)
    await type_into(app, view, "recipients", {"recipients": "+380972920280", "text": "Hi"})
    await type_into(
        app,
        view,
        "recipients",
        {"recipients": "+380972920280 +380972920281 +380972920282", "text": "Hi"},
    )
    shown = await app.wait_for(
        lambda: (t := estimate_text(app, view["id"])) and "0.06 EUR" in t and t, timeout=5
    )
    assert "3 recipients" in shown
    # The first change's price comes in later: it must not overwrite the newer estimate.
    await app.wait_for(lambda: app.bsg.calls["price_preview"] == 2 and not app.bot.estimates.asking)
    assert "3 recipients" in estimate_text(app, view["id"])


def _bare(view: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "callback_id", "private_metadata", "title", "submit", "close", "blocks")
    return {k: view[k] for k in keep if view.get(k)}
