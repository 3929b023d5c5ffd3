"""Block Kit and message text the bot shows in Slack, built as plain dicts and strings."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from bot.domain.errors import BSG_EXPLANATIONS, explain_bsg_code
from bot.domain.models import (
    FAILURE_STATUSES,
    PENDING_STATUSES,
    Balance,
    Channel,
    DeliveryStatus,
    MessageStatus,
    SendOutcome,
)
from bot.domain.phones import display
from bot.domain.wording import amount_text, plural

# ---------------------------------------------------------------- limits

# What the send modal lets a person type (BSG's and Viber's limits).
TEXT_MAX = 1000
SENDER_MAX = 14
BUTTON_CAPTION_MAX = 30
SMS_TEXT_MAX = 765
SMS_SENDER_MAX = 15
VALIDITY_MIN = 15
VALIDITY_MAX = 86400

# Slack's Block Kit limits.
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
HEADER_TEXT_MAX = 150
FALLBACK_TEXT_MAX = 3000

# How much of a message or a list the channel sees.
PREVIEW_CHARS = 200
RECIPIENTS_LISTED = 10
SUMMARY_NAMES = 10
HOME_SENDS_LISTED = 40
HOME_ERRORS_LISTED = 5
HISTORY_LISTED = 40
PRIVATE_NUMBERS_LISTED = 20

MODAL_CALLBACK_ID = "viber_send"
PROMOTIONAL_VALUE = "promotional"

# ---------------------------------------------------------------- words and emoji

_STATUS_EMOJI: dict[DeliveryStatus, str] = {
    DeliveryStatus.SCHEDULED: "🗓️",
    DeliveryStatus.DELIVERED: "✅",
    DeliveryStatus.READ: "👀",
    DeliveryStatus.EXPIRED: "⌛",
    DeliveryStatus.NOT_VIBER_USER: "🚫",
    DeliveryStatus.NOT_SERVICE_USER: "🚫",
    DeliveryStatus.REFUSED: "⛔",
    DeliveryStatus.UNKNOWN: "❔",
}

# Good news first, then what is still on its way, then what went wrong.
_STATUS_ORDER: tuple[DeliveryStatus, ...] = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
    *(s for s in DeliveryStatus if s in PENDING_STATUSES and s is not DeliveryStatus.UNKNOWN),
    *(s for s in DeliveryStatus if s in FAILURE_STATUSES),
    DeliveryStatus.UNKNOWN,
)

_SMS_EMOJI = "📱"
_SMS_FAILED_EMOJI = "📵"
_FALLBACK_EMOJI = "↪️"


def status_emoji(status: DeliveryStatus) -> str:
    """The emoji shown beside a status word."""
    if status in _STATUS_EMOJI:
        return _STATUS_EMOJI[status]
    return "❌" if status.is_failure else "⏳"


def status_text(status: DeliveryStatus) -> str:
    """A status as the channel reads it: `✅ delivered`."""
    return f"{status_emoji(status)} {status.label}"


def counts_line(counts: Mapping[DeliveryStatus, int]) -> str:
    """Per-status counts: `✅ delivered 2 · 👀 read 1 · ⏳ sent 3 · ❌ failed 1` ('' when none)."""
    ordered = [s for s in _STATUS_ORDER if counts.get(s)]
    ordered += [s for s in counts if counts[s] and s not in ordered]
    return " · ".join(f"{status_text(s)} {counts[s]}" for s in ordered)


# ---------------------------------------------------------------- text helpers


def escape(text: str) -> str:
    """Text safe to echo into a channel: `&`, `<` and `>` escaped, so nothing pings or links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_PARTIAL_TAG = re.compile(r"<[^>]*$")


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters with `…`, never mid entity (`&amp;`) or mention."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    newline = cut.rfind("\n")
    if newline > limit // 2:
        cut = cut[:newline]
    cut = _PARTIAL_TAG.sub("", _PARTIAL_ENTITY.sub("", cut))
    return cut + "…"


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The start of a person's text, escaped for the channel."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return escape(text)


def _quote(escaped: str) -> str:
    return "\n".join(f">{line}" if line else ">" for line in escaped.splitlines() or [""])


