"""Phone numbers as people type them: parsed into BSG's digits-only form, masked for display."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

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


class NumberFault(StrEnum):
    """Why a typed token is not a number BSG can send to."""

    EMPTY = "empty"
    NOT_DIGITS = "not_digits"  # anything but digits, a leading + and - ( ) .
    NO_COUNTRY_CODE = "no_country_code"
    UNKNOWN_COUNTRY_CODE = "unknown_country_code"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    # These three name the country code they were measured against.
    TOO_SHORT_FOR_COUNTRY = "too_short_for_country"
    TOO_LONG_FOR_COUNTRY = "too_long_for_country"
    WRONG_LENGTH_FOR_COUNTRY = "wrong_length_for_country"


@dataclass(frozen=True)
class NumberProblem:
    """A fault and what it was measured against; bot/slack/render/input_errors.py words it."""

    fault: NumberFault
    country_code: int | None = None


NO_DIGITS = NumberProblem(NumberFault.EMPTY)
NOT_DIGITS = NumberProblem(NumberFault.NOT_DIGITS)
NO_COUNTRY_CODE = NumberProblem(NumberFault.NO_COUNTRY_CODE)
UNKNOWN_COUNTRY_CODE = NumberProblem(NumberFault.UNKNOWN_COUNTRY_CODE)
TOO_SHORT = NumberProblem(NumberFault.TOO_SHORT)
TOO_LONG = NumberProblem(NumberFault.TOO_LONG)


class NumbersTooLong(InputError):
    """A typed list of numbers longer than any list worth parsing; render/input_errors words it."""

    def __init__(self, length: int):
        self.length = length
        super().__init__(
            f"numbers: {length} characters, over {MAX_INPUT_CHARS}", field="recipients"
        )


@dataclass(frozen=True)
class ParsedNumbers:
    """A typed recipient list split into BSG-ready numbers and the tokens that are not numbers."""

    valid: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    # Why each invalid token was refused, keyed by the token as typed.
    reasons: dict[str, NumberProblem] = field(default_factory=dict)
    # Valid numbers typed again (in any format) after their first time.
    duplicates: int = 0


def parse_numbers(raw: str, *, default_region: str | None) -> ParsedNumbers:
    """Split `raw` on commas, semicolons, spaces and new lines and parse every token.

    Valid numbers come back as digits-only E.164 (no `+`), in the order typed, each once even
    when typed twice in different formats. Invalid tokens come back as typed, each once.
    """
    if len(raw) > MAX_INPUT_CHARS:
        raise NumbersTooLong(len(raw))
    valid: dict[str, None] = {}
    reasons: dict[str, NumberProblem] = {}
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


def check_number(
    token: str, default_region: str | None = None
) -> tuple[str | None, NumberProblem | None]:
    """(digits, None) for a number BSG can take, else (None, why not)."""
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


def _check(token: str, default_region: str | None) -> tuple[str | None, NumberProblem | None]:
    """(digits, None) for a number BSG can take, else (None, why not)."""
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
    return digits, None


def _possible(
    text: str, region: str | None
) -> tuple[phonenumbers.PhoneNumber | None, NumberProblem | None]:
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
        return number, None
    result = phonenumbers.is_possible_number_with_reason(number)
    if result == phonenumbers.ValidationResult.TOO_SHORT:
        return None, NumberProblem(NumberFault.TOO_SHORT_FOR_COUNTRY, number.country_code)
    if result == phonenumbers.ValidationResult.TOO_LONG:
        return None, NumberProblem(NumberFault.TOO_LONG_FOR_COUNTRY, number.country_code)
    if result == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return None, UNKNOWN_COUNTRY_CODE
    return None, NumberProblem(NumberFault.WRONG_LENGTH_FOR_COUNTRY, number.country_code)


def _ascii_digits(text: str) -> str:
    """Digits from any script (e.g. full-width) as ASCII; everything else untouched."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
