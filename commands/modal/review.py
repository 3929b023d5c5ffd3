"""The review step's buttons: `review_send` sends the reviewed draft once, `review_back` refills
the form."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import AccessDenied, AllOptedOut
from bot.services import Services
from bot.slack.compose import Composed, ComposeErrors, Draft
from bot.slack.estimate import PriceState
from bot.slack.render import private
from bot.slack.render.audiences import all_opted_out
from bot.slack.render.review import (
    REVIEW_BACK,
    REVIEW_SEND,
    notice_view,
    refilled_modal,
    review_view,
    sent_view,
)
from bot.slack.render.text import escape
from bot.tracking.sending import Origin
from commands.ack_first import ack_first
from commands.drafts import keep_draft, send_once
from commands.modal.recipients import compose_submission
from commands.modal.state import draft_from_view
from commands.recipients import counted_recipients
from storage.actions import PendingDraft
from storage.store import DuplicateSubmission

log = logging.getLogger(__name__)

# Slack drops a view_submission not acked within 3 s: the price may take this much of it.
SUBMIT_PRICE_BUDGET = 1.5
# A review stays usable while its modal is open: Slack closes the modal, not a clock.
_NEVER = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Pressed:
    """A review button as pressed: its draft's token, the review view, who pressed it."""

    token: str
    view_id: str
    user_id: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> _Pressed:
        actions = body.get("actions") or [{}]
        return cls(
            token=str(actions[0].get("value") or ""),
            view_id=(body.get("view") or {}).get("id", ""),
            user_id=(body.get("user") or {}).get("id", ""),
        )

    async def own_review(self, deps: Services) -> PendingDraft | None:
        """The review draft, when it is one and the person who pressed made it."""
        draft = await deps.store.get_draft(self.token)
        if draft is None or draft.kind != "review" or draft.user_id != self.user_id:
            return None
        return draft


async def _show(client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> None:
    try:
        await client.views_update(view_id=view_id, view=view)
    except SlackApiError as error:
        # The person closed the modal meanwhile: what happened is in the channel or the log.
        log.info("review view %s not updated: %s", view_id, error.response.get("error"))


async def offer_review(
    ack: AsyncAck,
    client: AsyncWebClient,
    view: dict[str, Any],
    draft: Draft,
    composed: Composed,
    origin: Origin,
    deps: Services,
) -> bool:
    """Answer a submission that needs the review step with the review view; False when it
    may go out at once."""
    counted = await counted_recipients(deps, draft, composed)
    review, estimate = await deps.estimates.needs_review(counted, draft, budget=SUBMIT_PRICE_BUDGET)
    if not review:
        return False
    token = await keep_draft(
        deps,
        kind="review",
        origin=origin,
        view_id=view.get("id"),
        payload={
            "values": (view.get("state") or {}).get("values") or {},
            "blocks": view.get("blocks") or [],
            "private_metadata": view.get("private_metadata") or "",
            "title": view.get("title") or {"type": "plain_text", "text": "Send Viber message"},
            "submit": view.get("submit") or {"type": "plain_text", "text": "Send"},
            "close": view.get("close"),
        },
    )
    msisdns = composed.msisdns
    priced = estimate.price_state is PriceState.OK
    await ack(
        response_action="update",
        view=review_view(
            token=token,
            content=composed.content,
            msisdns=msisdns,
            estimate=estimate if priced else replace(estimate, price_state=PriceState.CHECKING),
            balance=None,
            checking=True,
        ),
    )
    # After the ack: BSG's price (unless known) and the balance, then the full review.
    if not priced:
        estimate = await deps.estimates.price(counted, draft)
    balance = await deps.home.balance()
    await _show(
        client,
        view.get("id", ""),
        review_view(
            token=token,
            content=composed.content,
            msisdns=msisdns,
            estimate=estimate,
            balance=balance,
            checking=False,
        ),
    )
    return True


def register(app: AsyncApp, deps: Services) -> None:
    @app.action(REVIEW_SEND)
    @ack_first
    async def on_send(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        pressed = _Pressed.of(body)
        token, view_id, user_id = pressed.token, pressed.view_id, pressed.user_id
        draft = await pressed.own_review(deps)
        if draft is None:
            log.info("review_send with an unknown token or from another person; ignored")
            return
        if draft.state != "pending":
            log.info("review %s pressed again (%s): sent once", token[:6], draft.state)
            return
        try:
            values = draft.payload["values"]
            # The same reading as the submission: @lists, and the uploaded file fetched again.
            composed = await compose_submission(values, draft_from_view(values), client, deps)
        except (ComposeErrors, TypeError, ValueError, OverflowError, OSError) as problem:
            # Time moved on since the form was checked (a scheduled time now in the past).
            summary = problem.summary() if isinstance(problem, ComposeErrors) else str(problem)
            await _show(client, view_id, notice_view(private.nothing_sent(summary)))
            return
        origin = Origin(
            team_id=draft.team_id,
            channel_id=draft.channel_id,
            user_id=user_id,
            source="modal",
            dedupe_key=f"review:{token}",
        )
        try:
            await deps.sending.authorize(origin, len(composed.msisdns))
        except AccessDenied as denial:
            await _show(client, view_id, notice_view(private.nothing_sent_denied(denial)))
            return
        try:
            send = await send_once(
                deps, token, composed, origin, now=deps.clock(), created_after=_NEVER
            )
        except DuplicateSubmission:
            return
        except AllOptedOut as everyone:
            await _show(client, view_id, notice_view(escape(all_opted_out(everyone.msisdns))))
            return
        if send is None:
            log.info("review %s already used; nothing sent again", token[:6])
            return
        await _show(client, view_id, sent_view(len(composed.msisdns), draft.channel_id))
        await deps.sending.deliver(send.id)

    @app.action(REVIEW_BACK)
    @ack_first
    async def on_back(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        pressed = _Pressed.of(body)
        token, view_id = pressed.token, pressed.view_id
        draft = await pressed.own_review(deps)
        if draft is None:
            return
        now = deps.clock()
        if not await deps.store.claim_draft(token, state="back", now=now, created_after=_NEVER):
            log.info("review %s: Back after it was used (%s); ignored", token[:6], draft.state)
            return
        saved = draft.payload
        await _show(
            client,
            view_id,
            refilled_modal(
                saved["blocks"],
                saved["values"],
                private_metadata=saved["private_metadata"],
                title=saved["title"],
                submit=saved["submit"],
                close=saved.get("close"),
            ),
        )
