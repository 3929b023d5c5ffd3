"""The outbox's group commit: the marks of the posts under way, written in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from storage.store import Store

# Store verbs to run, through the store given (bound to the shared transaction).
Change = Callable[[Store], Awaitable[None]]


class GroupCommit:
    """Writes that posts wait on, made together in one transaction.

    Each post marks its row in flight before the call and done after it, and waits until that
    is committed, as before; posts under way at once share the transaction (SQLite takes one
    writer at a time, so one commit per post was what bounded the posts a second). A change is
    given the store to write through: one bound to the batch's single step (on SQLite one trip
    to the writer's thread, so a batch never holds the writer across turns of a busy loop).
    """

    def __init__(self, store: Store):
        self.store = store
        self._queue: list[tuple[Change, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, change: Change) -> None:
        """Run `change(store)` (store verbs) in the next shared transaction; return once
        committed."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((change, done))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []

                async def together(store: Store, batch: list[tuple[Change, Any]] = batch) -> None:
                    for change, _ in batch:
                        await change(store)

                try:
                    await self.store.in_one_step(together)
                except Exception:
                    # One bad change must not fail the others: each again on its own.
                    for change, done in batch:
                        await self._alone(change, done)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._flusher = None

    async def settle(self, within: float) -> None:
        """Wait (bounded) for the writes queued so far to be committed."""
        if self._flusher is not None:
            await asyncio.wait([self._flusher], timeout=max(0.0, within))

    async def _alone(self, change: Change, done: asyncio.Future[None]) -> None:
        try:
            await self.store.in_one_step(change)
        except Exception as error:
            if not done.done():
                done.set_exception(error)
        else:
            if not done.done():
                done.set_result(None)
