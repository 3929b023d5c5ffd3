"""Never lose or double a message: retries, reconciliation, duplicate submissions, the outbox."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal

from bot.domain.models import DeliveryStatus, SendOutcome
from tests import slack_requests
from tests.conftest import CHANNEL, SIGNING_SECRET
from tests.slack_requests import state_value
from tests.waiting import wait_until

NUMBER = "+380972920280"  # lifecycle 0: sent, delivered at 5 s, read at 30 s
MSISDN = NUMBER.removeprefix("+")
UNANSWERED = "BSG did not answer"


async def assert_sent_once(app, bsg) -> None:
    """Once things settled: one send stored, one create at BSG, one parent in the channel."""
    await app.sweeps_after(2)
    await app.settle()
    assert len(await app.store.recent_sends(10)) == 1
    assert bsg.create_calls == 1 and bsg.sent_to(MSISDN) == 1
    assert len(app.slack.channel_messages(CHANNEL)) == 1


def modal_values(recipients: str, text: str) -> dict:
    return {
        "recipients": state_value("plain_text_input", recipients),
        "text": state_value("plain_text_input", text),
        "sender": state_value("plain_text_input", "Acme"),
    }


def modal_submission(view_id: str, recipients: str = NUMBER, text: str = "Hello"):
    return slack_requests.view_submission(
        SIGNING_SECRET,
        values=modal_values(recipients, text),
        view_id=view_id,
        private_metadata=json.dumps({"channel_id": CHANNEL}),
    )


def private_notes(app) -> list[str]:
    """Everything said privately to the sender: response_url posts and chat.postEphemeral."""
    said = [body.get("text", "") for body in app.slack.responses]
    said += [call.get("text", "") for call in app.slack.calls_to("chat.postEphemeral")]
    return said


async def only_message(app):
    send = (await app.store.recent_sends(1))[0]
    [message] = await app.store.send_messages(send.id)
    return send, message


# ---------------------------------------------------------------- 1. create retries


async def test_create_failing_before_bsg_took_it_is_retried_with_the_same_reference(make_bot, bsg):
    app = await make_bot(VIBER_BOT_BSG_RETRIES=1)
    bsg.fail_next("/viber/create", 1, 503)
    await app.command(f"send {NUMBER} Retried once")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    send, message = await only_message(app)
    assert bsg.create_calls == 2
    assert bsg.create_references == [[message.reference]] * 2
    assert bsg.sent_to(MSISDN) == 1
    assert message.bsg_id == bsg.message(message.reference).id
    assert send.outcome == SendOutcome.SENT


async def test_create_timing_out_is_retried_with_the_same_reference(make_bot, bsg):
    app = await make_bot(VIBER_BOT_BSG_TIMEOUT=0.3, VIBER_BOT_BSG_RETRIES=1)
    bsg.fail_next("/viber/create", 1, "timeout")  # held, never processed
    await app.command(f"send {NUMBER} After a timeout")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    _, message = await only_message(app)
    assert bsg.create_references == [[message.reference]] * 2
    assert bsg.sent_to(MSISDN) == 1
    assert message.bsg_id == bsg.message(message.reference).id


async def test_answer_lost_after_bsg_took_it_gets_43_and_is_looked_up_by_reference(make_bot, bsg):
    app = await make_bot(VIBER_BOT_BSG_RETRIES=1)
    bsg.fail_next("/viber/create", 1, 500, after_processing=True)
    await app.command(f"send {NUMBER} Taken but unanswered")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    send, message = await only_message(app)
    assert bsg.create_calls == 2
    assert bsg.create_references == [[message.reference]] * 2
    assert bsg.status_by_reference_calls == 1  # the 43 was resolved by reference
    assert bsg.sent_to(MSISDN) == 1
    at_bsg = bsg.message(message.reference)
    assert message.bsg_id == at_bsg.id
    assert message.price == Decimal("0.02") and message.currency == "EUR"
    assert message.status == DeliveryStatus.SENT
    assert send.outcome == SendOutcome.SENT
    assert len(app.slack.channel_messages(CHANNEL)) == 1
    assert len(app.slack.calls_to("chat.postMessage")) == 1


# ---------------------------------------------------------------- 2. reconciliation


async def test_unanswered_create_is_adopted_by_reference_after_the_grace_period(
    make_bot, bsg, clock
):
    app = await make_bot(
        VIBER_BOT_BSG_RETRIES=0, VIBER_BOT_BSG_TIMEOUT=0.3, VIBER_BOT_RECONCILE_GRACE=30
    )
    bsg.create_delay = 5.0  # BSG records it, then holds the answer past the client's timeout
    await app.command(f"send {NUMBER} Held at BSG")
    await app.wait_for(lambda: any(UNANSWERED in text for text in private_notes(app)))
    send, message = await only_message(app)
    assert message.bsg_id is None and message.status == DeliveryStatus.PENDING
    assert send.outcome == SendOutcome.PENDING
    await app.sweeps_after(2)
    assert app.slack.channel_messages(CHANNEL) == []  # not before the grace period
    assert bsg.status_by_reference_calls == 0

    clock.advance(31)
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    send, message = await only_message(app)
    at_bsg = bsg.message(message.reference)
    assert message.bsg_id == at_bsg.id
    assert message.price == Decimal("0.02") and message.currency == "EUR"
    assert message.status != DeliveryStatus.PENDING
    assert send.outcome == SendOutcome.SENT
    assert bsg.create_calls == 1 and bsg.sent_to(MSISDN) == 1
    # tracked from now on like any other message (31 s after BSG took it, it was read)
    await app.wait_for(lambda: any("Read" in r for r in app.replies()))
    await app.sweeps_after(2)
    await app.settle()
    assert len(app.slack.channel_messages(CHANNEL)) == 1
    assert bsg.create_calls == 1


async def test_batch_left_unanswered_is_adopted_into_the_parent_already_posted(
    make_bot, bsg, clock
):
    app = await make_bot(
        VIBER_BOT_BSG_RETRIES=0, VIBER_BOT_BSG_BATCH_SIZE=1, VIBER_BOT_RECONCILE_GRACE=30
    )
    bsg.fail_next("/viber/create", 1, 500, after_processing=True)  # first batch: answer lost
    await app.command("send +380972920285,+380972920282 Two batches")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.wait_for(lambda: any("about 1 of the recipients" in t for t in private_notes(app)))
    send = (await app.store.recent_sends(1))[0]
    # Whichever batch reached BSG first lost its answer (the loop decides which one that is).
    [lost] = [m for m in await app.store.send_messages(send.id) if m.bsg_id is None]
    [answered] = [m for m in await app.store.send_messages(send.id) if m.bsg_id is not None]
    assert answered.bsg_id == bsg.message(answered.reference).id

    clock.advance(31)

    async def condition() -> object:
        return all(m.bsg_id for m in await app.store.send_messages(send.id))

    await app.wait_for(condition)
    await app.settle()
    adopted = await app.store.get_message(lost.id)
    assert adopted.bsg_id == bsg.message(adopted.reference).id
    assert adopted.price == Decimal("0.02")
    assert len(app.slack.channel_messages(CHANNEL)) == 1  # updated, never posted again
    assert app.slack.calls_to("chat.update")
    assert bsg.create_calls == 2
    assert bsg.sent_to("380972920285") == 1 and bsg.sent_to("380972920282") == 1


async def test_create_bsg_never_got_is_marked_not_sent_and_the_sender_told(make_bot, bsg, clock):
    app = await make_bot(VIBER_BOT_BSG_RETRIES=1, VIBER_BOT_RECONCILE_GRACE=30)
    bsg.fail_next("/viber/create", 1000, 500)  # every attempt refused before processing
    await app.command(f"send {NUMBER} Never arrives")
    await app.wait_for(lambda: any(UNANSWERED in text for text in private_notes(app)))
    assert bsg.create_calls == 2
    clock.advance(31)
    await app.wait_for(lambda: any("not sent" in text for text in private_notes(app)))
    await app.settle()
    send, message = await only_message(app)
    assert message.status == DeliveryStatus.NOT_SENT and message.final
    assert send.outcome == SendOutcome.NOT_SENT
    assert app.slack.channel_messages(CHANNEL) == []
    assert bsg.sent_to(MSISDN) == 0
    # settled for good: no further look-ups, no second create
    lookups = bsg.status_by_reference_calls
    clock.advance(60)
    await app.sweeps_after(3)
    assert bsg.status_by_reference_calls == lookups
    assert bsg.create_calls == 2
    assert app.slack.channel_messages(CHANNEL) == []


async def test_batch_bsg_never_got_beside_one_it_took_is_told_privately(make_bot, bsg, clock):
    app = await make_bot(
        VIBER_BOT_BSG_RETRIES=0, VIBER_BOT_BSG_BATCH_SIZE=1, VIBER_BOT_RECONCILE_GRACE=30
    )
    bsg.fail_next("/viber/create", 1, 500)  # one batch refused before BSG recorded it
    await app.command("send +380972920285,+380972920282 Two batches")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    clock.advance(31)
    notes = await app.wait_for(lambda: [t for t in private_notes(app) if "were *not sent*" in t])
    send = (await app.store.recent_sends(1))[0]
    statuses = sorted(m.status for m in await app.store.send_messages(send.id))
    assert DeliveryStatus.NOT_SENT in statuses and len(statuses) == 2
    [missing] = [
        m for m in await app.store.send_messages(send.id) if m.status == DeliveryStatus.NOT_SENT
    ]
    assert missing.msisdn in notes[0]
    assert bsg.sent_to(missing.msisdn) == 0
    assert len(app.slack.channel_messages(CHANNEL)) == 1


# ---------------------------------------------------------------- 3. duplicate submissions


async def test_view_submission_delivered_twice_sends_once(app, bsg):
    first = modal_submission("VDUPLICATE1")
    response = await app.post(first)
    assert response.status_code == 200
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    # Slack's retry: the very same body, signed again with a fresh timestamp.
    again = slack_requests.SlackRequest(first.body, slack_requests.sign(SIGNING_SECRET, first.body))
    response = await app.post(again)
    assert response.status_code == 200
    await assert_sent_once(app, bsg)


async def test_double_click_on_send_sends_once(app, bsg):
    responses = await asyncio.gather(
        app.post(modal_submission("VDOUBLECLICK")), app.post(modal_submission("VDOUBLECLICK"))
    )
    assert [r.status_code for r in responses] == [200, 200]
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await assert_sent_once(app, bsg)


async def test_slash_command_delivered_twice_sends_once(app, bsg):
    trigger = slack_requests.fresh_trigger_id()
    first = await app.command(f"send {NUMBER} Once only", trigger_id=trigger)
    second = await app.command(f"send {NUMBER} Once only", trigger_id=trigger)
    assert first.status_code == 200 and second.status_code == 200
    assert "already received" in second.text
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await assert_sent_once(app, bsg)


# ---------------------------------------------------------------- 4. retries with backoff


async def test_failed_status_reads_are_retried_and_logged(app, bsg, clock, caplog):
    caplog.set_level(logging.WARNING, logger="bot.bsg.client")
    await app.command(f"send {NUMBER} Polled through errors")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    [message] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)
    bsg.fail_next(f"/viber/{message.bsg_id}", 1, 500)
    calls = bsg.status_by_id_calls
    clock.advance(6)
    await app.wait_for(lambda: any("Delivered" in r for r in app.replies()))
    assert bsg.status_by_id_calls >= calls + 2
    retried = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert any("HTTP 500" in line and f"/viber/{message.bsg_id}" in line for line in retried)


async def test_slack_5xx_is_retried_and_the_post_made_once(app, bsg, caplog):
    caplog.set_level(logging.INFO, logger="bot.slack.outbox")
    app.slack.fail_next("chat.postMessage", 1, status=503)
    await app.command(f"send {NUMBER} Slack hiccups")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    assert len(app.slack.channel_messages(CHANNEL)) == 1
    assert len(app.slack.calls_to("chat.postMessage")) == 2
    assert any("retry 1 after chat.postMessage" in r.getMessage() for r in caplog.records)


async def test_bsg_outage_keeps_healthz_200_degraded_then_recovers(app, bsg, clock):
    await app.command(f"send {NUMBER} Through an outage")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    bsg.fail_next("/viber/", 100_000, 503)
    clock.advance(6)

    async def healthz() -> tuple[int, dict]:
        response = await app.http.get(f"{app.url}/healthz")
        return response.status_code, response.json()

    async def degraded() -> bool:
        return (await healthz())[1].get("bsg") == "degraded"

    await wait_until(degraded, 10, "healthz reports BSG degraded")
    status, body = await healthz()
    assert status == 200 and body["bsg"] == "degraded" and body["database"] == "ok"
    clock.advance(10)
    await app.sweeps_after(2)
    assert (await healthz())[0] == 200
    assert app.replies() == []

    bsg.clear_failures()
    clock.advance(60)
    await app.wait_for(lambda: app.replies(), timeout=15)
    status, body = await healthz()
    assert status == 200 and body["bsg"] == "ok" and body["status"] == "ok"


# ---------------------------------------------------------------- 5. outbox de-duplication


async def test_parent_whose_answer_was_lost_is_found_by_metadata_not_reposted(app, bsg):
    app.slack.drop_response_after_post(1)
    await app.command(f"send {NUMBER} Answer lost")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    assert len(app.slack.channel_messages(CHANNEL)) == 1
    assert len(app.slack.calls_to("chat.postMessage")) == 1
    assert app.slack.calls_to("conversations.history")
    send = (await app.store.recent_sends(1))[0]
    assert send.parent_ts == app.parent()["ts"]
    [parent_row] = [i for i in await app.store.outbox_items(send.id) if i.kind == "parent"]
    assert parent_row.state == "done" and parent_row.posted_ts == send.parent_ts


async def test_reply_whose_answer_was_lost_is_found_in_the_thread_not_reposted(app, bsg, clock):
    await app.command(f"send {NUMBER} Reply answer lost")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    app.slack.drop_response_after_post(1)
    clock.advance(6)
    await app.wait_for(lambda: app.replies())
    await app.settle()
    await app.sweeps_after(2)
    await app.settle()
    replies = app.replies()
    assert len(replies) == 1 and "Delivered" in replies[0]
    assert app.slack.calls_to("conversations.replies")
    assert len(app.slack.calls_to("chat.postMessage")) == 2  # parent + the one reply


async def test_lost_answer_then_rate_limited_lookup_still_posts_once(app, bsg):
    app.slack.drop_response_after_post(1)
    app.slack.fail_next("conversations.history", 1)  # 429, Retry-After: 1
    await app.command(f"send {NUMBER} Lookup rate limited")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    assert len(app.slack.channel_messages(CHANNEL)) == 1
    assert len(app.slack.calls_to("conversations.history")) == 2
    assert len(app.slack.calls_to("chat.postMessage")) == 1
    assert (await app.store.recent_sends(1))[0].parent_ts == app.parent()["ts"]


async def test_lookup_slack_refuses_does_not_lose_the_thread(app, bsg, clock, caplog):
    # chat:write.public lets the bot post where it is no member; history then says
    # not_in_channel. Unable to look, the bot posts again rather than lose the parent.
    caplog.set_level(logging.WARNING, logger="bot.slack.outbox")
    app.slack.drop_response_after_post(1)
    app.slack.fail_next("conversations.history", 1, error="not_in_channel")
    await app.command(f"send {NUMBER} Cannot look back")

    async def condition() -> object:
        return (await app.store.recent_sends(1))[0].parent_ts

    await app.wait_for(condition)
    await app.settle()
    send = (await app.store.recent_sends(1))[0]
    assert any("cannot look for" in r.getMessage() for r in caplog.records)
    clock.advance(6)
    await app.wait_for(lambda: app.slack.thread(CHANNEL, send.parent_ts))
    assert "Delivered" in app.slack.thread(CHANNEL, send.parent_ts)[0]["text"]
