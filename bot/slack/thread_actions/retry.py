"""The card's retry_failed: the failed recipients sent again as a new send, linked to the card."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from bot.domain.models import Composed, Send
from bot.slack.render.thread_actions import RETRY_FAILED, announce
from bot.slack.thread_actions.results import ActionResult
from bot.tracking.sending import Origin, content_of

if TYPE_CHECKING:
    from bot.slack.thread_actions.service import ThreadActions


async def retry_failed(
    actions: ThreadActions, send: Send, user_id: str, estimate: tuple[Decimal | None, str | None]
) -> ActionResult:
    """Send the retryable recipients again as a new send (once), then link the card to it."""
    await actions.authorize(send, user_id, RETRY_FAILED)
    now = actions.clock()
    async with actions.store.atomic():
        claim, chosen = await actions.claim_recipients(send, RETRY_FAILED, user_id, now)
        # The original time is past: the retry goes now, with the same content.
        content = content_of(send).model_copy(update={"send_at": None})
        origin = Origin(
            team_id=send.team_id,
            channel_id=send.channel_id,
            user_id=user_id,
            source="retry",
            dedupe_key=f"retry:{send.id}",
        )
        # Each recipient of a CSV send gets again the text that was theirs.
        personal = {m.msisdn: (m.text, m.sms_text) for m in chosen if m.text or m.sms_text}
        retry = await actions.sending.submit(
            Composed(msisdns=tuple(m.msisdn for m in chosen), content=content, personal=personal),
            origin,
        )
        await actions.store.set_send_option(retry.id, "retry_of", send.id)
        await actions.store.finish_thread_action(
            claim,
            state="done",
            now=now,
            result_send_id=retry.id,
            detail={"recipients": len(chosen)},
        )
        await actions.reply(send, announce(RETRY_FAILED, user_id, len(chosen), *estimate), now)
        await actions.audit(
            send, RETRY_FAILED, user_id, "submitted", recipients=len(chosen), retry=retry.id
        )
    actions.wake_outbox()
    await actions.sending.deliver(retry.id)
    # Queued behind the retry's own parent post (same channel, in order), so the original
    # card links to it once it is posted.
    async with actions.store.atomic():
        await actions.update_parent(send, actions.clock())
    actions.wake_outbox()
    return ActionResult(RETRY_FAILED, len(chosen), retry.id)
