"""Phone numbers as people type them: parsed into BSG's digits-only form, masked for display."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import phonenumbers

from bot.domain import limits
from bot.domain.errors import InputError

# Separators between numbers: commas, semicolons and any whitespace (new lines included).
_SEPARATORS = re.compile(r"[,;\s]+")
# Punctuation people write inside one number; dropped before parsing.
_PUNCTUATION = re.compile(r"[().\-]")
_DIGITS = re.compile(r"\+?[0-9]+")

# Longest token worth looking at, longest raw list, and what BSG accepts for an msisdn.
MAX_TOKEN_CHARS = limits.NUMBER_TOKEN_MAX
MAX_INPUT_CHARS = limits.RECIPIENTS_TEXT_MAX
MIN_DIGITS = limits.MSISDN_MIN_DIGITS
MAX_DIGITS = limits.MSISDN_MAX_DIGITS

_BULLET = "•"

# Short reasons a token is not a number, as listed back to the person who typed it.
NO_DIGITS = "empty"
NOT_DIGITS = "only digits, a leading + and - ( ) . may be used"
NO_COUNTRY_CODE = "no country code"
UNKNOWN_COUNTRY_CODE = "unknown country code"
TOO_SHORT = "too short"
TOO_LONG = "too long"

_HINTS = {NO_COUNTRY_CODE: " Write numbers with their country code, like +380972920283."}


@dataclass(frozen=True)
class ParsedNumbers:
    """A typed recipient list split into BSG-ready numbers and the tokens that are not numbers."""

    valid: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    # Why each invalid token was refused, keyed by the token as typed.
    reasons: dict[str, str] = field(default_factory=dict)
    # Valid numbers typed again (in any format) after their first time.
    duplicates: int = 0

    def describe_invalid(self) -> str:
        """One line naming the bad tokens, for the person who typed them ('' when none)."""
        if not self.invalid:
            return ""
        shown = self.invalid[:10]
        listed = "; ".join(f"{_printable(token)} ({self.reasons[token]})" for token in shown)
        if len(self.invalid) > len(shown):
            listed += f"; and {len(self.invalid) - len(shown)} more"
        hint = _HINTS[NO_COUNTRY_CODE] if NO_COUNTRY_CODE in self.reasons.values() else ""
        noun = "Not a phone number" if len(self.invalid) == 1 else "Not phone numbers"
        return f"{noun} BSG can send to: {listed}.{hint}"


def parse_numbers(raw: str, *, default_region: str | None) -> ParsedNumbers:
    """Split `raw` on commas, semicolons, spaces and new lines and parse every token.

    Valid numbers come back as digits-only E.164 (no `+`), in the order typed, each once even
    when typed twice in different formats. Invalid tokens come back as typed, each once.
    """
    if len(raw) > MAX_INPUT_CHARS:
        raise InputError(
            f"That list of numbers is too long ({len(raw)} characters; at most {MAX_INPUT_CHARS}).",
            field="recipients",
        )
    valid: dict[str, None] = {}
    reasons: dict[str, str] = {}
    duplicates = 0
    for token in _SEPARATORS.split(raw):
        if not token:
            continue
        digits, reason = _check(token, default_region)
        if digits is not None:
            if digits in valid:
                duplicates += 1
            valid.setdefault(digits, None)
        else:
            reasons.setdefault(token, reason)
    return ParsedNumbers(
        valid=list(valid), invalid=list(reasons), reasons=reasons, duplicates=duplicates
    )


def parse_number(token: str, default_region: str | None = None) -> str:
    """One typed number as BSG's digits-only international form; InputError says what is wrong."""
    digits, reason = _check(token, default_region)
    if digits is None:
        raise InputError(
            f"'{_printable(token)}' is not a phone number BSG can send to: {reason}."
            + _HINTS.get(reason, ""),
            field="recipients",
        )
    return digits


def check_number(token: str, default_region: str | None = None) -> tuple[str | None, str]:
    """(digits, "") for a number BSG can take, else (None, a short reason such as "too short")."""
    return _check(token, default_region)


