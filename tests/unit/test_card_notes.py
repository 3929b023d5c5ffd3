"""The parent card's notes and buttons, rendered from a real (in-memory) store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.domain.models import MessageContent
from bot.settings import load_settings
from bot.slack.notifier import Notifier
from storage.store import NewRecipient, NewSend, Store
from tests.blockkit import texts, valid_blocks

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def settings():
    return load_settings(
        _env_file=None,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        BSG_API_KEY="k",
        VIBER_BOT_DEFAULT_SENDER="Acme",
    )


async def stored(store: Store, **options) -> int:
    refs = [uuid.uuid4().hex, uuid.uuid4().hex]
    content = MessageContent(text="Hi", sender="Acme")
    send, _ = await store.add_send(
        NewSend(
            channel_id="C1",
            user_id="U1",
            text="Hi",
            sender="Acme",
            options={"content": content.model_dump(mode="json"), **options},
        ),
        [NewRecipient("380972920280", refs[0]), NewRecipient("380972920281", refs[1])],
        now=NOW,
    )
    return send.id


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    opened = Store.memory()
    yield opened
    await opened.close()


async def test_the_estimate_stands_until_bsg_prices_the_send(store: Store) -> None:
    send_id = await stored(store)
    await store.set_send_option(send_id, "estimate", {"amount": "0.04", "currency": "EUR"})
    notifier = Notifier(store=store, settings=settings(), clock=lambda: NOW)
    _, blocks = await notifier.render_parent(send_id)
    valid_blocks(blocks)
    assert "about 0.04 EUR (estimated" in texts(blocks)
    first = (await store.send_messages(send_id))[0]
    await store.record_acceptance(
        first.id,
        bsg_id="1",
        price=Decimal("0.02"),
        currency="EUR",
        now=NOW,
        next_poll_at=NOW,
        expires_at=NOW,
    )
    _, blocks = await notifier.render_parent(send_id)
    shown = texts(blocks)
    assert "estimated" not in shown and "0.02 EUR" in shown


async def test_the_card_has_its_buttons_and_the_retry_link(store: Store) -> None:
    original = await stored(store)
    await store.set_parent_ts(original, "1700000000.000100")
    retry = await stored(store, retry_of=original)
    notifier = Notifier(store=store, settings=settings(), clock=lambda: NOW)
    _, blocks = await notifier.render_parent(retry)
    valid_blocks(blocks)
    assert "Retry of <https://slack.com/archives/C1/p1700000000000100|an earlier send>" in texts(
        blocks
    )
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == [
        "retry_failed",
        "resend_sms",
        "export_csv",
    ]
    assert {e["value"] for e in actions[0]["elements"]} == {str(retry)}