def _utc(moment: datetime) -> datetime:
    # BSG's times carry no zone and are UTC; so are ours when naive.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def clock(moment: datetime, *, seconds: bool = False) -> str:
    """`12:34 UTC` (or `12:34:56 UTC`)."""
    return _utc(moment).strftime("%H:%M:%S UTC" if seconds else "%H:%M UTC")


def stamp(moment: datetime) -> str:
    """`2026-01-15 12:34:56 UTC`."""
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def money(amount: Decimal, currency: str | None) -> str:
    """`0.08 USD`: at least two decimals, no trailing zeros past them."""
    if not amount.is_finite():
        return "unknown"
    words = amount_text(amount)
    if currency:
        words += f" {escape(currency.strip()[:8])}"
    return words


def _mention(user_id: str) -> str:
    # Only a well-formed user id becomes a mention; anything else is shown as text.
    if re.fullmatch(r"[UW][A-Z0-9]{1,30}", user_id):
        return f"<@{user_id}>"
    return escape(user_id)


def _code(text: str, limit: int = 40) -> str:
    # A backtick would end the code span early.
    inner = escape(clip(text.replace("`", "'"), limit))
    return f"`{inner}`"


def _numbers(msisdns: Sequence[str], masked: bool, listed: int) -> str:
    shown = ", ".join(display(m, masked) for m in msisdns[:listed])
    if len(msisdns) > listed:
        shown += f" … and {len(msisdns) - listed} more"
    return shown


# ---------------------------------------------------------------- Block Kit pieces


def _mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _plain(text: str, limit: int) -> dict:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(*texts: str) -> dict:
    parts = [t for t in texts if t][:CONTEXT_ELEMENTS_MAX]
    return {"type": "context", "elements": [_mrkdwn(t) for t in parts]}


def _header(text: str) -> dict:
    return {"type": "header", "text": _plain(text, HEADER_TEXT_MAX)}


def _input(
    block_id: str,
    label: str,
    element: dict,
    *,
    optional: bool = False,
    hint: str | None = None,
    dispatch: bool = False,
) -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if dispatch:
        # Each change is sent as a block action: the live estimate follows what is typed.
        block["dispatch_action"] = True
        block["element"]["dispatch_action_config"] = {
            "trigger_actions_on": ["on_character_entered"]
        }
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block


def _text_input(
    *,
    multiline: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
    initial_value: str | None = None,
) -> dict:
    element: dict = {"type": "plain_text_input", "multiline": multiline}
    if max_length is not None:
        element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = _plain(placeholder, 150)
    if initial_value:
        element["initial_value"] = initial_value[:max_length] if max_length else initial_value
    return element


def _url_input(placeholder: str) -> dict:
    return {"type": "url_text_input", "placeholder": _plain(placeholder, 150)}


# ---------------------------------------------------------------- the send modal


def estimate_placeholder() -> dict:
    """The modal's `estimate` context block before anything is typed (live_estimate fills it)."""
    return _context("📊 Estimate: add recipients and the text to see counts and price") | {
        "block_id": "estimate"
    }


