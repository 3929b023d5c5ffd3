"""Saved lists through signed slash commands: edit them, send to `@name`, see them on App Home."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.domain.recipients import LIST_NAME_PATTERN
from tests.conftest import SIGNING_SECRET
from tests.http.test_modal import errors_of, submit
from tests.slack_requests import app_home_opened, event_callback


def said(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.get("response_type") == "ephemeral", body
    return body["text"]


def sent_numbers(bsg) -> list[str]:
    return [to["msisdn"] for body in bsg.create_bodies for m in body["messages"] for to in m["to"]]


async def test_add_show_remove_delete_a_list_privately(app):
    text = said(await app.command("list add kyiv-pickup +380972920283, 380972920282 +3801 0283"))
    assert "Created *@kyiv-pickup*" in text
    assert "2 numbers added, 0 already present, 2 invalids" in text
    assert "+3801" in text and "0283" in text  # the invalid ones are named
    text = said(await app.command("list add kyiv-pickup 00380972920283 +380 97 292 0281"))
    # The same number in another written form is already present: stored normalised.
    assert "added" in text and "1 already present" in text
    assert "It now has" in text
    members = await app.store.list_members("kyiv-pickup")
    assert {"380972920283", "380972920282"} <= {m.msisdn for m in members}
    assert all(m.added_by == "U123" and m.added_at for m in members)

    shown = said(await app.command("list show kyiv-pickup"))
    assert "+380972920283" in shown and "+380972920282" in shown  # full numbers: private
    assert f"{len(members)} numbers" in shown

    listed = said(await app.command("LISTS"))
    assert f"`@kyiv-pickup` — {len(members)} numbers" in listed

    removed = said(await app.command("list remove kyiv-pickup +380972920282 +380972920200"))
    assert "Removed 1 number from *@kyiv-pickup* (1 were not in it)" in removed
    deleted = said(await app.command("list delete kyiv-pickup"))
    assert "Deleted *@kyiv-pickup*" in deleted
    assert await app.store.list_members("kyiv-pickup") is None
    assert "no list" in said(await app.command("list show kyiv-pickup"))
    # Every change is audited with who made it.
    actions = [(row["action"], row["user_id"]) for row in await app.store.audit_log()]
    for action in ("list_add", "list_remove", "list_delete"):
        assert (action, "U123") in actions
    # Nothing of this reached BSG or the channel.
    assert app.bsg.create_calls == 0
    assert app.slack.channel_messages("C123") == []


async def test_a_bad_list_name_is_refused_with_the_pattern(app):
    for name in ("Kyiv", "-kyiv", "k" * 41, "kyiv!"):
        text = said(await app.command(f"list add {name} +380972920283"))
        assert LIST_NAME_PATTERN in text, text
    assert await app.store.list_sizes() == []
    text = said(await app.command("send @Kyiv Hello"))
    assert "Nothing was sent" in text and LIST_NAME_PATTERN in text
    assert app.bsg.create_calls == 0


async def test_send_to_a_list_and_numbers_together(app, bsg):
    said(await app.command("list add kyiv +380972920283,+380972920282"))
    text = said(await app.command("send @kyiv,+380972920281,380972920283 Your parcel is ready"))
    assert "Sending to 3 recipients" in text
    assert "1 duplicate collapsed" in text
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    assert sorted(sent_numbers(bsg)) == ["380972920281", "380972920282", "380972920283"]
    send = (await app.store.recent_sends(1))[0]
    assert send.options["lists"] == {"kyiv": 2}


async def test_an_unknown_list_is_named_and_nothing_is_sent(app, bsg):
    said(await app.command("list add kyiv +380972920283"))
    text = said(await app.command("send @kyiv,@lviv,+380972920282 Hello"))
    assert "Nothing was sent" in text and "@lviv" in text and "@kyiv" not in text
    ack = await submit(app, {"recipients": "@odesa\n+380972920282", "text": "Hello"})
    assert "@odesa" in errors_of(ack)["recipients"]
    assert bsg.create_bodies == []
    assert await app.store.recent_sends(1) == []


async def test_the_modal_takes_lists_in_the_recipients_field(app, bsg):
    said(await app.command("list add kyiv +380972920283 +380972920282"))
    ack = await submit(app, {"recipients": "@kyiv, +380972920281", "text": "Hello"})
    assert ack == {}
    await app.wait_for(lambda: bsg.create_bodies)
    assert sorted(sent_numbers(bsg)) == ["380972920281", "380972920282", "380972920283"]


async def test_editing_lists_needs_the_send_allow_lists(make_bot):
    app = await make_bot(VIBER_BOT_ALLOWED_USERS="U999")
    text = said(await app.command("list add kyiv +380972920283"))
    assert "not on the list" in text
    assert await app.store.list_sizes() == []
    assert "not on the list" in said(await app.command("lists"))
    other = await make_bot(
        VIBER_BOT_ALLOWED_CHANNELS="C999", VIBER_BOT_DB=str(app.bot.settings.db_path) + "2"
    )
    assert "cannot be used from this channel" in said(await other.command("list delete kyiv"))


async def test_app_home_shows_the_lists_with_their_sizes(app):
    said(await app.command("list add kyiv +380972920283 +380972920282"))
    said(await app.command("list add lviv +380972920281"))
    response = await app.post(event_callback(SIGNING_SECRET, event=app_home_opened("U123")))
    assert response.status_code == 200
    view = await app.wait_for(lambda: app.slack.published_views.get("U123"))
    text = json.dumps(view, ensure_ascii=False)
    assert "@kyiv` — 2 numbers" in text and "@lviv` — 1 number" in text
