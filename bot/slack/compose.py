"""Turn what a person typed (slash command or modal) into a validated send, or say what is wrong."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.domain.errors import InputError
from bot.domain.models import Composed, MessageContent, SmsFallback
from bot.domain.phones import parse_numbers
from bot.settings import Settings

TEXT_MAX = 1000
SENDER_MAX = 14
SMS_SENDER_MIN, SMS_SENDER_MAX = 3, 15
SMS_TEXT_MAX = 765
CAPTION_MAX = 30
URL_MAX = 1000
VALIDITY_MIN, VALIDITY_MAX = 15, 86400
RECIPIENTS_TEXT_MAX = 20000


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
    """Field-by-field problems, keyed by the modal's block ids."""

    errors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        InputError.__init__(self, self.summary())

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


def _url_problem(url: str, what: str) -> str | None:
    if len(url) > URL_MAX:
        return f"The {what} is too long (at most {URL_MAX} characters)."
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return f"The {what} must be an http:// or https:// address."
    if any(ch.isspace() for ch in url) or _control_chars(url):
        return f"The {what} must not contain spaces or control characters."
    return None


def compose(draft: Draft, settings: Settings, *, now: datetime) -> Composed:
    """Validate every field; raise ComposeErrors naming each bad one, by block id."""
    errors: dict[str, str] = {}

    raw_numbers = draft.recipients or ""
    msisdns: tuple[str, ...] = ()
    if not raw_numbers.strip():
        errors["recipients"] = "Add at least one phone number."
    elif len(raw_numbers) > RECIPIENTS_TEXT_MAX:
        errors["recipients"] = "That is far too much text for a list of numbers."
    else:
        parsed = parse_numbers(raw_numbers, default_region=settings.default_region)
        if parsed.invalid:
            # Names each bad token and why ("+3801 (too short)"), control characters shown.
            errors["recipients"] = parsed.describe_invalid()
        elif not parsed.valid:
            errors["recipients"] = "Add at least one phone number."
        else:
            # VIBER_BOT_MAX_RECIPIENTS is an access rule: SendService.authorize refuses (and
            # audits) a send over it, for the slash command and the modal alike.
            msisdns = tuple(parsed.valid)

    text = (draft.text or "").strip()
    if not _visible(text):
        errors["text"] = "Write the message text."
    elif len(text) > TEXT_MAX:
        errors["text"] = f"The text is {len(text)} characters; Viber allows at most {TEXT_MAX}."
    elif _control_chars(text):
        errors["text"] = "The text contains invisible control characters: remove them."

    sender = _blank(draft.sender) or settings.default_sender
    if len(sender) > SENDER_MAX:
        errors["sender"] = f"The sender name can be at most {SENDER_MAX} characters."
    elif _control_chars(sender):
        errors["sender"] = "The sender name contains control characters."

    image = _blank(draft.image_url)
    caption = _blank(draft.button_caption)
    button_url = _blank(draft.button_url)
    if image and (problem := _url_problem(image, "image URL")):
        errors["image_url"] = problem
    if button_url and (problem := _url_problem(button_url, "button URL")):
        errors["button_url"] = problem
    if caption and len(caption) > CAPTION_MAX:
        errors["button_caption"] = f"The button caption can be at most {CAPTION_MAX} characters."
    if caption and not button_url and "button_url" not in errors:
        errors["button_url"] = "A button needs a URL as well as a caption."
    if button_url and not caption and "button_caption" not in errors:
        errors["button_caption"] = "A button needs a caption as well as a URL."
    button_reported = {"button_caption", "button_url"} & errors.keys()
    if image and not (caption and button_url) and not button_reported:
        errors["button_caption"] = (
            "BSG sends an image only with a button: add a button caption and URL."
        )

    sms: SmsFallback | None = None
    sms_text = _blank(draft.sms_text)
    if sms_text:
        originator = _blank(draft.sms_sender) or sender
        if not SMS_SENDER_MIN <= len(originator) <= SMS_SENDER_MAX:
            errors["sms_sender"] = (
                f"The SMS sender '{originator}' must be {SMS_SENDER_MIN} to {SMS_SENDER_MAX} "
                "characters."
            )
        if len(sms_text) > SMS_TEXT_MAX:
            errors["sms_text"] = f"The SMS text can be at most {SMS_TEXT_MAX} characters."
        elif _control_chars(sms_text):
            errors["sms_text"] = "The SMS text contains invisible control characters."
        if "sms_sender" not in errors and "sms_text" not in errors:
            sms = SmsFallback(originator=originator, text=sms_text)
    elif _blank(draft.sms_sender):
        errors["sms_text"] = "An SMS sender was given without SMS text: add the text or clear it."

    validity: int | None = None
    raw_validity = draft.validity
    if isinstance(raw_validity, str):
        raw_validity = raw_validity.strip() or None
    if raw_validity is not None:
        try:
            validity = int(str(raw_validity))
        except ValueError:
            errors["validity"] = "Validity must be a whole number of seconds."
        else:
            if not VALIDITY_MIN <= validity <= VALIDITY_MAX:
                errors["validity"] = (
                    f"Validity must be between {VALIDITY_MIN} and {VALIDITY_MAX} seconds."
                )

    send_at = draft.send_at
    if send_at is not None:
        if send_at <= now:
            errors["send_at"] = "The scheduled time is in the past: pick a time in the future."
        elif send_at > now + timedelta(seconds=validity or VALIDITY_MAX):
            # BSG counts validity from submission: later than that, it could never be delivered.
            window = validity or VALIDITY_MAX
            errors["send_at"] = (
                f"The scheduled time is beyond the validity window ({window} seconds from now): "
                "schedule sooner or raise the validity."
            )

    if errors:
        raise ComposeErrors(errors=errors)
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
    return Composed(msisdns=msisdns, content=content)
