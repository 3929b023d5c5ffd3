"""Turn what a person typed (slash command or modal) into a validated send, or say what is wrong."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.domain.errors import InputError
from bot.domain.field_problems import FieldFault, FieldProblem
from bot.domain.limits import (
    BUTTON_CAPTION_MAX,
    RECIPIENTS_TEXT_MAX,
    SENDER_MAX,
    SMS_SENDER_MAX,
    SMS_SENDER_MIN,
    SMS_TEXT_MAX,
    TEXT_MAX,
    URL_MAX,
    VALIDITY_MAX,
    VALIDITY_MIN,
)
from bot.domain.models import Composed, MessageContent, SmsFallback
from bot.domain.recipients import ListLookup, resolve_recipients
from bot.domain.recipients_file import parse_recipients_file, render, variables
from bot.settings import Settings
from bot.slack.render import input_errors


@dataclass
class Draft:
    """The raw fields of a send, as typed (None = left empty)."""

    recipients: str
    text: str | None
    sender: str | None = None
    promotional: bool = False
    image_url: str | None = None
    button_caption: str | None = None
    button_url: str | None = None
    sms_text: str | None = None
    sms_sender: str | None = None
    send_at: datetime | None = None
    validity: str | int | None = None


@dataclass
class ComposeErrors(InputError):
    """Field-by-field problems, keyed by the modal's block ids, worded for the person."""

    errors: dict[str, str] = field(default_factory=dict)
    # What compose found, typed (`errors` holds their words, from render/input_errors.py).
    problems: dict[str, FieldProblem] = field(default_factory=dict)

    def __post_init__(self) -> None:
        InputError.__init__(self, self.summary())

    @classmethod
    def found(cls, problems: dict[str, FieldProblem]) -> ComposeErrors:
        return cls(errors=input_errors.field_errors(problems), problems=problems)

    def summary(self) -> str:
        return "\n".join(f"• {message}" for message in self.errors.values())


def _blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


# Invisible characters ordinary text carries: new lines and tabs, the joiners of emoji
# sequences, the directional marks right-to-left keyboards type (LRM, RLM, ALM).
_ALLOWED_FORMAT = frozenset("\n\t\u200c\u200d\u200e\u200f\u061c")
# Emoji tag sequences (the flags of Scotland, Wales, ...) are spelled with tag characters.
_EMOJI_TAGS = range(0xE0020, 0xE0080)
# Invisible characters that carry no text of their own.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"})


def _control_chars(text: str) -> bool:
    """True when `text` holds a control or format character ordinary text does not need.

    Refused: C0/C1 controls (NUL, BEL, ...), lone surrogates (not encodable, so not sendable)
    and the bidi embedding/override/isolate controls (U+202A..U+202E, U+2066..U+2069), which
    reorder what the recipient sees. Allowed: `_ALLOWED_FORMAT` and emoji tag characters.
    """
    return any(
        unicodedata.category(ch) in {"Cc", "Cf", "Cs"}
        and ch not in _ALLOWED_FORMAT
        and ord(ch) not in _EMOJI_TAGS
        for ch in text
    )


def _visible(text: str) -> bool:
    """True when `text` shows something: not only spaces, joiners and variation selectors."""
    return any(unicodedata.category(ch) not in _INVISIBLE for ch in text)


def _url_problem(url: str) -> FieldProblem | None:
    if len(url) > URL_MAX:
        return FieldProblem(FieldFault.URL_TOO_LONG)
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return FieldProblem(FieldFault.URL_NOT_HTTP)
    if any(ch.isspace() for ch in url) or _control_chars(url):
        return FieldProblem(FieldFault.URL_SPACES)
    return None


