"""BSG refusing a send, whole or per recipient, and BSG answering slowly: what Slack shows."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from bot.domain.models import DeliveryStatus, SendOutcome
from tests.conftest import CHANNEL, USER

SENT, REFUSED = "380972920280", "380972920281"


def private_texts(app, response_url: str | None = None) -> list[str]:
    """Private answers to the sender after the ack: via response_url or chat.postEphemeral."""
    texts = [e["text"] for e in app.slack.ephemerals if e["user"] == USER]
    if response_url is not None:
        texts += [b.get("text", "") for b in app.slack.responses_to(response_url)]
    return texts


def rendered(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


async def test_one_recipient_refused_with_41_is_listed_on_the_parent(app):
    app.bsg.refuse_msisdn(REFUSED, 41)
    await app.command(f"send +{SENT},+{REFUSED} Half of this goes out")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()

    [parent] = app.slack.channel_messages(CHANNEL)
    lines = "\n".join(
        block["text"]["text"] for block in parent["blocks"] if block.get("type") == "section"
    ).splitlines()
    [refused_line] = [line for line in lines if "0281" in line]
    [sent_line] = [line for line in lines if "0280" in line]
    assert "code 41" in refused_line
    assert "sent" in sent_line and "code" not in sent_line
    assert SENT not in rendered(parent) and REFUSED not in rendered(parent)
    assert "+380 ••••• 0281" in refused_line

    send = (await app.store.recent_sends(1))[0]
    assert send.outcome is SendOutcome.PARTIAL
    by_number = {m.msisdn: m for m in await app.store.send_messages(send.id)}
    assert by_number[REFUSED].status is DeliveryStatus.REFUSED
    assert by_number[REFUSED].error_code == 41
    assert by_number[SENT].status is DeliveryStatus.SENT and by_number[SENT].bsg_id
    assert app.bsg.sent_to(SENT) == 1 and app.bsg.sent_to(REFUSED) == 0


async def _refused_whole(app, via: str) -> str:
    """Send through the slash command or the modal; return the private answer BSG's refusal got."""
    url = app.slack.response_url()
    if via == "command":
        response = await app.command(f"send +{SENT},+{REFUSED} Refused", response_url=url)
        assert response.status_code == 200
    else:
        await app.command("", response_url=url)
        await app.wait_for(lambda: app.slack.opened_views)
        values = {"recipients": f"+{SENT} +{REFUSED}", "text": "Refused"}
        response = await app.submit(values, view=app.slack.opened_views[-1])
        assert response.status_code == 200
        assert not response.content or response.json().get("response_action") != "errors"
    await app.wait_for(lambda: any("code" in t for t in private_texts(app, url)))
    await app.settle()
    [answer] = [t for t in private_texts(app, url) if "code" in t]
    return answer


async def _nothing_posted_and_all_refused(app, code: int) -> None:
    assert app.slack.channel_messages(CHANNEL) == []
    send = (await app.store.recent_sends(1))[0]
    assert send.outcome is SendOutcome.REFUSED
    messages = await app.store.send_messages(send.id)
    assert [m.status for m in messages] == [DeliveryStatus.REFUSED] * 2
    assert {m.error_code for m in messages} == {code}
    assert not any(m.bsg_id for m in messages)
    assert app.bsg.messages == {}


async def test_unregistered_sender_45_is_told_privately_and_nothing_posted(app):
    app.bsg.registered_senders = frozenset({"SomeoneElse"})
    answer = await _refused_whole(app, "command")
    assert "code 45" in answer
    assert "sender" in answer.lower() and "regist" in answer.lower()
    await _nothing_posted_and_all_refused(app, 45)


async def test_unregistered_sender_45_from_the_modal_is_told_privately(app):
    app.bsg.registered_senders = frozenset({"SomeoneElse"})
    answer = await _refused_whole(app, "modal")
    assert "code 45" in answer
    await _nothing_posted_and_all_refused(app, 45)


async def test_not_enough_funds_8_is_told_privately_and_nothing_posted(app):
    app.bsg.balance = Decimal(0)
    answer = await _refused_whole(app, "command")
    assert "code 8" in answer
    assert "funds" in answer.lower()
    await _nothing_posted_and_all_refused(app, 8)


async def test_slow_bsg_does_not_slow_the_answer_to_slack(make_bot):
    app = await make_bot(VIBER_BOT_BSG_TIMEOUT=10)
    app.bsg.create_delay = 2.5

    started = time.perf_counter()
    response = await app.command(f"send +{SENT} Slow BSG")
    command_took = time.perf_counter() - started
    await app.command("")
    await app.wait_for(lambda: app.slack.opened_views)
    started = time.perf_counter()
    submitted = await app.submit(
        {"recipients": f"+{REFUSED}", "text": "Slow BSG too"}, view=app.slack.opened_views[-1]
    )
    submit_took = time.perf_counter() - started

    assert response.status_code == 200 and submitted.status_code == 200
    assert command_took < 0.5, command_took
    assert submit_took < 0.5, submit_took
    await app.wait_for(lambda: app.bsg.create_calls == 2)  # BSG has both, and sits on them
    assert app.slack.channel_messages(CHANNEL) == []
    await app.wait_for(lambda: len(app.slack.channel_messages(CHANNEL)) == 2, timeout=10)
    assert app.bsg.create_calls == 2


async def test_status_of_a_refused_message_says_refused_privately(app):
    app.bsg.refuse_msisdn(REFUSED, 41)
    await app.command(f"send +{SENT},+{REFUSED} One is refused")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    send = (await app.store.recent_sends(1))[0]
    [refused] = [m for m in await app.store.send_messages(send.id) if m.msisdn == REFUSED]
    url = app.slack.response_url()
    response = await app.command(f"status {refused.reference}", response_url=url)
    assert response.status_code == 200
    await app.wait_for(lambda: app.slack.responses_to(url))
    [answer] = [b["text"] for b in app.slack.responses_to(url)]
    assert refused.reference in answer
    assert "refused" in answer.lower()
    assert REFUSED in answer  # the sender may see the full number
