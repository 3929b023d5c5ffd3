"""Who may send, where, how many at once and how many a day; every decision is audited.

VIBER_BOT_ALLOWED_USERS, VIBER_BOT_ALLOWED_CHANNELS, VIBER_BOT_MAX_RECIPIENTS and
VIBER_BOT_DAILY_QUOTA, through signed slash commands and modal submissions. A refusal is
answered privately (the slash command's ephemeral ack, or the modal's `recipients` block),
nothing reaches BSG or the channel, and the `audit` table records who, what, when and outcome.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.domain.models import SendOutcome
from tests.conftest import CHANNEL, USER, FakeClock, RunningBot
from tests.slack_requests import state_value

OTHER_USER = "U456"
STRANGER = "U999"
OTHER_CHANNEL = "C777"


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+3809729{i:05d}" for i in range(start, start + count)]


async def slash(
    app: RunningBot, recipients: list[str], *, user: str = USER, channel: str = CHANNEL
):
    response = await app.command(
        f"send {','.join(recipients)} Access check", user_id=user, channel_id=channel
    )
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    return answer["text"]


async def modal(
    app: RunningBot, recipients: list[str], *, user: str = USER, channel: str = CHANNEL
) -> dict[str, Any]:
    """The submission's ack body ({} when accepted)."""
    values = {
        "recipients": state_value("plain_text_input", "\n".join(recipients)),
        "text": state_value("plain_text_input", "Access check"),
        "sender": state_value("plain_text_input", "Acme"),
    }
    response = await app.submit(
        values, user_id=user, private_metadata=json.dumps({"channel_id": channel})
    )
    assert response.status_code == 200
    return response.json() if response.text else {}


async def delivered(app: RunningBot, sends_before: int) -> None:
    """Wait until the send made after `sends_before` sends is accepted by BSG and its parent
    is in the channel."""

    async def stored() -> bool:
        return len(await app.store.recent_sends(1_000_000)) == sends_before + 1

    await app.wait_for(stored)
    send = (await app.store.recent_sends(1))[0]

    async def condition() -> object:
        # Its parent posted too: the checks that follow count the channel's posts.
        stored_send = await app.store.get_send(send.id)
        return stored_send.outcome == SendOutcome.SENT and stored_send.parent_ts is not None

    await app.wait_for(condition)


async def audit_rows(app: RunningBot, **match: Any) -> list[dict[str, Any]]:
    rows = await app.store.audit_log(1000)
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


async def assert_well_formed(app: RunningBot, clock: FakeClock) -> None:
    """Every audit row says who, what, when and with what outcome."""
    rows = await app.store.audit_log(1000)
    assert rows
    for row in rows:
        assert row["user_id"] and row["channel_id"] and row["action"] and row["outcome"]
        at = datetime.fromisoformat(row["at"])
        assert abs((at - clock()).total_seconds()) < 3 * 86400
        assert isinstance(row["detail"], dict)


async def nothing_went_out(app: RunningBot, sends: int) -> None:
    """Still only `sends` sends: no more stored, asked of BSG or posted in the channel."""
    assert len(await app.store.recent_sends(1_000_000)) == sends
    assert app.bsg.create_calls == sends
    assert len(app.slack.calls_to("chat.postMessage")) == sends


def pin_to_midday(clock: FakeClock) -> None:
    """Keep a test's sends on one UTC day, whatever the time it runs."""
    now = clock()
    clock.offset += now.replace(hour=12, minute=0, second=0, microsecond=0) - now


# ---------------------------------------------------------------------------- users


