"""Private answers to the person who typed a command or whose send BSG refused (ephemeral).

Private answers may show full numbers (CONTRACT.md); the channel never sees these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.errors import AccessDenied, Denial
from bot.domain.limits import SECTION_TEXT_MAX
from bot.domain.models import Channel, DeliveryStatus, MessageStatus
from bot.domain.phones import display
from bot.domain.wording import plural
from bot.slack.render.bsg_errors import explain_bsg_code
from bot.slack.render.text import (
    SMS_EMOJI,
    as_utc,
    clip,
    code_span,
    escape,
    money,
    numbers_list,
    preview,
    quote,
    stamp,
    status_text,
)

HISTORY_LISTED = 40


def denied(denial: AccessDenied) -> str:
    """Why this person may not send from here, in their words (the send allow-lists, direct
    messages, the recipient limit, the daily quota)."""
    match denial.why:
        case Denial.USER:
            return "You are not on the list of people allowed to send Viber messages."
        case Denial.CHANNEL:
            return "Viber messages cannot be sent from this channel."
        case Denial.DIRECT_MESSAGE:
            return (
                "Send from a channel, not a direct message: viber-bot posts the message and "
                "its delivery updates in the channel it was sent from."
            )
        case Denial.TOO_MANY:
            return (
                f"{denial.recipients} recipients is more than the {denial.limit} allowed "
                "in one send."
            )
        case Denial.QUOTA:
            left = max(0, denial.limit - denial.used)
            return (
                f"This send would exceed your daily quota of {denial.limit} recipients "
                f"({denial.used} used today, {left} left). It resets at 00:00 UTC."
            )


def read_denied(why: Denial) -> str:
    """Why this person may not look messages, lists or opt-outs up here."""
    if why is Denial.CHANNEL:
        return "viber-bot cannot be used from this channel."
    return "You are not on the list of people allowed to use viber-bot."


PRIVATE_NUMBERS_LISTED = 20


def status_answer(
    *,
    query: str,
    status: MessageStatus,
    history: Sequence[tuple[datetime, Channel, DeliveryStatus]] = (),
    note: str | None = None,
    text: str | None = None,
) -> str:
    """The private answer to `/viber status <id-or-reference>` (full numbers allowed).

    `text` is what this recipient was sent (their own text, for a send with personal texts).
    """
    title = "*Viber message*"
    if status.bsg_id:
        title += f" id {code_span(status.bsg_id)}"
    if status.reference:
        title += f" · reference {code_span(status.reference)}"
    if not status.bsg_id and not status.reference:
        title += f" {code_span(query)}"
    lines = [title]
    if status.msisdn:
        lines.append(f"To {display(status.msisdn, False)}")
    state = f"Status: {status_text(status.status)}"
    if status.status is DeliveryStatus.UNKNOWN and status.raw_status:
        state += f" (BSG said {code_span(status.raw_status)})"
    times = [
        f"{word} {stamp(moment)}"
        for word, moment in (
            ("received", status.time_in),
            ("sent", status.time_sent),
            ("reported", status.time_dr),
        )
        if moment is not None
    ]
    if times:
        state += f" ({', '.join(times)})"
    lines.append(state)
    if status.price is not None:
        lines.append(f"Price: {money(status.price, status.currency)}")
    if status.sms is None:
        lines.append("SMS fallback: none")
    else:
        sms = f"SMS fallback: {SMS_EMOJI} {status_text(status.sms.status)}"
        if status.sms.bsg_id:
            sms += f" · id {code_span(status.sms.bsg_id)}"
        if status.sms.price is not None:
            sms += f" · {money(status.sms.price, status.sms.currency or status.currency)}"
        lines.append(sms)
    if text:
        lines.append("Text: " + quote(preview(text)))
    if note:
        lines.append(f"_{escape(note)}_")
    if history:
        lines.append("*History*")
        ordered = sorted(history, key=lambda item: as_utc(item[0]))
        if len(ordered) > HISTORY_LISTED:
            lines.append(f"… {len(ordered) - HISTORY_LISTED} earlier changes not shown")
            ordered = ordered[-HISTORY_LISTED:]
        for moment, channel, change in ordered:
            route = "SMS" if channel is Channel.SMS else "Viber"
            lines.append(f"• {stamp(moment)} · {route} · {status_text(change)}")
    return clip("\n".join(lines), SECTION_TEXT_MAX)


def usage_text(command: str, *, default_region: str | None = None) -> str:
    """Help for the slash command, answered privately."""
    c = escape(command)
    numbers = (
        "Numbers need their country code: `+380972920283`, `00380972920283` or `380972920283`."
    )
    if default_region:
        numbers += f" Numbers without one are read as {escape(default_region)} numbers."
    return "\n".join(
        [
            f"*{c}* sends Viber messages through BSG and reports delivery in the channel.",
            f"• `{c}` or `{c} new`: open the send form (sender, image, button, SMS fallback, "
            "schedule, validity)",
            f"• `{c} send <numbers> <text…>`: send at once with the default sender "
            "(transactional). `<numbers>` is one token, numbers separated by commas: "
            f"`{c} send +380972920283,380972920282 Your order has shipped`",
            f"• `{c} status <id-or-reference>`: the message's current status and history, "
            "shown only to you",
            f"• `{c} lists`, `{c} list show|add|remove|delete NAME <numbers>`: saved lists; "
            f"send to one with `@NAME` where numbers go (`{c} send @kyiv-pickup Hello`)",
            f"• `{c} optout <numbers> [reason…]`, `{c} optin <numbers>`, `{c} optouts`: numbers "
            "that are never sent to",
            f"• `{c} help`: this help",
            numbers,
        ]
    )


def refusal_text(
    error_code: int,
    description: str | None = None,
    explanation: str | None = None,
    recipients: Sequence[str] = (),
) -> str:
    """The private answer when BSG refuses a whole send: `BSG refused the send (code 45): …`."""
    why = escape(explanation or explain_bsg_code(error_code))
    text = f"⛔ BSG refused the send (code {error_code}): {why}."
    if description:
        text += f" BSG said: “{escape(clip(description, 300))}”."
    if recipients:
        shown = numbers_list(recipients, False, PRIVATE_NUMBERS_LISTED)
        text += f"\nNothing was sent to {shown}."
    else:
        text += "\nNothing was sent."
    return clip(text, SECTION_TEXT_MAX)


# ---------------------------------------------------------------- answers to the slash command


def unknown_verb(word: str, usage: str) -> str:
    """`I don't know `frobnicate`.` followed by the usage."""
    return f"I don't know `{escape(word[:40])}`.\n{usage}"


def send_needs_numbers(command: str) -> str:
    example = f"{escape(command)} send +380972920283 Your order has shipped"
    return f"Say who to send to and what: `{example}`"


def send_needs_text(command: str, numbers: str) -> str:
    return (
        "There is no text to send. Write it after the numbers: "
        f"`{escape(command)} send {escape(numbers[:60])} Hello`"
    )


def nothing_sent(problems: str) -> str:
    """A send refused before anything went out: what typed input or access rule was wrong."""
    return f"Nothing was sent.\n{escape(problems)}"


def nothing_sent_denied(denial: AccessDenied) -> str:
    return f"Nothing was sent. {escape(denied(denial))}"


ALREADY_RECEIVED = "That command was already received; it is sent once."


def sending_to(count: int) -> str:
    """The ack of `/viber send`: `Sending to 2 recipients…`."""
    return f"Sending to {plural(count, 'recipient')}…"


def status_needs_token(command: str) -> str:
    return f"Which message? `{escape(command)} status <id-or-reference>`"


def looking_up(token: str) -> str:
    return f"Looking up `{escape(token[:64])}`…"


def no_such_message(token: str) -> str:
    return f"BSG has no message `{escape(token[:64])}`."


def refused_note(code: int) -> str:
    """The status answer's note for a message BSG refused at create time."""
    return f"BSG refused it (code {code}): {explain_bsg_code(code)}."


