"""Batches of different sends carried by one `POST /viber/create` when they meet.

BSG's create takes any number of `messages[]` items, each with its own recipients, text and
sender; only `validity` and `tariff` belong to the whole request. While a create is under way
(many people sending at once, or BSG slow to answer), the batches that come in are held for up
to `linger` seconds and go together, up to `limit` recipients a request: fewer requests, fewer
connections, and less CPU beside the acks of the commands still arriving. A client with no
create under way sends at the loop's next turn: nothing is held when there is no traffic.

Each batch gets back the part of the answer that is about it, so it reads it as it would an
answer of its own: its recipients' `result[]` entries (the total is then summed from their
prices), or its own items' answers (one per `messages[]` item, in the request's order). An
answer that cannot be split that way gives each batch only the entries that name its
references; the rest stay unconfirmed and are looked up by reference, as after a timeout.

A shared request refused whole cannot say whose item it was about, so each batch is then sent
again alone, with the same body and references. Nothing is sent twice: BSG created nothing
for a request it refused, and a reference it did take would be answered with code 43 and
looked up (`SendService`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.errors import BsgRefused, BsgUnavailable
from bot.domain.limits import CREATE_LINGER

logger = logging.getLogger(__name__)

PostBody = Callable[[dict[str, Any]], Awaitable[Any]]


@dataclass(slots=True, eq=False)
class _Batch:
    body: dict[str, Any]
    references: frozenset[str]
    answer: asyncio.Future[Any]

    @property
    def size(self) -> int:
        return len(self.references)

    @property
    def items(self) -> list[Any]:
        return self.body["messages"]


class CreateCoalescer:
    """Posts create bodies through `post`, several batches to a request when they meet."""

    def __init__(self, post: PostBody, *, limit: int, linger: float = CREATE_LINGER):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if linger < 0:
            raise ValueError("linger must not be negative")
        self._post = post
        self._limit = limit
        self._linger = linger
        self._held: dict[tuple[Any, Any], list[_Batch]] = {}
        self._timers: dict[tuple[Any, Any], asyncio.Handle] = {}
        self._requests: set[asyncio.Task[None]] = set()
        # Requests that carried more than one batch, and the batches they carried.
        self.shared_requests = 0
        self.shared_batches = 0

    async def create(self, body: dict[str, Any], references: Collection[str]) -> Any:
        """BSG's answer about this batch (`body`, whose recipients have `references`), as
        `post` would have returned it for the batch alone; raises what `post` raises."""
        if self._linger == 0:
            return await self._post(body)
        loop = asyncio.get_running_loop()
        batch = _Batch(body, frozenset(references), loop.create_future())
        key = (body.get("validity"), body.get("tariff"))
        held = self._held.setdefault(key, [])
        held.append(batch)
        if sum(b.size for b in held) >= self._limit:
            self._flush(key)
        elif key not in self._timers:
            wait = self._linger if self._requests else 0.0
            self._timers[key] = loop.call_later(wait, self._flush, key)
        return await batch.answer

    async def aclose(self) -> None:
        """Let nothing wait on a request that will not be made: held batches fail as
        unavailable (their recipients are looked up by reference), requests are cancelled."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for held in self._held.values():
            for batch in held:
                _fail(batch, BsgUnavailable("the BSG client closed"))
        self._held.clear()
        for request in list(self._requests):
            request.cancel()
        if self._requests:
            await asyncio.wait(self._requests)

    # ------------------------------------------------------------ requests

    def _flush(self, key: tuple[Any, Any]) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        # A batch whose sender stopped waiting (its delivery was cancelled) is not sent: its
        # references are stored, and the next start looks them up and creates what BSG lacks.
        waiting = [b for b in self._held.pop(key, ()) if not b.answer.done()]
        group: list[_Batch] = []
        size = 0
        for batch in waiting:
            if group and size + batch.size > self._limit:
                self._start(group)
                group, size = [], 0
            group.append(batch)
            size += batch.size
        if group:
            self._start(group)

    def _start(self, group: list[_Batch]) -> None:
        request = asyncio.create_task(self._request(group))
        self._requests.add(request)
        request.add_done_callback(self._requests.discard)

    async def _request(self, group: list[_Batch]) -> None:
        if len(group) == 1:
            await self._alone(group[0])
            return
        self.shared_requests += 1
        self.shared_batches += len(group)
        body = dict(group[0].body)
        body["messages"] = [item for batch in group for item in batch.items]
        try:
            data = await self._post(body)
        except BsgRefused as refusal:
            logger.info(
                "BSG refused a create shared by %d batches whole (code %d): each goes alone",
                len(group),
                refusal.code,
            )
            # A batch whose sender stopped waiting is not sent again (see _flush).
            waiting = [batch for batch in group if not batch.answer.done()]
            await asyncio.gather(*(self._alone(batch) for batch in waiting))
            return
        except asyncio.CancelledError:
            _closed(group)
            raise
        except Exception as error:
            for batch in group:
                _fail(batch, error)
            return
        try:
            parts = split_answer(data, group)
        except Exception as error:  # an answer no published shape explains
            logger.error("BSG's answer to a shared create could not be split: %r", error)
            parts = [data for _ in group]  # each batch reads it, and finds it garbled
        for batch, part in zip(group, parts, strict=True):
            if not batch.answer.done():
                batch.answer.set_result(part)

    async def _alone(self, batch: _Batch) -> None:
        try:
            data = await self._post(batch.body)
        except asyncio.CancelledError:
            _closed([batch])
            raise
        except Exception as error:
            _fail(batch, error)
        else:
            if not batch.answer.done():
                batch.answer.set_result(data)


