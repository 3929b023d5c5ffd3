"""The seam between tracking and Slack: what tracking tells, defined here, implemented by Slack.

Tracking decides *that* something is worth telling; the Slack side (`bot.slack.notifier`)
decides how it reads and queues it. So tracking never imports Slack code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from storage.store import Change


class SweepListener(Protocol):
    """Told about a sweep's results inside the sweep's transaction."""

    async def announce(self, changes: Sequence[Change], *, now: datetime) -> int:
        """Queue what the channel hears about these changes; return how many posts."""
        ...

    async def refresh_parents(self, send_ids: Sequence[int], *, now: datetime) -> int:
        """Keep the parents of these (checked) sends current; return how many updates."""
        ...
