"""The parent card's actions: retry_failed, resend_sms and export_csv, each once per send, and
the tracking of the SMS that resend_sms sends (GET /sms/{id}, replies in the send's thread).

`service` holds ThreadActions (who, what, the claim, the dispatch); one module per action
(`retry`, `resend`, `export`) and `sms_tracking` beside it.
"""

from __future__ import annotations

from bot.slack.thread_actions.results import ActionRefused, ActionResult
from bot.slack.thread_actions.service import ThreadActions

__all__ = ["ActionRefused", "ActionResult", "ThreadActions"]