def send_modal(
    *,
    channel_id: str,
    default_sender: str,
    command: str,
    default_region: str | None = None,
) -> dict:
    """The send modal (CONTRACT.md): every input's block_id equals its action_id."""
    numbers_hint = "Numbers with their country code (+380972920283, 00380… or 380…), "
    numbers_hint += "separated by commas, spaces or new lines."
    if default_region:
        numbers_hint += f" Numbers without a country code are read as {default_region} numbers."
    blocks = [
        _context(
            "Sends a Viber message through BSG and reports delivery in this channel. "
            f"Quick send without this form: `{escape(command)} send +380972920283 Hello`."
        ),
        _input(
            "recipients",
            "Recipients",
            _text_input(multiline=True, placeholder="+380972920283, +380972920282"),
            hint=numbers_hint,
            dispatch=True,
        ),
        _input(
            "recipients_file",
            "Recipients file",
            {"type": "file_input", "filetypes": ["csv", "txt"], "max_files": 1},
            optional=True,
            hint=(
                "Optional CSV: a `phone` column (or the first) and any others, used as "
                "{column} in the text, e.g. Hello {name}. Excel's CSV exports work."
            ),
        ),
        _input(
            "text",
            "Message",
            _text_input(multiline=True, max_length=TEXT_MAX, placeholder="Your order has shipped"),
            hint=f"Up to {TEXT_MAX} characters.",
            dispatch=True,
        ),
        estimate_placeholder(),
        _input(
            "sender",
            "Sender name",
            _text_input(max_length=SENDER_MAX, initial_value=default_sender),
            hint=f"The sender name registered with BSG (up to {SENDER_MAX} characters).",
        ),
        _input(
            "promotional",
            "Message type",
            {
                "type": "checkboxes",
                "options": [
                    {
                        "text": _plain("Promotional", 75),
                        "description": _plain(
                            "Marketing content. Leave unticked for transactional messages.", 75
                        ),
                        "value": PROMOTIONAL_VALUE,
                    }
                ],
            },
            optional=True,
        ),
        {"type": "divider"},
        _input(
            "image_url",
            "Image URL",
            _url_input("https://example.com/picture.png"),
            optional=True,
            hint="An image needs the button below too (BSG's rule).",
        ),
        _input(
            "button_caption",
            "Button caption",
            _text_input(max_length=BUTTON_CAPTION_MAX, placeholder="Track order"),
            optional=True,
            hint="A button needs both a caption and a URL.",
        ),
        _input(
            "button_url",
            "Button URL",
            _url_input("https://example.com/track"),
            optional=True,
        ),
        {"type": "divider"},
        _input(
            "sms_text",
            "SMS fallback text",
            _text_input(multiline=True, max_length=SMS_TEXT_MAX),
            optional=True,
            hint="Sent by SMS when Viber cannot deliver. Leave empty for no SMS fallback.",
            dispatch=True,
        ),
        _input(
            "sms_sender",
            "SMS sender",
            _text_input(max_length=SMS_SENDER_MAX, placeholder="Defaults to the sender name"),
            optional=True,
            hint="3 to 15 characters; the sender name is used when left empty.",
        ),
        _input(
            "send_at",
            "Send at",
            {"type": "datetimepicker"},
            optional=True,
            hint="In your time zone. Leave empty to send now.",
        ),
        _input(
            "validity",
            "Validity (seconds)",
            {
                "type": "number_input",
                "is_decimal_allowed": False,
                "min_value": str(VALIDITY_MIN),
                "max_value": str(VALIDITY_MAX),
                "placeholder": _plain(str(VALIDITY_MAX), 150),
            },
            optional=True,
            hint=f"How long the message may wait for delivery: {VALIDITY_MIN} to "
            f"{VALIDITY_MAX} seconds (BSG's default is {VALIDITY_MAX}).",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK_ID,
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "title": _plain("Send Viber message", 24),
        "submit": _plain("Send", 24),
        "close": _plain("Cancel", 24),
        "blocks": blocks,
    }


def modal_channel(private_metadata: str) -> str | None:
    """The channel id `send_modal` stored in the view, or None when it is not there."""
    try:
        data = json.loads(private_metadata or "")
    except ValueError:
        return None
    channel = data.get("channel_id") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) and channel else None


# ---------------------------------------------------------------- the parent message


@dataclass(frozen=True)
class RecipientLine:
    """One recipient as the parent message shows it."""

    msisdn: str
    status: DeliveryStatus
    sms_status: DeliveryStatus | None = None
    bsg_id: str | None = None
    error_code: int | None = None
    error_description: str | None = None

    @property
    def refused(self) -> bool:
        return self.status is DeliveryStatus.REFUSED or self.error_code is not None


@dataclass(frozen=True)
class ParentView:
    """Everything the parent message in the channel shows about one send."""

    user_id: str
    text: str
    sender: str
    recipients: Sequence[RecipientLine]
    # Per-status counts of the Viber messages; counted from `recipients` when empty.
    counts: Mapping[DeliveryStatus, int] = field(default_factory=dict)
    total_cost: Decimal | None = None  # Viber and SMS together
    currency: str | None = None
    last_checked: datetime | None = None
    scheduled_for: datetime | None = None
    mask: bool = True
    promotional: bool = False
    # Links and notes (retries, resends, exports) and the card's action buttons.
    notes: Sequence[str] = ()
    actions: dict | None = None
    opted_out: Sequence[str] = ()  # left out of the send: they opted out
    collapsed: int = 0  # numbers given more than once, sent once


