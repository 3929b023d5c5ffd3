"""The card's export_csv: every recipient's outcome as a CSV file in the send's thread."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.domain.models import Send
from bot.slack.render.thread_actions import EXPORT_CSV, announce, recipients_csv
from bot.slack.thread_actions.results import ActionRefused, ActionResult

if TYPE_CHECKING:
    from bot.slack.thread_actions.service import ThreadActions

log = logging.getLogger("bot.slack.thread_actions")  # the card actions' one logger


async def export_csv(actions: ThreadActions, send: Send, user_id: str) -> ActionResult:
    """Upload every recipient's outcome as CSV to the thread (once; again if it failed)."""
    now = actions.clock()
    claim = await actions.claim(send, EXPORT_CSV, user_id, now)
    messages = await actions.store.send_messages(send.id)
    resent = {r.message_id: r.status.value for r in await actions.store.sms_resends(send.id)}
    content = recipients_csv(messages, resent, mask=actions.settings.mask_numbers)
    try:
        await actions.slack.files_upload_v2(
            channel=send.channel_id,
            thread_ts=send.parent_ts,
            content=content,
            filename=f"viber-send-{send.id}.csv",
            title=f"Viber send {send.id}: {len(messages)} recipients",
            initial_comment=announce(EXPORT_CSV, user_id, len(messages), None, None),
        )
    except (SlackApiError, OSError, TimeoutError) as error:
        # Nothing reached the thread: the claim goes, so the button may be pressed again.
        await actions.store.release_thread_action(claim)
        log.warning("send %s: CSV export failed: %s", send.id, error)
        raise ActionRefused("upload") from None
    async with actions.store.atomic():
        await actions.store.finish_thread_action(
            claim, state="done", now=actions.clock(), detail={"rows": len(messages)}
        )
        await actions.update_parent(send, actions.clock())
        await actions.audit(send, EXPORT_CSV, user_id, "done", rows=len(messages))
    actions.wake_outbox()
    return ActionResult(EXPORT_CSV, len(messages))
