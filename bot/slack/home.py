"""What App Home shows: recent sends, the poller's health and the (cached) BSG balance."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from bot.bsg.client import BsgClient
from bot.clock import Clock
from bot.domain.errors import BsgError
from bot.domain.models import Balance, count_statuses, total_cost
from bot.settings import Settings
from bot.slack.render.app_home import HomeSend, PollerHealth, app_home
from storage.store import Store

log = logging.getLogger(__name__)

RECENT_SENDS = 15


class HomeService:
    """Builds the App Home view; the balance is asked of BSG at most once per cache period."""

    def __init__(self, *, store: Store, bsg: BsgClient, settings: Settings, clock: Clock):
        self.store = store
        self.bsg = bsg
        self.settings = settings
        self.clock = clock
        self._balance: Balance | None = None
        self._balance_at: datetime | None = None
        # Opens at the same moment share one balance call.
        self._balance_lock = asyncio.Lock()

    async def balance(self) -> Balance | None:
        """BSG's balance, asked at most once per VIBER_BOT_BALANCE_CACHE seconds."""
        async with self._balance_lock:
            now = self.clock()
            if self._balance_at is not None:
                age = (now - self._balance_at).total_seconds()
                if 0 <= age < self.settings.balance_cache_seconds:
                    return self._balance
            try:
                self._balance = await self.bsg.balance()
            except BsgError as error:
                log.warning("BSG balance unavailable: %s", error)
                self._balance = None
            self._balance_at = now
            return self._balance

    async def health(self) -> PollerHealth:
        sweeps = await self.store.recent_sweeps(20)
        # An outage repeats one error sweep after sweep: list each different error once.
        errors = list(dict.fromkeys(s.last_error for s in sweeps if s.last_error))[:5]
        return PollerHealth(
            last_sweep=sweeps[0].finished_at if sweeps else None,
            due=await self.store.count_due(self.clock()),
            recent_errors=errors,
        )

    async def recent(self) -> list[HomeSend]:
        result = []
        for send in await self.store.recent_sends(RECENT_SENDS):
            messages = await self.store.send_messages(send.id)
            counts = count_statuses(m.status for m in messages)
            total, currency = total_cost(messages)
            result.append(
                HomeSend(
                    created_at=send.created_at,
                    user_id=send.user_id,
                    recipient_count=len(messages),
                    counts=counts,
                    total_cost=total,
                    currency=currency,
                    msisdns=[m.msisdn for m in messages[:3]],
                    text=send.text,
                    outcome=send.outcome,
                    error_code=send.error_code,
                )
            )
        return result

    async def view(self) -> dict[str, Any]:
        return app_home(
            sends=await self.recent(),
            health=await self.health(),
            balance=await self.balance(),
            mask=self.settings.mask_numbers,
            command=self.settings.command,
            lists=await self.store.list_sizes(),
        )
