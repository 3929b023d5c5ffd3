"""Slack's answer goes as soon as a listener acks (commands.ack_first); what follows the ack
runs on in the background: through the running bot, and through Bolt with listeners of our own."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.domain.models import SendOutcome
from commands.ack_first import ack_first

NUMBER = "380972920283"


async def test_a_send_is_answered_while_bsg_still_holds_its_create(app):
    app.bsg.create_delay = 2.0
    started = time.perf_counter()
    response = await app.command(f"send +{NUMBER} Your order has shipped")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert "Sending to 1 recipient" in response.json()["text"]
    assert elapsed < 1.0
    # The create went out after the answer, once.
    await app.wait_for(lambda: app.bsg.sent_to(NUMBER) == 1)
    send = (await app.store.recent_sends(1))[0]
    await app.wait_for(lambda: app.bsg.create_calls == 1)
    assert (await app.store.get_send(send.id)).request_json


async def test_every_listener_of_the_app_answers_at_its_ack(app):
    # Bolt runs with process_before_response=True: a listener registered without ack_first
    # would hold Slack's answer until its work after the ack (BSG, Slack calls) was done.
    listeners = app.bot.bolt._async_listeners  # Bolt has no public list of them
    assert len(listeners) >= 9
    assert all(getattr(li.ack_function, "answers_at_ack", False) for li in listeners)


# ---------------------------------------------------------------- Bolt, listeners of our own


async def _authorize(**_: Any) -> AuthorizeResult:
    return AuthorizeResult(
        enterprise_id=None, team_id="T1", bot_token="xoxb-test", bot_id="B1", bot_user_id="UB1"
    )


def _bolt() -> AsyncApp:
    return AsyncApp(
        authorize=_authorize,
        request_verification_enabled=False,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )


def _command(text: str = "go") -> AsyncBoltRequest:
    body = urlencode(
        {
            "command": "/t",
            "text": text,
            "team_id": "T1",
            "user_id": "U1",
            "channel_id": "C1",
            "trigger_id": "1.2.3",
            "response_url": "http://127.0.0.1:9/never",
        }
    )
    return AsyncBoltRequest(
        body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}
    )


async def test_bolt_answers_at_the_ack_and_the_rest_runs_on():
    bolt = _bolt()
    release = asyncio.Event()
    finished = asyncio.Event()

    @bolt.command("/t")
    @ack_first
    async def listener(ack, command):
        await ack(text=f"got {command['text']}")
        await release.wait()
        finished.set()

    response = await asyncio.wait_for(bolt.async_dispatch(_command()), 1.0)
    assert response.status == 200 and response.body == "got go"
    assert not finished.is_set()
    release.set()
    await asyncio.wait_for(finished.wait(), 1.0)


async def test_a_failure_before_the_ack_is_bolts_to_answer():
    bolt = _bolt()
    seen: list[str] = []

    @bolt.error
    async def on_error(error: Exception) -> None:
        seen.append(str(error))

    @bolt.command("/t")
    @ack_first
    async def listener(ack):
        raise ValueError("before the ack")

    response = await bolt.async_dispatch(_command())
    assert response.status == 500
    assert seen == ["before the ack"]


async def test_a_failure_after_the_ack_is_logged(caplog: pytest.LogCaptureFixture):
    bolt = _bolt()
    failed = asyncio.Event()

    @bolt.command("/t")
    @ack_first
    async def listener(ack):
        await ack()
        failed.set()
        raise ValueError("after the ack")

    with caplog.at_level(logging.ERROR, logger="commands.ack_first"):
        response = await bolt.async_dispatch(_command())
        assert response.status == 200
        await asyncio.wait_for(failed.wait(), 1.0)
        await asyncio.sleep(0.05)
    assert any(
        "listener failed: ValueError: after the ack" in r.getMessage() for r in caplog.records
    )


async def test_a_listener_that_never_acks_is_answered_as_bolt_would_when_it_ends():
    bolt = _bolt()

    @bolt.command("/t")
    @ack_first
    async def listener(ack):
        await asyncio.sleep(0.05)

    started = time.perf_counter()
    response = await bolt.async_dispatch(_command())
    assert response.status == 404  # Bolt's answer for a listener that did not ack
    assert 0.04 < time.perf_counter() - started < 1.0  # not Slack's whole 3 s


async def test_sends_arriving_while_bsg_holds_a_create_share_the_next_one(make_bot):
    # The first send's create is under way for a while; the four that follow while it is are
    # carried by one create between them (bot/bsg/coalesce.py), each reading its own answer.
    app = await make_bot(VIBER_BOT_BSG_CREATE_LINGER=0.3)
    app.bsg.create_delay = 0.6
    numbers = [f"38097292{index:04d}" for index in range(5)]
    assert (await app.command(f"send +{numbers[0]} First")).status_code == 200
    await app.wait_for(lambda: app.bsg.create_calls == 1)
    answers = await asyncio.gather(
        *(app.command(f"send +{number} Order for {number}") for number in numbers[1:])
    )
    assert all("Sending to 1 recipient" in answer.json()["text"] for answer in answers)

    async def all_sent() -> bool:
        sends = await app.store.recent_sends(10)
        return len(sends) == 5 and all(s.outcome == SendOutcome.SENT for s in sends)

    await app.wait_for(all_sent)
    assert app.bsg.create_calls == 2
    shared = app.bsg.create_bodies[1]
    assert sorted(item["text"] for item in shared["messages"]) == [
        f"Order for {number}" for number in numbers[1:]
    ]
    assert all(app.bsg.sent_to(number) == 1 for number in numbers)
    # Each send holds BSG's id of its own recipient's message, text and all.
    for send in await app.store.recent_sends(10):
        [message] = await app.store.send_messages(send.id)
        at_bsg = app.bsg.message(message.bsg_id)
        assert at_bsg.msisdn == message.msisdn and at_bsg.reference == message.reference
        assert at_bsg.text == send.text


async def test_the_bot_asks_slack_who_it_is_at_start_not_on_the_commands(make_bot, slack):
    app = await make_bot()
    await app.wait_for(lambda: len(slack.calls_to("auth.test")) == 1)
    answers = await asyncio.gather(*(app.command(f"send +38097292000{n} Hi") for n in range(3)))
    assert all("Sending to 1 recipient" in answer.json()["text"] for answer in answers)
    assert len(slack.calls_to("auth.test")) == 1


async def test_a_failed_auth_test_at_start_is_asked_again_by_the_first_command(
    make_bot, slack, caplog: pytest.LogCaptureFixture
):
    slack.fail_next("auth.test", status=500)
    app = await make_bot()
    await app.wait_for(lambda: "auth.test at start failed" in caplog.text)
    answer = await app.command("send +380972920009 Hi")
    assert "Sending to 1 recipient" in answer.json()["text"]
    assert len(slack.calls_to("auth.test")) == 2