def compose(
    draft: Draft,
    settings: Settings,
    *,
    now: datetime,
    lists: ListLookup | None = None,
    require_recipients: bool = True,
) -> Composed:
    """Validate every field; raise ComposeErrors naming each bad one, by block id.

    `lists` expands `@name` tokens in the recipients; `require_recipients=False` lets the
    recipients field be empty (a recipients file gives them instead).
    """
    errors: dict[str, FieldProblem] = {}

    raw_numbers = draft.recipients or ""
    msisdns: tuple[str, ...] = ()
    collapsed = 0
    used_lists: Mapping[str, int] = {}
    if not raw_numbers.strip():
        if require_recipients:
            errors["recipients"] = FieldProblem(FieldFault.NO_RECIPIENTS)
    elif len(raw_numbers) > RECIPIENTS_TEXT_MAX:
        errors["recipients"] = FieldProblem(FieldFault.RECIPIENTS_FAR_TOO_LONG)
    else:
        resolved = resolve_recipients(
            raw_numbers, lookup=lists, default_region=settings.default_region
        )
        if resolved.bad_names or resolved.unknown_lists or resolved.parsed.invalid:
            # Worded with each bad token and why ("+3801 (too short)"), each unknown list, and
            # the pattern when a list name cannot be one.
            errors["recipients"] = FieldProblem(FieldFault.RECIPIENTS_UNRESOLVED, resolved=resolved)
        elif not resolved.msisdns:
            errors["recipients"] = FieldProblem(
                FieldFault.LISTS_EMPTY if resolved.lists else FieldFault.NO_RECIPIENTS
            )
        else:
            # VIBER_BOT_MAX_RECIPIENTS is an access rule: SendService.authorize refuses (and
            # audits) a send over it, for the slash command and the modal alike.
            msisdns = resolved.msisdns
            collapsed = resolved.collapsed
            used_lists = resolved.lists

    text = (draft.text or "").strip()
    if not _visible(text):
        errors["text"] = FieldProblem(FieldFault.NO_TEXT)
    elif len(text) > TEXT_MAX:
        errors["text"] = FieldProblem(FieldFault.TEXT_TOO_LONG, count=len(text))
    elif _control_chars(text):
        errors["text"] = FieldProblem(FieldFault.TEXT_CONTROL)

    sender = _blank(draft.sender) or settings.default_sender
    if len(sender) > SENDER_MAX:
        errors["sender"] = FieldProblem(FieldFault.SENDER_TOO_LONG)
    elif _control_chars(sender):
        errors["sender"] = FieldProblem(FieldFault.SENDER_CONTROL)

    image = _blank(draft.image_url)
    caption = _blank(draft.button_caption)
    button_url = _blank(draft.button_url)
    if image and (problem := _url_problem(image)):
        errors["image_url"] = problem
    if button_url and (problem := _url_problem(button_url)):
        errors["button_url"] = problem
    if caption and len(caption) > BUTTON_CAPTION_MAX:
        errors["button_caption"] = FieldProblem(FieldFault.CAPTION_TOO_LONG)
    if caption and not button_url and "button_url" not in errors:
        errors["button_url"] = FieldProblem(FieldFault.BUTTON_NEEDS_URL)
    if button_url and not caption and "button_caption" not in errors:
        errors["button_caption"] = FieldProblem(FieldFault.BUTTON_NEEDS_CAPTION)
    button_reported = {"button_caption", "button_url"} & errors.keys()
    if image and not (caption and button_url) and not button_reported:
        errors["button_caption"] = FieldProblem(FieldFault.IMAGE_NEEDS_BUTTON)

    sms: SmsFallback | None = None
    sms_text = _blank(draft.sms_text)
    if sms_text:
        originator = _blank(draft.sms_sender) or sender
        if not SMS_SENDER_MIN <= len(originator) <= SMS_SENDER_MAX:
            errors["sms_sender"] = FieldProblem(FieldFault.SMS_SENDER_LENGTH, values=(originator,))
        if len(sms_text) > SMS_TEXT_MAX:
            errors["sms_text"] = FieldProblem(FieldFault.SMS_TEXT_TOO_LONG)
        elif _control_chars(sms_text):
            errors["sms_text"] = FieldProblem(FieldFault.SMS_TEXT_CONTROL)
        if "sms_sender" not in errors and "sms_text" not in errors:
            sms = SmsFallback(originator=originator, text=sms_text)
    elif _blank(draft.sms_sender):
        errors["sms_text"] = FieldProblem(FieldFault.SMS_SENDER_WITHOUT_TEXT)

    validity: int | None = None
    raw_validity = draft.validity
    if isinstance(raw_validity, str):
        raw_validity = raw_validity.strip() or None
    if raw_validity is not None:
        try:
            validity = int(str(raw_validity))
        except ValueError:
            errors["validity"] = FieldProblem(FieldFault.VALIDITY_NOT_WHOLE)
        else:
            if not VALIDITY_MIN <= validity <= VALIDITY_MAX:
                errors["validity"] = FieldProblem(FieldFault.VALIDITY_OUT_OF_RANGE)

    send_at = draft.send_at
    if send_at is not None:
        if send_at <= now:
            errors["send_at"] = FieldProblem(FieldFault.SEND_AT_PAST)
        elif send_at > now + timedelta(seconds=validity or VALIDITY_MAX):
            # BSG counts validity from submission: later than that, it could never be delivered.
            window = validity or VALIDITY_MAX
            errors["send_at"] = FieldProblem(FieldFault.SEND_AT_BEYOND_VALIDITY, count=window)

    if errors:
        raise ComposeErrors.found(errors)
    content = MessageContent(
        text=text,
        sender=sender,
        promotional=draft.promotional,
        image_url=image,
        button_caption=caption,
        button_url=button_url,
        sms=sms,
        send_at=send_at,
        validity=validity,
    )
    return Composed(msisdns=msisdns, content=content, collapsed=collapsed, lists=used_lists)


def with_recipients_file(composed: Composed, data: bytes, settings: Settings) -> Composed:
    """Add a recipients file's rows to a composed send, each with its own filled-in text.

    Raises RecipientsFileError (shown on `recipients_file`) when the file cannot be used, and
    ComposeErrors on `recipients` when typed numbers lack the values the text needs.
    """
    content = composed.content
    sms_template = content.sms.text if content.sms is not None else None
    table = parse_recipients_file(
        data, default_region=settings.default_region, max_rows=settings.max_recipients
    )
    rendered = render(table, content.text, sms_template)
    in_file = set(table.msisdns)
    typed_only = [m for m in composed.msisdns if m not in in_file]
    if rendered.texts and typed_only:
        used = (*variables(content.text), *variables(sms_template))
        raise ComposeErrors.found(
            {
                "recipients": FieldProblem(
                    FieldFault.VARIABLES_NEED_FILE, count=len(typed_only), values=used
                )
            }
        )
    msisdns = tuple(dict.fromkeys((*composed.msisdns, *table.msisdns)))
    overlap = len(composed.msisdns) + len(table.msisdns) - len(msisdns)
    return Composed(
        msisdns=msisdns,
        content=content,
        personal=rendered.texts,
        collapsed=composed.collapsed + table.collapsed + overlap,
        lists=composed.lists,
    )
