"""Opt-outs through signed slash commands and the modal: never in a BSG request, on any route."""

from __future__ import annotations

import json

from tests.conftest import USER
from tests.http.test_lists import said, sent_numbers
from tests.http.test_modal import errors_of, open_modal


async def test_optout_optin_and_the_latest_list_masked(app):
    text = said(await app.command("optout +380972920283 wrong number"))
    assert "Opted out 1 number (0 already opted out)" in text and "wrong number" in text
    text = said(await app.command("optout 00380972920283,380972920282,+3801 asked us to stop"))
    # The first number in another written form is the same number: already opted out.
    assert "Opted out 1 number (1 already opted out)" in text
    assert "asked us to stop" in text and "+3801" in text  # the invalid one is named
    assert await app.store.opted_out_among(["380972920283", "380972920282"]) == {
        "380972920283",
        "380972920282",
    }
    [entry, *_] = await app.store.latest_optouts()
    assert entry.user_id == USER and entry.reason
    listing = said(await app.command("optouts"))
    assert "2 numbers opted out" in listing
    assert "+380 ••••• 0283" in listing and "380972920283" not in listing
    text = said(await app.command("optin 00380972920283"))  # another written form
    assert "Opted back in 1 number" in text
    assert await app.store.optout_count() == 1
    actions = [row["action"] for row in await app.store.audit_log()]
    assert "optout" in actions and "optin" in actions
    optout_audit = next(r for r in await app.store.audit_log() if r["action"] == "optout")
    assert optout_audit["user_id"] == USER and optout_audit["detail"]["reason"]


async def test_opted_out_numbers_are_skipped_and_listed_masked_on_the_parent(app, bsg):
    said(await app.command("optout +380972920283 stop"))
    said(await app.command("list add team +380972920283 +380972920282"))
    text = said(await app.command("send @team,+380972920281 Hello"))
    assert "Sending to 2 recipients" in text and "1 number skipped: opted out" in text
    parent = await app.wait_for(lambda: app.slack.channel_messages("C123"))
    assert "380972920283" not in sent_numbers(bsg)
    assert sorted(sent_numbers(bsg)) == ["380972920281", "380972920282"]
    posted = json.dumps(parent[-1], ensure_ascii=False)
    assert "Skipped: opted out (1)" in posted
    assert "+380 ••••• 0283" in posted and "380972920283" not in posted
    # Nothing was stored for the skipped number either.
    send = (await app.store.recent_sends(1))[0]
    assert {m.msisdn for m in await app.store.send_messages(send.id)} == {
        "380972920281",
        "380972920282",
    }


async def test_every_number_opted_out_sends_nothing_and_says_so_privately(app, bsg):
    said(await app.command("optout +380972920283,+380972920282"))
    text = said(await app.command("send +380972920283,380972920282 Hello"))
    assert "Nothing was sent" in text and "opted out" in text
    assert bsg.create_bodies == [] and await app.store.recent_sends(1) == []
    assert app.slack.channel_messages("C123") == []
    assert any(r["outcome"] == "opted_out" for r in await app.store.audit_log())


async def test_an_optout_made_while_the_modal_is_open_is_honoured(app, bsg):
    view = await open_modal(app)
    # Someone opts the number out after the modal opened and before it is submitted.
    said(await app.command("optout +380972920283 asked on the phone"))
    response = await app.submit({"recipients": "+380972920283", "text": "Hello"}, view=view)
    ack = response.json()
    assert "opted out" in errors_of(ack)["recipients"]
    await app.wait_for(lambda: any(e["user"] == USER for e in app.slack.ephemerals))
    assert bsg.create_bodies == []
    # With one other number, that one goes and the opted-out one does not.
    view = await open_modal(app)
    said(await app.command("optout +380972920282"))
    response = await app.submit(
        {"recipients": "+380972920283 +380972920282 +380972920281", "text": "Hi"}, view=view
    )
    assert response.content in (b"", b"{}") or response.json() == {}
    await app.wait_for(lambda: bsg.create_bodies)
    assert sent_numbers(bsg) == ["380972920281"]


async def test_opting_out_needs_the_allow_lists(make_bot):
    app = await make_bot(VIBER_BOT_ALLOWED_USERS="U999")
    assert "not on the list" in said(await app.command("optout +380972920283"))
    assert await app.store.optout_count() == 0
