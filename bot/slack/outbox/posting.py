"""Posting one outbox row of each kind once: a send's parent, a thread reply, the parent's
update, a private answer; an earlier try found by its metadata is recorded, not posted again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.domain.models import OutboxKind, OutboxState
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack.notifier import Notifier
from bot.slack.outbox.calls import METADATA_EVENT, Permanent, SlackCalls, Waiting
from bot.slack.outbox.commit import GroupCommit
from bot.slack.render.private import parent_not_posted_text
from storage.store import OutboxItem, Store

log = logging.getLogger("bot.slack.outbox")  # the outbox's one logger: operators filter by it


class RowPoster:
    """Posts the row it is given; the worker decides when (`turn` waits for the stream's)."""

    def __init__(
        self,
        *,
        store: Store,
        notifier: Notifier,
        slack: SlackCalls,
        commit: GroupCommit,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        turn: Callable[[OutboxItem], Awaitable[None]],
        on_posted: Callable[[int | None, str], None],
    ):
        self.store = store
        self.notifier = notifier
        self.slack = slack
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self.on_posted = on_posted
        self._commit = commit
        self._turn = turn

    async def post(self, item: OutboxItem) -> None:
        """Post the row as its kind says, unless an earlier try of it is found posted."""
        send_id = item.payload.get("send_id")
        send = await self.store.get_send(send_id) if send_id is not None else None
        metadata = {
            "event_type": METADATA_EVENT,
            "event_payload": {"outbox_id": item.id, "send_id": send_id},
        }
        if item.kind == OutboxKind.PARENT:
            assert send is not None
            if send.parent_ts:
                await self._done(item.id, send.parent_ts)
                return
            if item.in_flight and (found := await self.slack.find_posted(item, None)):
                await self._parent_posted(item, send.id, found)
                return
            text, blocks = await self.notifier.render_parent(send.id)
            await self._attempt(item.id)
            await self._turn(item)
            answer = await self.slack.call(
                "chat.postMessage",
                channel=item.channel_id,
                text=text,
                blocks=blocks,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
            await self._parent_posted(item, send.id, answer["ts"])
        elif item.kind == OutboxKind.REPLY:
            assert send is not None
            if not send.parent_ts:
                await self._parent_missing(send.id)
            if item.in_flight and (found := await self.slack.find_posted(item, send.parent_ts)):
                await self._done(item.id, found)
                return
            await self._attempt(item.id)
            await self._turn(item)
            answer = await self.slack.call(
                "chat.postMessage",
                channel=item.channel_id,
                thread_ts=send.parent_ts,
                text=item.payload["text"],
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
            await self._done(item.id, answer["ts"])
        elif item.kind == OutboxKind.UPDATE:
            assert send is not None
            if not send.parent_ts:
                await self._parent_missing(send.id)
            await self._turn(item)  # first: the parent is rendered as it is when updated
            # Marked under way before it is rendered: a change committed after the render
            # then finds no update waiting and queues one of its own (marked after, a change
            # committed in between would count on this update, rendered without it). A change
            # not committed yet that counts on this update holds it (Store.has_pending, on
            # PostgreSQL): the mark waits for that commit, so the render sees the change.
            await self._attempt(item.id)
            text, blocks = await self.notifier.render_parent(send.id)
            await self.slack.call(
                "chat.update", channel=item.channel_id, ts=send.parent_ts, text=text, blocks=blocks
            )
            await self._done(item.id, send.parent_ts)
        elif item.kind == OutboxKind.EPHEMERAL:
            await self._attempt(item.id)
            await self.slack.ephemeral(item)
            await self._done(item.id, None)
        else:
            raise Permanent(f"unknown outbox kind {item.kind!r}")
        self.metrics.slack_posts.labels(kind=item.kind).inc()
        self.on_posted(send_id, item.kind)

    async def tell_sender_parent_failed(self, item: OutboxItem, reason: str) -> None:
        """The send went out but the channel cannot show it: say so to the sender, privately."""
        send = await self.store.get_send(item.payload["send_id"])
        ids = [m.bsg_id for m in await self.store.send_messages(send.id) if m.bsg_id][:5]
        await self.notifier.tell_privately(
            send, parent_not_posted_text(reason, self.settings.command, ids), now=self.clock()
        )

    async def _parent_missing(self, send_id: int) -> None:
        parents = [i for i in await self.store.outbox_items(send_id) if i.kind == OutboxKind.PARENT]
        if not parents or all(i.state == OutboxState.DEAD for i in parents):
            raise Permanent("the parent message could not be posted")
        raise Waiting("the parent message is not posted yet")

    async def _attempt(self, item_id: int) -> None:
        """Mark the row under way (committed before the call, with other posts' marks)."""
        await self._commit.write(lambda store: store.outbox_attempt(item_id))

    async def _done(self, item_id: int, posted_ts: str | None) -> None:
        await self._commit.write(lambda store: store.outbox_done(item_id, posted_ts))

    async def _parent_posted(self, item: OutboxItem, send_id: int, parent_ts: str) -> None:
        async def record(store: Store) -> None:
            await store.set_parent_ts(send_id, parent_ts)
            await store.outbox_done(item.id, parent_ts)

        await self._commit.write(record)
        log.info("send %s: parent posted in %s at %s", send_id, item.channel_id, parent_ts)
