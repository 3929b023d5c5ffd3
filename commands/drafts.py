"""Drafts a person confirms later (the modal's review, the quick confirm): kept, then sent once."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from bot.domain.models import Send
from bot.services import Services
from bot.slack.compose import Composed
from bot.tracking.sending import Origin


async def keep_draft(
    deps: Services,
    *,
    kind: str,
    origin: Origin,
    payload: dict[str, Any],
    view_id: str | None = None,
) -> str:
    """Store a pending draft of `kind` for `origin`; returns the token its button carries."""
    token = secrets.token_urlsafe(18)
    await deps.store.add_draft(
        token=token,
        kind=kind,
        user_id=origin.user_id,
        channel_id=origin.channel_id,
        team_id=origin.team_id,
        view_id=view_id,
        payload=payload,
        now=deps.clock(),
    )
    return token


async def send_once(
    deps: Services,
    token: str,
    composed: Composed,
    origin: Origin,
    *,
    now: datetime,
    created_after: datetime,
) -> Send | None:
    """Claim the draft and store its send in one transaction, so that a second click, a retried
    interaction or a crash in between never sends twice. None when the draft was used already
    (or is older than `created_after`); DuplicateSubmission and AllOptedOut pass through."""
    async with deps.store.atomic():
        if not await deps.store.claim_draft(
            token, state="sent", now=now, created_after=created_after
        ):
            return None
        send = await deps.sending.submit(composed, origin)
        await deps.store.set_draft_send(token, send.id)
    return send
