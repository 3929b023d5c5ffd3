"""Keeps the send modal's `estimate` block current with views.update, newest change winning."""

from __future__ import annotations

import itertools
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import InputError
from bot.slack.compose import Draft
from bot.slack.estimate import Estimate, EstimateService, PriceState
from bot.slack.render.estimate import ESTIMATE_BLOCK_ID, estimate_block
from bot.tracking.audiences import AudienceService

log = logging.getLogger(__name__)

VIEWS_REMEMBERED = 1000
# What views.update takes back from a view payload (the rest is Slack's own bookkeeping).
VIEW_PAYLOAD_FIELDS = (
    "type",
    "callback_id",
    "private_metadata",
    "title",
    "submit",
    "close",
    "clear_on_close",
    "notify_on_close",
    "external_id",
)


def with_estimate(view: dict[str, Any], estimate: Estimate | None) -> dict[str, Any]:
    """The view to send back: the same blocks (typed input is kept by block id), the
    `estimate` block replaced."""
    blocks = [
        estimate_block(estimate) if block.get("block_id") == ESTIMATE_BLOCK_ID else block
        for block in view.get("blocks") or []
    ]
    fresh = {name: view[name] for name in VIEW_PAYLOAD_FIELDS if view.get(name) not in (None, "")}
    fresh["blocks"] = blocks
    return fresh


async def recounted(audiences: AudienceService, draft: Draft, counted: Estimate) -> Estimate:
    """The typed counts with `@lists` expanded and opted-out numbers left out."""
    try:
        resolved = await audiences.resolve(draft.recipients or "")
    except InputError:
        return counted  # far too long: the typed count already says so
    unknown = [f"@{name}" for name in (*resolved.unknown_lists, *resolved.bad_names)]
    split = await audiences.without_opted_out(resolved.msisdns)
    return replace(
        counted,
        msisdns=split.allowed,
        invalid=(*resolved.parsed.invalid, *unknown),
        duplicates=resolved.collapsed,
        opted_out=len(split.opted_out),
    )


class LiveEstimate:
    """One per app: the latest change of each open modal, and the hash Slack gave us last."""

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        estimates: EstimateService,
        audiences: AudienceService | None = None,
    ):
        self.client = client
        self.estimates = estimates
        # `@lists` expanded and opted-out numbers left out of the counts (issue 13).
        self.audiences = audiences
        self._sequence = itertools.count(1)
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._hashes: OrderedDict[str, str] = OrderedDict()
        self.updates = 0  # views.update calls that Slack took (benchmarks and tests read it)

    def _remember(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > VIEWS_REMEMBERED:
            table.popitem(last=False)

    async def refresh(self, view: dict[str, Any], draft: Draft) -> None:
        """Counts at once, then BSG's price; a newer change to the same view supersedes."""
        view_id = view.get("id")
        if not view_id:
            return
        turn = next(self._sequence)
        self._remember(self._latest, view_id, turn)
        counted = self.estimates.count(draft)
        if self.audiences is not None:
            counted = await recounted(self.audiences, draft, counted)
        estimate = self.estimates.cached(counted, draft)
        if estimate is None:
            estimate = (
                replace(counted, price_state=PriceState.CHECKING)
                if self.estimates.would_price(counted, draft)
                else counted
            )
        view_hash = await self._update(view, estimate, view.get("hash"), turn)
        if view_hash is None or estimate.price_state is not PriceState.CHECKING:
            return
        priced = await self.estimates.price(counted, draft)
        if self._latest.get(view_id) != turn:
            return  # typed on meanwhile: that change's own refresh shows its price
        await self._update(view, priced, view_hash, turn)

    async def _update(
        self, view: dict[str, Any], estimate: Estimate, view_hash: str | None, turn: int
    ) -> str | None:
        view_id = view["id"]
        body = with_estimate(view, estimate)
        for attempt in range(2):
            try:
                answer = await self.client.views_update(view_id=view_id, hash=view_hash, view=body)
            except SlackApiError as error:
                code = error.response.get("error") if error.response is not None else None
                newer = self._hashes.get(view_id)
                if (
                    code == "hash_conflict"
                    and attempt == 0
                    and self._latest.get(view_id) == turn
                    and newer
                    and newer != view_hash
                ):
                    # Our own last update moved the hash on: that is the view to replace.
                    view_hash = newer
                    continue
                log.info("estimate for view %s not shown: %s", view_id, code)
                return None
            except (OSError, TimeoutError) as error:
                log.info("estimate for view %s not shown: %s", view_id, type(error).__name__)
                return None
            fresh = (answer.get("view") or {}).get("hash")
            if fresh:
                self._remember(self._hashes, view_id, fresh)
            self.updates += 1
            return fresh or view_hash
        return None
