"""Old import path of the Slack renderers, kept while branches written against it land.

New code imports from the module that owns the surface: modal, parent, replies, private,
app_home, bsg_errors, kit (Block Kit pieces) or text (shared words and marks).
"""

from __future__ import annotations

from bot.slack.render.app_home import HomeSend, PollerHealth, app_home
from bot.slack.render.bsg_errors import BSG_EXPLANATIONS, explain_bsg_code
from bot.slack.render.kit import context, header, mrkdwn, plain, section
from bot.slack.render.modal import (
    MODAL_CALLBACK_ID,
    PROMOTIONAL_VALUE,
    estimate_placeholder,
    modal_channel,
    send_modal,
)
from bot.slack.render.parent import ParentView, RecipientLine, parent_message
from bot.slack.render.private import refusal_text, status_answer, usage_text
from bot.slack.render.replies import ReplyEvent, reply_line, summary_reply
from bot.slack.render.text import (
    clip,
    clock,
    counts_line,
    escape,
    money,
    preview,
    stamp,
    status_emoji,
    status_text,
)

__all__ = [
    "BSG_EXPLANATIONS",
    "MODAL_CALLBACK_ID",
    "PROMOTIONAL_VALUE",
    "HomeSend",
    "ParentView",
    "PollerHealth",
    "RecipientLine",
    "ReplyEvent",
    "app_home",
    "clip",
    "clock",
    "context",
    "counts_line",
    "escape",
    "estimate_placeholder",
    "explain_bsg_code",
    "header",
    "modal_channel",
    "money",
    "mrkdwn",
    "parent_message",
    "plain",
    "preview",
    "refusal_text",
    "reply_line",
    "section",
    "send_modal",
    "stamp",
    "status_answer",
    "status_emoji",
    "status_text",
    "summary_reply",
    "usage_text",
]
