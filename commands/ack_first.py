"""Slack's answer as soon as a listener acks: the work after `ack()` goes on in the background.

The app runs Bolt with `process_before_response=True`, so Bolt answers the HTTP request once the
listener function returns. Every listener is registered through `ack_first`, which returns as
soon as the listener has called `ack()` (or has finished) and leaves the rest running. Bolt's
own way, `process_before_response=False`, looks for the ack every 10 ms (asyncio.sleep(0.01) in
its listener runner): up to 10 ms on every answer, and 100 wake-ups a second per request in
flight on the loop that also answers the others.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_bolt.response import BoltResponse

from bot.domain.limits import SLACK_ACK_WITHIN

log = logging.getLogger(__name__)

# Past Slack's limit (Bolt's ack_timeout too) the listener is not waited for: Bolt answers as
# it does for a listener that did not ack.
ACK_WAIT = SLACK_ACK_WITHIN
Listener = Callable[..., Awaitable[Any]]

# The work still running after its ack: held here so the loop's weak reference is not the only one.
_after_ack: set[asyncio.Task[Any]] = set()


class _SignallingAck(AsyncAck):
    """The listener's ack: Bolt's, and a signal that it was called."""

    def __init__(self, ack: AsyncAck, answered: asyncio.Future[None]):
        super().__init__()
        self._ack = ack
        self._answered = answered
        self.called = False

    async def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            answer = await self._ack(*args, **kwargs)
        finally:
            self.called = True
            _wake(self._answered)
        self.response = self._ack.response
        return answer


def _wake(answered: asyncio.Future[None], *_: Any) -> None:
    if not answered.done():
        answered.set_result(None)


def _in_background(work: asyncio.Task[Any]) -> None:
    _after_ack.add(work)
    work.add_done_callback(_after_ack.discard)
    work.add_done_callback(_log_failure)


def _log_failure(work: asyncio.Task[Any]) -> None:
    if work.cancelled():
        return
    error = work.exception()
    if error is not None:
        # After the ack Bolt has answered already; the operator hears of it as from Bolt.
        log.error("listener failed: %s: %s", type(error).__name__, error, exc_info=error)


def ack_first(listener: Listener) -> Listener:
    """`listener`, returning to Bolt once it has acked; Bolt injects the same arguments."""

    @functools.wraps(listener)  # Bolt reads the argument names through __wrapped__
    async def run(**kwargs: Any) -> Any:
        ack = kwargs.get("ack")
        if not isinstance(ack, AsyncAck):
            # An event listener takes no ack: Bolt acks the event when this returns.
            _in_background(asyncio.ensure_future(listener(**kwargs)))
            return None
        # One future, woken by the ack, by the listener ending, or by the time running out.
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        signalling = _SignallingAck(ack, answered)
        kwargs["ack"] = signalling
        work = asyncio.ensure_future(listener(**kwargs))
        _after_ack.add(work)
        work.add_done_callback(_after_ack.discard)
        work.add_done_callback(functools.partial(_wake, answered))
        timer = loop.call_later(ACK_WAIT, _wake, answered)
        try:
            await answered
        finally:
            timer.cancel()
        if work.done() and not signalling.called:
            return work.result()  # a failure before the ack goes to Bolt's error handler
        # Acked: Slack has its answer, whatever happens next (even at once) is only logged.
        _in_background(work)
        return None

    run.answers_at_ack = True  # type: ignore[attr-defined]  # how a test finds every listener wrapped
    return run