def _tally(statuses: Sequence[DeliveryStatus | None]) -> dict[DeliveryStatus, int]:
    counts: dict[DeliveryStatus, int] = {}
    for status in statuses:
        if status is not None:
            counts[status] = counts.get(status, 0) + 1
    return counts


def _recipient_line(line: RecipientLine, masked: bool) -> str:
    words = f"• {display(line.msisdn, masked)} — {status_text(line.status)}"
    if line.sms_status is not None:
        words += f" · {_SMS_EMOJI} SMS {status_text(line.sms_status)}"
    if line.bsg_id:
        words += f" · BSG id {_code(line.bsg_id)}"
    return words


def _refusal_line(line: RecipientLine, masked: bool) -> str:
    who = display(line.msisdn, masked)
    if line.error_code is None:
        return f"• {who} — {status_text(line.status)}"
    words = f"• {who} — code {line.error_code}: {escape(explain_bsg_code(line.error_code))}"
    if line.error_description and line.error_code not in BSG_EXPLANATIONS:
        words += f" (“{escape(clip(line.error_description, 100))}”)"
    return words


def _listing(title: str, lines: list[str], total: int) -> str:
    """A titled list that fits one section: as many lines as fit, then `… and N more`."""
    text = f"*{title}*"
    room = SECTION_TEXT_MAX - 40  # kept for the `… and N more` line
    shown = 0
    for line in lines:
        if len(text) + 1 + len(line) > room:
            break
        text += "\n" + line
        shown += 1
    if total > shown:
        text += f"\n… and {total - shown} more"
    return text


def parent_message(view: ParentView) -> tuple[str, list[dict]]:
    """The channel's parent post for one send: (fallback text, blocks)."""
    accepted = [r for r in view.recipients if not r.refused]
    refused = [r for r in view.recipients if r.refused]
    counts = view.counts or _tally([r.status for r in view.recipients])
    sms_counts = _tally([r.sms_status for r in view.recipients])
    kind = "promotional" if view.promotional else "transactional"
    total = len(view.recipients)

    intro = (
        f"📨 {_mention(view.user_id)} sent a {kind} Viber message as "
        f"*{escape(view.sender)}* to {plural(total, 'recipient')}"
    )
    if view.scheduled_for is not None:
        intro += f"\n🗓️ Scheduled for {stamp(view.scheduled_for)}"
    blocks = [_section(intro), _section(_quote(preview(view.text)))]
    if accepted:
        lines = [_recipient_line(r, view.mask) for r in accepted[:RECIPIENTS_LISTED]]
        blocks.append(_section(_listing("Recipients", lines, len(accepted))))
    if refused:
        lines = [_refusal_line(r, view.mask) for r in refused[:RECIPIENTS_LISTED]]
        blocks.append(_section(_listing(f"Refused by BSG ({len(refused)})", lines, len(refused))))
    if view.opted_out:
        lines = [f"• {display(m, view.mask)}" for m in view.opted_out[:RECIPIENTS_LISTED]]
        title = f"Skipped: opted out ({len(view.opted_out)})"
        blocks.append(_section(_listing(title, lines, len(view.opted_out))))

    facts = [counts_line(counts)]
    if sms_counts:
        facts.append(f"{_SMS_EMOJI} SMS: {counts_line(sms_counts)}")
    if view.total_cost is not None:
        facts.append(f"💰 {money(view.total_cost, view.currency)}")
    if view.collapsed:
        facts.append(f"{plural(view.collapsed, 'duplicate')} collapsed")
    if view.last_checked is not None:
        facts.append(f"last checked {clock(view.last_checked, seconds=True)}")
    if any(facts):
        blocks.append(_context(*facts))
    if view.notes:
        blocks.append(_context(*view.notes))
    if view.actions is not None:
        blocks.append(view.actions)

    fallback = (
        f"Viber message from {_mention(view.user_id)} to {plural(total, 'recipient')}: "
        f"{preview(view.text, 100)}"
    )
    return clip(fallback, FALLBACK_TEXT_MAX), blocks[:MESSAGE_BLOCKS_MAX]


