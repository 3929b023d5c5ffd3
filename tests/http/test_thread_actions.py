"""The parent card's actions through HTTP: retry_failed, resend_sms, export_csv and refusals."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

from tests.blockkit import texts, valid_blocks, valid_view
from tests.conftest import SIGNING_SECRET
from tests.slack_requests import block_action

CHANNEL = "C123"
READ, UNDELIVERED, REJECTED = "+380972920280", "+380972920284", "+380972920289"


async def sent(app, clock, numbers: str) -> dict[str, Any]:
    """Send with the slash command and let every recipient reach its final status."""
    await app.command(f"send {numbers} Your order has shipped")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    send = (await app.store.recent_sends(1))[0]
    clock.advance(40)

    async def all_final() -> bool:
        return all(m.final for m in await app.store.send_messages(send.id))

    await app.wait_for(all_final, timeout=15)
    await app.settle()
    return app.parent()


def send_of(parent: dict[str, Any]) -> int:
    return int(
        next(
            e["value"]
            for b in parent["blocks"]
            for e in b.get("elements") or []
            if e.get("action_id") == "retry_failed"
        )
    )


async def press(app, parent: dict[str, Any], action_id: str, user_id: str = "U123") -> str:
    url = app.slack.response_url()
    request = block_action(
        SIGNING_SECRET,
        action_id=action_id,
        block_id="thread_actions",
        value=str(send_of(parent)),
        user_id=user_id,
        message_ts=parent["ts"],
        channel_id=CHANNEL,
        response_url=url,
    )
    assert (await app.post(request)).status_code == 200
    return url


async def confirmation(app, before: int, *, priced: bool = True) -> dict[str, Any]:
    await app.wait_for(lambda: len(app.slack.opened_views) > before)
    view_id = app.slack.opened_views[-1]["id"]
    if priced:
        await app.wait_for(lambda: "Estimate: *" in texts(app.slack.view(view_id)["blocks"]))
    view = app.slack.view(view_id)
    valid_view(view)
    assert view["callback_id"] == "viber_thread_action"
    return view


async def confirm(app, view: dict[str, Any], user_id: str = "U123") -> None:
    response = await app.submit({}, view=view, user_id=user_id)
    assert response.status_code == 200


async def test_the_card_carries_the_three_actions(app, clock):
    parent = await sent(app, clock, READ)
    valid_blocks(parent["blocks"])
    ids = [e.get("action_id") for b in parent["blocks"] for e in b.get("elements") or []]
    assert {"retry_failed", "resend_sms", "export_csv"} <= set(ids)


async def test_retry_failed_sends_once_with_new_references_linked_both_ways(app, clock):
    parent = await sent(app, clock, f"{READ},{UNDELIVERED},{REJECTED}")
    original = send_of(parent)
    old_refs = {m.msisdn: m.reference for m in await app.store.send_messages(original)}
    before = len(app.slack.opened_views)
    await press(app, parent, "retry_failed")
    view = await confirmation(app, before)
    shown = texts(view["blocks"])
    assert "*2 recipients*" in shown and "Estimate: *0.04 EUR*" in shown
    # Submitted twice (a double click on the modal's button, or Slack retrying it).
    await asyncio.gather(confirm(app, view), confirm(app, view))
    await app.wait_for(lambda: len(app.slack.channel_messages(CHANNEL)) == 2)
    await app.settle()
    assert app.bsg.create_calls == 2
    retry = (await app.store.recent_sends(1))[0]
    assert retry.id != original and retry.options["retry_of"] == original
    again = await app.store.send_messages(retry.id)
    assert sorted(m.msisdn for m in again) == ["380972920284", "380972920289"]
    assert all(m.reference != old_refs[m.msisdn] for m in again)
    # Both cards link to each other; the thread says who retried.
    new_card = texts(app.parent()["blocks"])
    assert "Retry of" in new_card and parent["ts"].replace(".", "") in new_card
    await app.wait_for(
        lambda: "retried 2 failed recipients" in texts(app.parent(index=0)["blocks"])
    )
    old_card = texts(app.parent(index=0)["blocks"])
    assert app.parent()["ts"].replace(".", "") in old_card
    assert any("is retrying 2 failed recipients" in r for r in app.replies(index=0))
    audited = [a for a in await app.store.audit_log() if a["action"] == "retry_failed"]
    assert [a["outcome"] for a in audited] == ["submitted"]
    # A later click says it was done, and does nothing.
    url = await press(app, app.parent(index=0), "retry_failed")
    said = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "already retried" in said[-1]["text"]
    assert app.bsg.create_calls == 2


async def test_resend_sms_is_tracked_in_the_thread(app, clock):
    parent = await sent(app, clock, f"{READ},{UNDELIVERED}")
    before = len(app.slack.opened_views)
    await press(app, parent, "resend_sms")
    view = await confirmation(app, before)
    assert "Estimate: *0.05 EUR*" in texts(view["blocks"])  # one SMS segment
    await asyncio.gather(confirm(app, view), confirm(app, view))
    await app.wait_for(lambda: app.bsg.sms_sent_to("380972920284") == 1)
    assert app.bsg.sms_sent_to("380972920280") == 0
    await app.wait_for(lambda: any("resending 1 recipient as SMS" in r for r in app.replies()))
    clock.advance(5)  # the simulator's SMS: delivered 2 s after acceptance
    await app.wait_for(lambda: any("SMS delivered" in r for r in app.replies()), timeout=15)
    delivered = next(r for r in app.replies() if "SMS delivered" in r)
    assert "+380 ••••• 0284" in delivered
    await app.wait_for(lambda: "SMS ✅ delivered" in texts(app.parent()["blocks"]))
    assert app.bsg.sms_sent_to("380972920284") == 1
    (row,) = await app.store.sms_resends(send_of(parent))
    assert row.bsg_id and row.final


async def test_a_resend_whose_answer_was_lost_is_found_by_reference(app, clock):
    parent = await sent(app, clock, UNDELIVERED)
    # BSG takes the SMS, then the answer is lost (and the client's retry is refused: 43).
    app.bsg.fail_next("/sms/create", count=2, status=500, after_processing=True)
    before = len(app.slack.opened_views)
    await press(app, parent, "resend_sms")
    await confirm(app, await confirmation(app, before, priced=False))
    await app.wait_for(lambda: app.bsg.sms_sent_to("380972920284") == 1)
    clock.advance(5)

    async def resent() -> object:
        return (await app.store.sms_resends(send_of(parent)))[0].bsg_id

    await app.wait_for(resent, timeout=15)
    await app.wait_for(lambda: any("SMS delivered" in r for r in app.replies()), timeout=15)
    assert app.bsg.sms_sent_to("380972920284") == 1


async def test_export_csv_uploads_into_the_thread(app, clock):
    parent = await sent(app, clock, f"{READ},{UNDELIVERED}")
    before = len(app.slack.opened_views)
    await press(app, parent, "export_csv")
    await confirm(app, await confirmation(app, before, priced=False))
    (uploaded,) = await app.wait_for(lambda: app.slack.uploaded_files(CHANNEL))
    assert uploaded["thread_ts"] == parent["ts"]
    rows = list(csv.DictReader(io.StringIO(uploaded["content"].decode())))
    assert [r["msisdn"] for r in rows] == ["+380 ••••• 0280", "+380 ••••• 0284"]
    assert [r["status"] for r in rows] == ["read", "undelivered"]
    methods = [name for name, _ in app.slack.calls]
    assert "files.getUploadURLExternal" in methods and "files.completeUploadExternal" in methods
    url = await press(app, parent, "export_csv")
    said = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "already exported" in said[-1]["text"]
    assert len(app.slack.uploaded_files(CHANNEL)) == 1


async def test_only_the_sender_or_allowed_users(make_bot, clock):
    app = await make_bot()
    parent = await sent(app, clock, UNDELIVERED)
    before = len(app.slack.opened_views)
    url = await press(app, parent, "retry_failed", user_id="U999")
    said = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "Only the person who sent this message" in said[-1]["text"]
    assert len(app.slack.opened_views) == before
    denied = [a for a in await app.store.audit_log() if a["action"] == "retry_failed"]
    assert denied and denied[0]["outcome"] == "denied" and denied[0]["user_id"] == "U999"
    # A forged confirmation from someone else is refused as well.
    await press(app, parent, "retry_failed")
    view = await confirmation(app, before)
    await confirm(app, view, user_id="U999")
    await app.settle()
    assert app.bsg.create_calls == 1


async def test_an_allowed_user_may_act(make_bot, clock):
    app = await make_bot(VIBER_BOT_ALLOWED_USERS="U123,U777")
    parent = await sent(app, clock, UNDELIVERED)
    before = len(app.slack.opened_views)
    await press(app, parent, "retry_failed", user_id="U777")
    await confirm(app, await confirmation(app, before), user_id="U777")
    await app.wait_for(lambda: app.bsg.create_calls == 2)


async def test_nothing_to_retry_is_said(app, clock):
    parent = await sent(app, clock, READ)
    url = await press(app, parent, "retry_failed")
    said = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "nothing to retry" in said[-1]["text"]


async def test_a_retry_follows_the_send_rules(make_bot, clock):
    app = await make_bot(VIBER_BOT_DAILY_QUOTA=1)
    parent = await sent(app, clock, UNDELIVERED)
    before = len(app.slack.opened_views)
    await press(app, parent, "retry_failed")
    await confirm(app, await confirmation(app, before))
    told = await app.wait_for(lambda: app.slack.ephemerals)
    assert "daily quota" in told[-1]["text"] and told[-1]["user"] == "U123"
    assert app.bsg.create_calls == 1
    # Refused before the claim: nothing is marked as done.
    assert await app.store.thread_action(send_of(parent), "retry_failed") is None


async def test_opted_out_numbers_never_reach_bsg_from_an_action(app, clock):
    parent = await sent(app, clock, f"{UNDELIVERED},{REJECTED}")
    await app.command(f"optout {UNDELIVERED}")
    await app.wait_for(lambda: app.store.opted_out_among(["380972920284"]))
    before = len(app.slack.opened_views)
    await press(app, parent, "retry_failed")
    view = await confirmation(app, before)
    assert "*1 recipient*" in texts(view["blocks"])
    await confirm(app, view)
    await app.wait_for(lambda: app.bsg.create_calls == 2)
    retry = (await app.store.recent_sends(1))[0]
    assert [m.msisdn for m in await app.store.send_messages(retry.id)] == ["380972920289"]
    before = len(app.slack.opened_views)
    await press(app, parent, "resend_sms")
    view = await confirmation(app, before)
    await confirm(app, view)
    await app.wait_for(lambda: app.bsg.sms_sent_to("380972920289") == 1)
    assert app.bsg.sms_sent_to("380972920284") == 0


async def test_an_export_cut_short_by_a_crash_may_run_again(app, clock):
    parent = await sent(app, clock, UNDELIVERED)
    # What a crash mid-upload leaves: the claim, and no file in the thread.
    stale = app.bot.clock() - timedelta(seconds=400)
    await app.store.claim_thread_action(send_of(parent), "export_csv", user_id="U123", now=stale)
    before = len(app.slack.opened_views)
    await press(app, parent, "export_csv")
    await confirm(app, await confirmation(app, before, priced=False))
    (uploaded,) = await app.wait_for(lambda: app.slack.uploaded_files(CHANNEL))
    assert uploaded["thread_ts"] == parent["ts"]
    # A fresh claim (an export under way) is still respected.
    url = await press(app, parent, "export_csv")
    said = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "already exported" in said[-1]["text"]
