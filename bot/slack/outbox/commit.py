"""The outbox's group commit: the marks of the posts under way, written in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from storage.store import Store


class GroupCommit:
    """Writes that posts wait on, made together in one transaction.

    Each post marks its row in flight before the call and done after it, and waits until that
    is committed, as before; posts under way at once share the transaction (SQLite takes one
    writer at a time, so one commit per post was what bounded the posts a second).
    """

    def __init__(self, store: Store):
        self.store = store
        self._queue: list[tuple[Callable[[], Awaitable[None]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, change: Callable[[], Awaitable[None]]) -> None:
        """Run `change` (store verbs) in the next shared transaction; return once committed."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((change, done))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    async with self.store.atomic():
                        for change, _ in batch:
                            await change()
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

    async def _alone(self, change: Callable[[], Awaitable[None]], done: asyncio.Future[None]):
        try:
            async with self.store.atomic():
                await change()
        except Exception as error:
            if not done.done():
                done.set_exception(error)
        else:
            if not done.done():
                done.set_result(None)