def _fail(batch: _Batch, error: Exception) -> None:
    if not batch.answer.done():
        batch.answer.set_exception(error)


def _closed(group: Sequence[_Batch]) -> None:
    """A request cut short by aclose(): BSG may or may not have its batches, so they are
    unavailable (their recipients are looked up by reference), not cancelled: their senders
    were not."""
    for batch in group:
        _fail(batch, BsgUnavailable("the BSG client closed with the create under way"))


def split_answer(data: Any, group: Sequence[_Batch]) -> list[Any]:
    """A shared request's answer as one answer per batch, each about that batch alone."""
    if isinstance(data, dict) and isinstance(data.get("result"), list):
        # Per recipient: each batch its recipients' entries; its total is summed from them.
        parts: list[Any] = []
        for batch in group:
            part: dict[str, Any] = {
                "result": [
                    entry
                    for entry in data["result"]
                    if isinstance(entry, dict) and _reference(entry) in batch.references
                ]
            }
            if "currency" in data:
                part["currency"] = data["currency"]
            parts.append(part)
        return parts
    if isinstance(data, list):
        if len(data) == sum(len(batch.items) for batch in group):
            # One answer per messages[] item, in the request's order: each batch its own.
            parts, start = [], 0
            for batch in group:
                parts.append(data[start : start + len(batch.items)])
                start += len(batch.items)
            return parts
        logger.warning(
            "BSG answered a create of %d messages[] items with %d: recipients it does not "
            "name stay unconfirmed and are looked up",
            sum(len(batch.items) for batch in group),
            len(data),
        )
        return [_entries_naming(data, batch.references) for batch in group]
    # Not a create answer: every batch reads it as its own (and finds it garbled).
    return [data for _ in group]


def _entries_naming(data: list[Any], references: frozenset[str]) -> list[Any]:
    entries = [
        entry
        for item in data
        if isinstance(item, dict) and isinstance(item.get("messages"), list)
        for entry in item["messages"]
        if isinstance(entry, dict) and _reference(entry) in references
    ]
    return [{"error": 0, "messages": entries}]


def _reference(entry: dict[str, Any]) -> str | None:
    """An answer entry's reference as the answer reader reads it (text, trimmed; a number
    as its digits), so an entry matches its batch as it would in an answer of its own."""
    value = entry.get("reference")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None
