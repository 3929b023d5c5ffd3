"""A sweep records its answers a page at a time while it asks: what must still hold then."""

from __future__ import annotations

import pytest

import bot.tracking.poller as poller_module
from bot.domain.models import DeliveryStatus
from bot.slack.notifier import Notifier
from storage.store import Store


async def send_fifty(app) -> None:
    numbers = ",".join(f"+3809729{i:03d}02" for i in range(50))  # lifecycle 2: delivered at 5 s
    response = await app.command(f"send {numbers} Big announcement")
    assert "50 recipients" in response.text
    await app.wait_for(lambda: app.slack.channel_messages("C123"))


async def test_a_send_spread_over_many_pages_still_gets_one_summary_reply(
    make_bot, clock, monkeypatch
):
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=50)
    monkeypatch.setattr(poller_module, "LOAD_PAGE", 7)  # 50 messages: 8 loads
    app.bot.poller.record_page = 3  # and a transaction for every few answers
    transactions: list[int] = []
    record_polls = Store.record_polls

    # On the class: a page is recorded through a copy of the store bound to its one step.
    async def counted(store, polls, *, now):
        transactions.append(len(polls))
        return await record_polls(store, polls, now=now)

    monkeypatch.setattr(Store, "record_polls", counted)
    await send_fifty(app)
    clock.advance(6)
    await app.wait_for(lambda: len(app.replies()) >= 1)
    await app.sweeps_after(3)
    await app.settle()
    replies = app.replies()
    assert len(replies) == 1
    assert "Delivered (50)" in replies[0]
    # The send's 50 answers went into one transaction: a send is never split between pages.
    assert 50 in transactions
    counts = await app.store.status_counts((await app.store.recent_sends(1))[0].id)
    assert counts == {DeliveryStatus.DELIVERED: 50}


async def test_a_change_is_never_stored_without_what_announces_it(make_bot, clock, monkeypatch):
    """The announcement fails: the page's status changes roll back with it, and the next
    sweep records and announces them."""
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=50)
    app.bot.poller.record_page = 10
    announce = Notifier.announce
    failing = True
    refused: list[int] = []

    # On the class: a page is announced through a copy of the notifier bound to its step.
    async def flaky(notifier, changes, *, now):
        if failing and changes:
            refused.append(len(changes))
            raise RuntimeError("the outbox insert failed")
        return await announce(notifier, changes, now=now)

    monkeypatch.setattr(Notifier, "announce", flaky)
    await send_fifty(app)
    send_id = (await app.store.recent_sends(1))[0].id
    clock.advance(6)
    await app.wait_for(lambda: refused)
    messages = await app.store.send_messages(send_id)
    assert {m.status for m in messages} == {DeliveryStatus.SENT}
    for message in messages:
        assert [e.status for e in await app.store.history(message.id)] == [DeliveryStatus.SENT]
    failing = False
    clock.advance(20)
    await app.wait_for(lambda: len(app.replies()) >= 1)
    await app.settle()
    assert len(app.replies()) == 1
    assert "Delivered (50)" in app.replies()[0]


@pytest.mark.parametrize("page", [1, 4, 500])
async def test_every_due_message_is_asked_about_once_a_look(make_bot, clock, monkeypatch, page):
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=50)
    monkeypatch.setattr(poller_module, "LOAD_PAGE", page)
    await send_fifty(app)
    send_id = (await app.store.recent_sends(1))[0].id
    app.bsg.reset_counters()
    clock.advance(16)  # every message due
    await app.sweeps_after(2)
    messages = await app.store.send_messages(send_id)
    assert all(m.poll_count >= 1 for m in messages)
    # One GET for every recorded look: none asked twice, none asked and dropped.
    assert app.bsg.status_by_id_calls == sum(m.poll_count for m in messages)


async def test_a_page_of_more_sends_than_are_remembered_is_recorded_whole(
    make_bot, clock, monkeypatch
):
    """The poller remembers a bounded number of sends' SMS wishes: a page with more sends than
    that is still recorded whole (no send of the page is forgotten while it is read)."""
    monkeypatch.setattr(poller_module, "_KNOWN_SENDS", 1)
    app = await make_bot()
    for number in ("+380972920182", "+380972920282"):  # lifecycle 2: delivered at 5 s
        await app.command(f"send {number} Hello")
    await app.wait_for(lambda: len(app.slack.channel_messages("C123")) == 2)
    clock.advance(6)
    for parent in (0, 1):  # each send's thread tells its delivery
        await app.wait_for(lambda p=parent: any("Delivered" in r for r in app.replies(index=p)))