# ---------------------------------------------------------------- thread replies


@dataclass(frozen=True)
class ReplyEvent:
    """One status change of one recipient, as a thread reply tells it."""

    msisdn: str
    channel: Channel
    status: DeliveryStatus
    at: datetime
    price: Decimal | None = None
    currency: str | None = None
    mask: bool = True


def _capitalised(words: str) -> str:
    return words[:1].upper() + words[1:]


def _headline(channel: Channel, status: DeliveryStatus) -> tuple[int, str, str]:
    """(rank for ordering, emoji, words) of a change, e.g. (0, '✅', 'Delivered')."""
    if channel is Channel.SMS:
        if status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
            return 3, _SMS_EMOJI, "SMS delivered"
        if status.is_failure:
            return 5, _SMS_FAILED_EMOJI, "SMS failed"
        return 2, _FALLBACK_EMOJI, "Fell back to SMS"
    if status is DeliveryStatus.DELIVERED:
        return 0, status_emoji(status), "Delivered"
    if status is DeliveryStatus.READ:
        return 1, status_emoji(status), "Read"
    if status.is_failure:
        return 4, status_emoji(status), _capitalised(status.label)
    return 6, status_emoji(status), _capitalised(status.label)


def reply_line(event: ReplyEvent) -> str:
    """One thread reply: `✅ Delivered — +380 ••••• 0283 · 12:34 UTC · 0.08 USD`."""
    _, emoji, words = _headline(event.channel, event.status)
    if (
        event.channel is Channel.SMS
        and event.status.is_failure
        and event.status is not DeliveryStatus.FAILED
    ):
        words += f" ({event.status.label})"
    line = f"{emoji} {words} — {display(event.msisdn, event.mask)} · {clock(event.at)}"
    if event.price is not None:
        line += f" · {money(event.price, event.currency)}"
    return line


def summary_reply(events: Sequence[ReplyEvent], mask: bool) -> str:
    """One reply for many changes, grouped by what happened ('' when there are none)."""
    if not events:
        return ""
    groups: dict[tuple[int, str, str], list[ReplyEvent]] = {}
    for event in events:
        groups.setdefault(_headline(event.channel, event.status), []).append(event)

    lines = [f"📊 Status update at {clock(max(e.at for e in events))}"]
    for (_, emoji, words), members in sorted(groups.items()):
        msisdns = list(dict.fromkeys(e.msisdn for e in members))
        line = f"{emoji} {words} ({len(msisdns)}): {_numbers(msisdns, mask, SUMMARY_NAMES)}"
        cost = _total(members)
        if cost:
            line += f" · {cost}"
        lines.append(line)
    return clip("\n".join(lines), SECTION_TEXT_MAX)


def _total(events: Sequence[ReplyEvent]) -> str:
    priced = [e for e in events if e.price is not None]
    currencies = {e.currency for e in priced}
    if not priced or len(currencies) != 1:
        return ""
    amount = sum((e.price or Decimal(0) for e in priced), Decimal(0))
    return money(amount, currencies.pop())


# ---------------------------------------------------------------- private answers


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
        title += f" id {_code(status.bsg_id)}"
    if status.reference:
        title += f" · reference {_code(status.reference)}"
    if not status.bsg_id and not status.reference:
        title += f" {_code(query)}"
    lines = [title]
    if status.msisdn:
        lines.append(f"To {display(status.msisdn, False)}")
    state = f"Status: {status_text(status.status)}"
    if status.status is DeliveryStatus.UNKNOWN and status.raw_status:
        state += f" (BSG said {_code(status.raw_status)})"
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
        sms = f"SMS fallback: {_SMS_EMOJI} {status_text(status.sms.status)}"
        if status.sms.bsg_id:
            sms += f" · id {_code(status.sms.bsg_id)}"
        if status.sms.price is not None:
            sms += f" · {money(status.sms.price, status.sms.currency or status.currency)}"
        lines.append(sms)
    if text:
        lines.append("Text: " + _quote(preview(text)))
    if note:
        lines.append(f"_{escape(note)}_")
    if history:
        lines.append("*History*")
        ordered = sorted(history, key=lambda item: _utc(item[0]))
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
        text += "\nNothing was sent to " + _numbers(recipients, False, PRIVATE_NUMBERS_LISTED) + "."
    else:
        text += "\nNothing was sent."
    return clip(text, SECTION_TEXT_MAX)