def mask(msisdn: str) -> str:
    """The number with the middle hidden: `+380 ••••• 0283` (country code and last four kept)."""
    digits = re.sub(r"[^0-9]", "", msisdn)
    if not digits:
        return _BULLET * 4
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.country_code:
        national = phonenumbers.national_significant_number(number)
        if national and f"{number.country_code}{national}" == digits:
            kept = national[-4:] if len(national) > 4 else ""
            hidden = len(national) - len(kept)
            return f"+{number.country_code} {_BULLET * hidden} {kept}".rstrip()
    # Not a number phonenumbers understands: keep the first 3 and last 4 digits.
    if len(digits) > 7:
        return f"+{digits[:3]} {_BULLET * (len(digits) - 7)} {digits[-4:]}"
    kept = digits[-2:] if len(digits) > 2 else ""
    return f"{_BULLET * (len(digits) - len(kept))}{kept}"


def display(msisdn: str, masked: bool) -> str:
    """The number as shown in Slack: masked, or in full as `+380972920283`."""
    if masked:
        return mask(msisdn)
    return "+" + msisdn.lstrip("+")


def _check(token: str, default_region: str | None) -> tuple[str | None, str]:
    """(digits, "") for a number BSG can take, else (None, a short reason)."""
    if not token.strip():
        return None, NO_DIGITS
    if len(token) > MAX_TOKEN_CHARS:
        return None, TOO_LONG
    candidate = _PUNCTUATION.sub("", _ascii_digits(token.strip()))
    if not _DIGITS.fullmatch(candidate):
        return None, NOT_DIGITS
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]

    if candidate.startswith("+"):
        number, reason = _possible(candidate, None)
    elif not default_region:
        number, _ = _possible("+" + candidate, None)
        reason = NO_COUNTRY_CODE
    else:
        # Both readings may be possible (2071838750 is +20… or a GB number): prefer a valid
        # one, country code first, then a merely possible one, country code first.
        international, _ = _possible("+" + candidate, None)
        national, reason = _possible(candidate, default_region)
        readings = [n for n in (international, national) if n is not None]
        valid = [n for n in readings if phonenumbers.is_valid_number(n)]
        number = (valid or readings or [None])[0]
    if number is None:
        return None, reason

    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    if len(digits) < MIN_DIGITS:
        return None, TOO_SHORT
    if len(digits) > MAX_DIGITS:
        return None, TOO_LONG
    return digits, ""


def _possible(text: str, region: str | None) -> tuple[phonenumbers.PhoneNumber | None, str]:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            return None, NO_COUNTRY_CODE if region else UNKNOWN_COUNTRY_CODE
        if error.error_type in (
            phonenumbers.NumberParseException.TOO_SHORT_NSN,
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
        ):
            return None, TOO_SHORT
        if error.error_type == phonenumbers.NumberParseException.TOO_LONG:
            return None, TOO_LONG
        # Only digits reach here, so anything else phonenumbers rejects is too short.
        return None, TOO_SHORT
    if phonenumbers.is_possible_number(number):
        return number, ""
    result = phonenumbers.is_possible_number_with_reason(number)
    if result == phonenumbers.ValidationResult.TOO_SHORT:
        return None, f"too short for a +{number.country_code} number"
    if result == phonenumbers.ValidationResult.TOO_LONG:
        return None, f"too long for a +{number.country_code} number"
    if result == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return None, UNKNOWN_COUNTRY_CODE
    return None, f"wrong length for a +{number.country_code} number"


def _ascii_digits(text: str) -> str:
    """Digits from any script (e.g. full-width) as ASCII; everything else untouched."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def _printable(token: str) -> str:
    """The token with control characters made visible, short enough to quote back."""
    shown = "".join(
        ch if unicodedata.category(ch)[0] != "C" else f"\\u{ord(ch):04x}" for ch in token
    )
    return shown if len(shown) <= MAX_TOKEN_CHARS else shown[: MAX_TOKEN_CHARS - 1] + "…"