async def test_only_listed_users_may_send(make_bot, clock):
    app = await make_bot(VIBER_BOT_ALLOWED_USERS=f"U000, {USER}")
    answer = await slash(app, numbers(1), user=STRANGER)
    assert "Nothing was sent" in answer and "not on the list" in answer
    errors = (await modal(app, numbers(1), user=STRANGER))["errors"]
    assert set(errors) == {"recipients"} and "not on the list" in errors["recipients"]
    await nothing_went_out(app, 0)
    refused = await audit_rows(app, user_id=STRANGER, action="refused", outcome="denied")
    assert len(refused) == 2
    assert all(r["detail"]["reason"] == "user" for r in refused)

    assert "Sending to 1 recipient" in await slash(app, numbers(1))
    await delivered(app, 0)
    assert await modal(app, numbers(1, start=1)) == {}
    await delivered(app, 1)
    assert app.bsg.create_calls == 2
    await app.wait_for(lambda: len(app.slack.channel_messages(CHANNEL)) == 2)
    sent = await audit_rows(app, user_id=USER, action="send", outcome="sent")
    assert len(sent) == 2
    submitted = await audit_rows(app, user_id=USER, action="send", outcome="submitted")
    assert {r["detail"]["source"] for r in submitted} == {"command", "modal"}
    assert all(r["send_id"] for r in sent + submitted)
    await assert_well_formed(app, clock)


# ------------------------------------------------------------------------- channels


async def test_only_listed_channels_may_send(make_bot, clock):
    app = await make_bot(VIBER_BOT_ALLOWED_CHANNELS=OTHER_CHANNEL)
    answer = await slash(app, numbers(1))
    assert "Nothing was sent" in answer and "cannot be sent from this channel" in answer
    errors = (await modal(app, numbers(1)))["errors"]
    assert "cannot be sent from this channel" in errors["recipients"]
    await nothing_went_out(app, 0)
    refused = await audit_rows(app, action="refused", channel_id=CHANNEL)
    assert len(refused) == 2 and {r["user_id"] for r in refused} == {USER}

    assert "Sending" in await slash(app, numbers(1), channel=OTHER_CHANNEL)
    await delivered(app, 0)
    assert await modal(app, numbers(1, start=1), channel=OTHER_CHANNEL) == {}
    await delivered(app, 1)
    await app.wait_for(lambda: len(app.slack.channel_messages(OTHER_CHANNEL)) == 2)
    assert app.slack.channel_messages(CHANNEL) == []
    assert len(await audit_rows(app, action="send", outcome="sent", channel_id=OTHER_CHANNEL)) == 2
    await assert_well_formed(app, clock)


# ------------------------------------------------------------------ recipients per send


async def test_default_limit_is_100_recipients_per_send(make_bot, clock):
    # Past the review step's threshold, so that the limit itself is what is tested here.
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=100)
    over = numbers(101)
    answer = await slash(app, over)
    assert "101 recipients is more than the 100 allowed" in answer
    errors = (await modal(app, over))["errors"]
    assert set(errors) == {"recipients"} and "100 allowed" in errors["recipients"]
    await nothing_went_out(app, 0)
    refused = await audit_rows(app, action="refused", outcome="denied")
    assert len(refused) == 2 and all(r["detail"]["recipients"] == 101 for r in refused)

    assert "Sending to 100 recipients" in await slash(app, numbers(100))
    await delivered(app, 0)
    [submitted] = await audit_rows(app, action="send", outcome="submitted")
    assert submitted["detail"]["recipients"] == 100
    await assert_well_formed(app, clock)


async def test_a_lower_limit_counts_distinct_numbers(make_bot):
    app = await make_bot(VIBER_BOT_MAX_RECIPIENTS=2)
    # the same number three ways is one recipient
    assert "Sending to 1 recipient" in await slash(
        app, ["+380972920283", "00380972920283", "380972920283"]
    )
    await delivered(app, 0)
    errors = (await modal(app, numbers(3)))["errors"]
    assert "3 recipients is more than the 2 allowed" in errors["recipients"]
    assert app.bsg.create_calls == 1


# ---------------------------------------------------------------------- daily quota