# ---------------------------------------------------------------- App Home


@dataclass(frozen=True)
class HomeSend:
    """One recent send as App Home lists it."""

    created_at: datetime
    user_id: str
    recipient_count: int
    counts: Mapping[DeliveryStatus, int] = field(default_factory=dict)
    total_cost: Decimal | None = None
    currency: str | None = None
    msisdns: Sequence[str] = ()  # the first few recipients, shown masked
    text: str = ""
    outcome: SendOutcome | None = None
    error_code: int | None = None


@dataclass(frozen=True)
class PollerHealth:
    """How the status poller is doing, for App Home."""

    last_sweep: datetime | None
    due: int
    recent_errors: Sequence[str] = ()


def _home_send(send: HomeSend, masked: bool) -> str:
    first = f"*{_utc(send.created_at).strftime('%Y-%m-%d %H:%M UTC')}* · {_mention(send.user_id)}"
    first += f" · {plural(send.recipient_count, 'recipient')}"
    if send.msisdns:
        first += f" ({_numbers(list(send.msisdns), masked, 3)})"
    facts = []
    if send.outcome is SendOutcome.REFUSED:
        refused = "⛔ refused by BSG"
        if send.error_code is not None:
            refused += f" (code {send.error_code})"
        facts.append(refused)
    elif send.outcome in (SendOutcome.PENDING, SendOutcome.NOT_SENT):
        facts.append(status_text(DeliveryStatus(send.outcome.value)))
    if send.counts:
        facts.append(counts_line(send.counts))
    if send.total_cost is not None:
        facts.append(f"💰 {money(send.total_cost, send.currency)}")
    lines = [first]
    if any(facts):
        lines.append(" · ".join(f for f in facts if f))
    if send.text:
        lines.append(_quote(preview(send.text, 80)))
    return "\n".join(lines)


def app_home(
    *,
    sends: Sequence[HomeSend],
    health: PollerHealth,
    balance: Balance | None,
    mask: bool = True,
    command: str = "/viber",
    lists: Sequence[tuple[str, int]] = (),
) -> dict:
    """The App Home tab: recent sends, poller health, BSG balance and saved lists (≤100 blocks)."""
    money_left = money(balance.amount, balance.currency) if balance is not None else "unavailable"
    sweep = (
        f"last sweep {stamp(health.last_sweep)}"
        if health.last_sweep is not None
        else "no sweep yet"
    )
    poller = f"🩺 *Status poller:* {sweep} · {plural(health.due, 'message')} due"
    errors = [f"• {escape(clip(e, 200))}" for e in health.recent_errors[:HOME_ERRORS_LISTED]]
    if errors:
        poller += "\n*Recent errors*\n" + "\n".join(errors)
    blocks: list[dict] = [
        _header("Viber messages"),
        _section(f"💰 *BSG balance:* {money_left}"),
        _section(poller),
        _context(f"Send with `{escape(command)}` in a channel; `{escape(command)} help` for more."),
        {"type": "divider"},
    ]
    if lists:
        shown_lists = [f"• `@{escape(name)}` — {plural(size, 'number')}" for name, size in lists]
        blocks += [_section(_listing(f"Saved lists ({len(lists)})", shown_lists, len(lists)))]
        blocks.append({"type": "divider"})
    blocks.append(_header("Recent sends"))
    shown = sends[:HOME_SENDS_LISTED]
    blocks += [_section(_home_send(send, mask)) for send in shown]
    if not sends:
        blocks.append(_section("No sends yet."))
    elif len(sends) > len(shown):
        blocks.append(_context(f"… and {len(sends) - len(shown)} older sends not shown"))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_MAX]}
