"""`/viber send` over the review thresholds: a private estimate with a `quick_confirm` button
that sends once, within VIBER_BOT_QUICK_CONFIRM_TTL."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.domain.errors import AccessDenied, AllOptedOut
from bot.services import Services
from bot.slack.compose import Composed, ComposeErrors, Draft, compose
from bot.slack.estimate import PriceState
from bot.slack.render import private
from bot.slack.render.audiences import all_opted_out
from bot.slack.render.review import (
    QUICK_CONFIRM,
    QUICK_NOT_YOURS,
    QUICK_UNKNOWN,
    quick_checking_text,
    quick_confirm_message,
    quick_expired_text,
    quick_sending_text,
    quick_used_text,
)
from bot.tracking.audiences import prefetched_lists
from bot.tracking.sending import Origin
from commands.ack_first import ack_first
from commands.drafts import keep_draft, send_once
from commands.recipients import counted_recipients
from storage.store import DuplicateSubmission

log = logging.getLogger(__name__)


def _minutes(deps: Services) -> int:
    return max(1, round(deps.settings.quick_confirm_ttl / 60))


async def offer(
    ack: AsyncAck,
    respond: AsyncRespond,
    *,
    numbers: str,
    text: str,
    composed: Composed,
    origin: Origin,
    deps: Services,
) -> bool:
    """Answer a `/viber send` that needs a go-ahead; False when it may go out at once."""
    settings = deps.settings
    if settings.review_cost is None and len(composed.msisdns) <= settings.review_above:
        # Opted-out numbers only make the count smaller: nothing to read before the ack.
        return False
    draft = Draft(recipients=numbers, text=text)
    counted = await counted_recipients(deps, draft, composed)
    count = counted.valid
    if count <= settings.review_above and settings.review_cost is None:
        return False
    # Slack waits at most 3 s for the ack: the price is asked after it.
    await ack(response_type="ephemeral", text=quick_checking_text(count))
    review, estimate = await deps.estimates.needs_review(counted, draft)
    if not review:
        try:
            send = await deps.sending.submit(composed, origin)
        except DuplicateSubmission:
            return True
        except AllOptedOut as everyone:
            await respond(
                response_type="ephemeral",
                replace_original=True,
                text=all_opted_out(everyone.msisdns),
            )
            return True
        await respond(
            response_type="ephemeral", replace_original=True, text=quick_sending_text(count)
        )
        await deps.sending.deliver(send.id)
        return True
    if estimate.price_state is not PriceState.OK:
        estimate = await deps.estimates.price(counted, draft)
    token = await keep_draft(
        deps,
        kind="quick",
        origin=origin,
        payload={"numbers": numbers, "text": text, "response_url": origin.response_url},
    )
    fallback, blocks = quick_confirm_message(
        token=token, count=count, text=text, estimate=estimate, ttl_minutes=_minutes(deps)
    )
    await respond(response_type="ephemeral", replace_original=True, text=fallback, blocks=blocks)
    return True


def register(app: AsyncApp, deps: Services) -> None:
    @app.action(QUICK_CONFIRM)
    @ack_first
    async def on_confirm(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        token = str(actions[0].get("value") or "")
        user_id = (body.get("user") or {}).get("id", "")
        draft = await deps.store.get_draft(token)
        if draft is None or draft.kind != "quick":
            await respond(response_type="ephemeral", text=QUICK_UNKNOWN)
            return
        if draft.user_id != user_id:
            await respond(
                response_type="ephemeral",
                text=QUICK_NOT_YOURS,
            )
            return
        now = deps.clock()
        cutoff = now - timedelta(seconds=deps.settings.quick_confirm_ttl)
        if draft.state != "pending":
            await respond(response_type="ephemeral", text=quick_used_text())
            return
        if draft.created_at < cutoff:
            await respond(
                response_type="ephemeral",
                replace_original=True,
                text=quick_expired_text(_minutes(deps), deps.settings.command),
            )
            return
        payload = draft.payload
        try:
            composed = compose(
                Draft(recipients=payload["numbers"], text=payload["text"]),
                deps.settings,
                now=now,
                lists=await prefetched_lists(deps.store, payload["numbers"]),
            )
        except ComposeErrors as problems:
            await respond(response_type="ephemeral", text=private.nothing_sent(problems.summary()))
            return
        origin = Origin(
            team_id=draft.team_id,
            channel_id=draft.channel_id,
            user_id=user_id,
            source="command",
            dedupe_key=f"quick:{token}",
            response_url=payload.get("response_url"),
        )
        try:
            await deps.sending.authorize(origin, len(composed.msisdns))
        except AccessDenied as denial:
            await respond(response_type="ephemeral", text=private.nothing_sent_denied(denial))
            return
        try:
            send = await send_once(deps, token, composed, origin, now=now, created_after=cutoff)
        except DuplicateSubmission:
            send = None
        except AllOptedOut as everyone:
            await respond(
                response_type="ephemeral",
                replace_original=True,
                text=all_opted_out(everyone.msisdns),
            )
            return
        if send is None:
            await respond(response_type="ephemeral", text=quick_used_text())
            return
        await respond(
            response_type="ephemeral",
            replace_original=True,
            text=quick_sending_text(len(composed.msisdns)),
        )
        await deps.sending.deliver(send.id)