NO_RECORD_NOTE = "BSG has no record of it."
BSG_SILENT_NOTE = "BSG did not answer just now; this is the last status viber-bot saw."

# ---------------------------------------------------------------- modal errors (by block id)
UNREADABLE_TIME = "That time cannot be read."
MODAL_WITHOUT_CHANNEL = "Open this form with the slash command in a channel."


# ---------------------------------------------------------------- what became of a send


def never_sent_text(recipients: int) -> str:
    """Reconciliation proved BSG never took the send."""
    return (
        f":warning: Your Viber message to {plural(recipients, 'recipient')} was *not sent*: "
        "BSG never confirmed it and has no record of it. Nothing was charged; "
        "send it again if it is still needed."
    )


def partly_never_sent_text(msisdns: Sequence[str]) -> str:
    """Others went out (the parent says so); BSG has no record of these."""
    numbers = ", ".join(msisdns[:PRIVATE_NUMBERS_LISTED])
    return (
        f":warning: {len(msisdns)} recipient(s) of your Viber message were *not sent*: BSG has "
        f"no record of them ({numbers}). Nothing was charged for them; send again if it is "
        "still needed."
    )


def unconfirmed_text(recipients: int | None) -> str:
    """BSG did not answer the create in time; reconciliation will settle it."""
    which = "" if recipients is None else f" about {recipients} of the recipients"
    return (
        f":hourglass: BSG did not answer in time{which}. viber-bot will check with BSG by "
        "the message's reference and post in the channel once it is confirmed; nothing "
        "will be sent twice."
    )


def parent_not_posted_text(reason: str, command: str, bsg_ids: Sequence[str]) -> str:
    """The send went out, but Slack refused the parent for good: tell the sender privately."""
    follow = f" Follow it with `{command} status {bsg_ids[0]}`." if bsg_ids else ""
    return (
        ":warning: Your Viber message was sent through BSG, but viber-bot could not "
        f"post it in this channel (Slack said `{reason}`), so delivery updates "
        f"will not appear here. Invite the bot to the channel.{follow}"
    )
