"""What the estimate counts for a send about to go out: every recipient it will really reach."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.models import Composed
from bot.services import Services
from bot.slack.compose import Draft
from bot.slack.estimate import Estimate


async def counted_recipients(deps: Services, draft: Draft, composed: Composed) -> Estimate:
    """The draft's estimate with the composed recipients: `@lists` and the CSV file's rows
    included, opted-out numbers left out (the review thresholds count these, not the typed)."""
    counted = deps.estimates.count(draft)
    opted = await deps.store.opted_out_among(composed.msisdns)
    return replace(
        counted,
        msisdns=tuple(m for m in composed.msisdns if m not in opted),
        opted_out=len(opted),
        duplicates=composed.collapsed,
    )
