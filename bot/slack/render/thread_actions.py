"""Wording and Block Kit of the parent card's actions: buttons, confirmations, notes, CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bot.domain.limits import BUTTON_TEXT_MAX, VIEW_TITLE_MAX
from bot.domain.models import StoredMessage
from bot.domain.phones import display
from bot.domain.spreadsheet import ERROR_COLUMNS, RECIPIENT_COLUMNS, recipient_cells
from bot.domain.wording import plural
from bot.slack.render.kit import notice_modal, plain, section
from bot.slack.render.text import escape, mention, money

RETRY_FAILED = "retry_failed"
RESEND_SMS = "resend_sms"
EXPORT_CSV = "export_csv"
THREAD_ACTIONS = (RETRY_FAILED, RESEND_SMS, EXPORT_CSV)
CONFIRM_CALLBACK_ID = "viber_thread_action"

_LABELS = {
    RETRY_FAILED: "🔁 Retry failed",
    RESEND_SMS: "📱 Resend as SMS",
    EXPORT_CSV: "📎 Export CSV",
}
_VERBS = {RETRY_FAILED: "Retry", RESEND_SMS: "Send SMS", EXPORT_CSV: "Export"}


def card_actions(send_id: int) -> dict[str, Any]:
    """The parent card's buttons; each value is the send's id."""
    return {
        "type": "actions",
        "block_id": "thread_actions",
        "elements": [
            {
                "type": "button",
                "action_id": action,
                "text": plain(_LABELS[action], BUTTON_TEXT_MAX),
                "value": str(send_id),
            }
            for action in THREAD_ACTIONS
        ],
    }


def permalink(channel_id: str, ts: str) -> str:
    """A link to a message Slack resolves in any workspace the reader is in."""
    return f"https://slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


def retry_of_note(channel_id: str, parent_ts: str | None) -> str:
    if parent_ts:
        return f"🔁 Retry of <{permalink(channel_id, parent_ts)}|an earlier send>"
    return "🔁 Retry of an earlier send"


def retried_as_note(user_id: str, count: int, channel_id: str, parent_ts: str | None) -> str:
    words = f"🔁 {mention(user_id)} retried {plural(count, 'failed recipient')}"
    if parent_ts:
        words += f": <{permalink(channel_id, parent_ts)}|the retry>"
    return words


def resent_note(user_id: str, count: int) -> str:
    return f"📱 {mention(user_id)} resent {plural(count, 'recipient')} as SMS"


def exported_note(user_id: str) -> str:
    return f"📎 {mention(user_id)} exported the recipients as CSV"


def _what(action: str, count: int) -> str:
    if action == RETRY_FAILED:
        return (
            f"Send the Viber message again to *{plural(count, 'recipient')}* whose Viber "
            "and SMS both failed, undelivered, expired or were rejected. New references are used; "
            "the retry is linked to this send."
        )
    if action == RESEND_SMS:
        return (
            f"Send an SMS through BSG's SMS API to *{plural(count, 'recipient')}* the Viber "
            "message did not reach. Its delivery is reported in this thread."
        )
    return f"Upload the per-recipient CSV (*{plural(count, 'row')}*) to this send's thread."


def _estimate(action: str, amount: Decimal | None, currency: str | None, checking: bool) -> str:
    if action == EXPORT_CSV:
        return "Costs nothing."
    if checking:
        return "Estimate: checking with BSG…"
    if amount is None:
        return "Estimate: price unavailable (BSG did not answer)"
    return f"Estimate: *{money(amount, currency)}*"


def confirm_view(
    *,
    action: str,
    send_id: int,
    count: int,
    amount: Decimal | None,
    currency: str | None,
    checking: bool,
    note: str | None = None,
) -> dict[str, Any]:
    """The confirmation a card button opens: what it does, to how many, for how much."""
    blocks = [
        section(_what(action, count)),
        section(_estimate(action, amount, currency, checking)),
    ]
    if note:
        blocks.append(section(note))
    return {
        "type": "modal",
        "callback_id": CONFIRM_CALLBACK_ID,
        "private_metadata": json.dumps(
            {
                "send_id": send_id,
                "action": action,
                "amount": None if amount is None else str(amount),
                "currency": currency,
            }
        ),
        "title": plain(_LABELS[action].split(" ", 1)[1], VIEW_TITLE_MAX),
        "submit": plain(_VERBS[action], VIEW_TITLE_MAX),
        "close": plain("Cancel", VIEW_TITLE_MAX),
        "blocks": blocks,
    }


def notice_view(text: str) -> dict[str, Any]:
    """A modal that only says something (an action refused or already done)."""
    return notice_modal(CONFIRM_CALLBACK_ID, text)


def nothing_to_do(action: str) -> str:
    if action == RETRY_FAILED:
        return (
            "No recipient of this send ended failed, undelivered, expired or rejected on both "
            "Viber and SMS: there is nothing to retry."
        )
    if action == RESEND_SMS:
        return (
            "Every recipient of this send was delivered on Viber or by SMS already (or is "
            "still on its way): there is nothing to resend."
        )
    return "This send has no recipients to export."


def already_done(action: str, user_id: str) -> str:
    done = {RETRY_FAILED: "retried", RESEND_SMS: "resent as SMS", EXPORT_CSV: "exported"}[action]
    return f"This send was already {done} by {mention(user_id)}: each action acts once."


def not_allowed() -> str:
    return (
        "Only the person who sent this message, or the people allowed to send, may use its buttons."
    )


def announce(
    action: str, user_id: str, count: int, amount: Decimal | None, currency: str | None
) -> str:
    cost = f" (estimated {money(amount, currency)})" if amount is not None else ""
    if action == RETRY_FAILED:
        return (
            f"🔁 {mention(user_id)} is retrying {plural(count, 'failed recipient')}{cost}: "
            "the retry is posted in the channel."
        )
    if action == RESEND_SMS:
        return (
            f"📱 {mention(user_id)} is resending {plural(count, 'recipient')} as SMS{cost}; "
            "delivery follows here."
        )
    return f"📎 {mention(user_id)} exported the recipients as CSV."


def nothing_sent(reason: str) -> str:
    return f"Nothing was sent. {escape(reason)}"


UNKNOWN_SEND = "That send is not known to viber-bot."
CONFIRMATION_NOT_OPENED = "Slack did not open the confirmation in time: press the button again."


def upload_failed() -> str:
    return "The CSV could not be uploaded to the thread just now; press Export CSV again."


def sms_refused(count: int, code: int, explanation: str) -> str:
    who = plural(count, "recipient")
    return f"⛔ BSG refused the SMS to {who} (code {code}): {escape(explanation)}."


def cannot_sms(reason: str) -> str:
    return f"Nothing can be resent as SMS: {escape(reason)}"


# ---------------------------------------------------------------- the CSV


CSV_COLUMNS = (*RECIPIENT_COLUMNS, *ERROR_COLUMNS, "resend_sms_status")


def recipients_csv(
    messages: Sequence[StoredMessage], resent: dict[int, str], *, mask: bool
) -> bytes:
    """One row per recipient; numbers masked as the channel shows them when masking is on."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for m in messages:
        cells = recipient_cells(m, display(m.msisdn, mask))
        cells["resend_sms_status"] = resent.get(m.id, "")
        writer.writerow([cells[column] for column in CSV_COLUMNS])
    return out.getvalue().encode("utf-8")
