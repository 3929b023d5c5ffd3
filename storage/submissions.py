"""A submission stored whole: the opt-out check, the send, its messages, its request body and
its audit row, in one transaction (on SQLite, one trip to the writer's thread)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.models import Send
from storage import audit, messages, optouts, sends
from storage.backend import Connection
from storage.records import DuplicateSubmission, NewRecipient, NewSend


@dataclass(frozen=True)
class Submission:
    """What to store for a submission, decided once its opted-out numbers are known."""

    send: NewSend
    recipients: Sequence[NewRecipient]
    request_json: str
    audit_detail: dict[str, Any]


# Given the opted-out numbers among the submission's, what to store (None: nothing, as when
# every number opted out). Plain computation: on SQLite it runs on the database's thread.
SubmissionPlan = Callable[[set[str]], Submission | None]


async def add(
    db: Connection, *, msisdns: Sequence[str], plan: SubmissionPlan, now: datetime
) -> Send | None:
    """Read the opt-outs, store what `plan` makes of them, return the stored send (or None)."""
    submission = plan(await optouts.among(db, msisdns))
    if submission is None:
        return None
    new = submission.send
    if new.dedupe_key is not None:
        existing = await sends.by_dedupe(db, new.dedupe_key)
        if existing is not None:
            raise DuplicateSubmission(existing)
    send_id = await sends.add(db, new, now=now)
    await messages.add_many(db, send_id, submission.recipients, now)
    await sends.update(db, send_id, {"request_json": submission.request_json})
    await audit.add(
        db,
        action="send",
        outcome="submitted",
        now=now,
        user_id=new.user_id,
        channel_id=new.channel_id,
        team_id=new.team_id,
        send_id=send_id,
        detail=submission.audit_detail,
    )
    return await sends.get(db, send_id)