async def test_daily_quota_per_user(make_bot, clock):
    pin_to_midday(clock)
    app = await make_bot(VIBER_BOT_DAILY_QUOTA=3)
    assert "Sending to 2 recipients" in await slash(app, numbers(2))
    await delivered(app, 0)

    answer = await slash(app, numbers(2, start=10))
    assert "Nothing was sent" in answer
    assert "daily quota of 3" in answer and "2 used today, 1 left" in answer
    errors = (await modal(app, numbers(2, start=10)))["errors"]
    assert set(errors) == {"recipients"} and "quota" in errors["recipients"]
    await nothing_went_out(app, 1)

    # another user has a quota of their own
    assert "Sending to 3 recipients" in await slash(app, numbers(3, start=20), user=OTHER_USER)
    await delivered(app, 1)
    # what is left is still usable, to the last recipient
    assert await modal(app, numbers(1, start=30)) == {}
    await delivered(app, 2)
    assert "0 left" in await slash(app, numbers(1, start=40))
    assert app.bsg.create_calls == 3

    hits = await audit_rows(app, action="quota", outcome="denied")
    assert len(hits) == 3 and {r["user_id"] for r in hits} == {USER}
    assert all(r["detail"]["recipients"] in (1, 2) for r in hits)
    assert len(await audit_rows(app, action="send", outcome="sent", user_id=USER)) == 2
    assert len(await audit_rows(app, action="send", outcome="sent", user_id=OTHER_USER)) == 1

    # the quota is per UTC day
    clock.advance(24 * 3600)
    assert "Sending to 3 recipients" in await slash(app, numbers(3, start=50))
    await delivered(app, 3)
    await assert_well_formed(app, clock)


async def test_recipients_bsg_refused_do_not_use_up_the_quota(make_bot, bsg, clock):
    pin_to_midday(clock)
    bsg.registered_senders = frozenset({"Acme"})
    app = await make_bot(VIBER_BOT_DAILY_QUOTA=2)
    values = {
        "recipients": state_value("plain_text_input", ",".join(numbers(2))),
        "text": state_value("plain_text_input", "Unregistered sender"),
        "sender": state_value("plain_text_input", "Nobody"),
    }
    response = await app.submit(values, private_metadata=json.dumps({"channel_id": CHANNEL}))
    assert response.status_code == 200 and not response.text.strip("{}")

    async def condition() -> object:
        return (await app.store.recent_sends(1))[0].outcome == SendOutcome.REFUSED

    await app.wait_for(condition)
    [refusal] = await audit_rows(app, action="send", outcome="refused")
    assert refusal["detail"]["code"] == 45
    # BSG sent nothing, so both recipients are still available today
    assert "Sending to 2 recipients" in await slash(app, numbers(2, start=5))
    await delivered(app, 1)
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    [parent] = app.slack.channel_messages(CHANNEL)  # the refused send posted nothing
    assert "Access check" in parent["text"]


async def test_status_is_for_allowed_people_and_full_numbers_only_for_the_sender(make_bot):
    app = await make_bot(VIBER_BOT_ALLOWED_USERS="U123,UOTHER")
    await app.command("send +380972920280 Secret customer")
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    [message] = await app.store.send_messages((await app.store.recent_sends(1))[0].id)

    outsider = await app.command(f"status {message.reference}", user_id="UOUTSIDER")
    assert "not on the list" in outsider.text
    assert "380972920280" not in outsider.text

    url = app.slack.response_url()
    await app.command(f"status {message.reference}", user_id="UOTHER", response_url=url)
    [answer] = await app.wait_for(
        lambda: [r for r in app.slack.responses_to(url) if "reference" in r.get("text", "")]
    )
    assert "380972920280" not in answer["text"] and "0280" in answer["text"]

    url = app.slack.response_url()
    await app.command(f"status {message.reference}", user_id="U123", response_url=url)
    [answer] = await app.wait_for(
        lambda: [r for r in app.slack.responses_to(url) if "reference" in r.get("text", "")]
    )
    assert "380972920280" in answer["text"]


async def test_sending_from_a_direct_message_is_refused_with_a_reason(app):
    response = await app.command("send +380972920280 From a DM", channel_id="D0123")
    assert "not a direct message" in response.text
    assert app.bsg.create_calls == 0
