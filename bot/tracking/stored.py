"""What tracking reads back from a stored send: its content, and a refusal as stored."""

from __future__ import annotations

from bot.domain.errors import BsgRefused
from bot.domain.models import BsgErrorInfo, MessageContent, Send


def content_of(send: Send) -> MessageContent:
    """The send's content as it was composed (kept in its options)."""
    return MessageContent.model_validate(send.options["content"])


def refusal_info(refusal: BsgRefused) -> BsgErrorInfo:
    """BSG's refusal as stored on each message it concerns."""
    return BsgErrorInfo(code=refusal.code, description=refusal.description)
