"""The send slice through the real HTTP path: signed slash commands and modal submissions."""

from __future__ import annotations

import json

from bot.domain.models import DeliveryStatus, SendOutcome


async def test_slash_send_posts_parent_with_masked_number(app):
    response = await app.command("send +380972920283 Hello from Slack 👋")
    assert response.status_code == 200
    assert "Sending to 1 recipient" in response.text
    parent = await app.wait_for(lambda: app.slack.channel_messages("C123"))
    assert app.bsg.create_calls == 1
    posted = json.dumps(parent[0])
    assert "380972920283" not in posted
    assert "0283" in posted
    send = (await app.store.recent_sends(1))[0]
    assert send.outcome == SendOutcome.SENT
    [message] = await app.store.send_messages(send.id)
    assert message.msisdn == "380972920283"
    assert message.bsg_id
    assert message.status == DeliveryStatus.SENT
