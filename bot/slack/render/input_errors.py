"""What people read when what they typed or uploaded cannot be sent: numbers, lists, files."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from bot.domain.errors import InputError
from bot.domain.field_problems import FieldFault, FieldProblem
from bot.domain.limits import (
    BUTTON_CAPTION_MAX,
    SENDER_MAX,
    SMS_SENDER_MAX,
    SMS_SENDER_MIN,
    SMS_TEXT_MAX,
    TEXT_MAX,
    URL_MAX,
    VALIDITY_MAX,
    VALIDITY_MIN,
)
from bot.domain.phones import (
    MAX_INPUT_CHARS,
    MAX_TOKEN_CHARS,
    NumberFault,
    NumberProblem,
    NumbersTooLong,
    ParsedNumbers,
)
from bot.domain.recipients import LIST_NAME_PATTERN, ListNamesRefused, Resolution
from bot.domain.recipients_file import (
    FileFault,
    RecipientsFileError,
    UnfillableRows,
    UnsendableRows,
)

INVALID_NAMED = 10  # typed tokens an answer names before "and N more"
ROWS_NAMED = 5  # rows of a file an answer names before "and N more"
FILE_CELL_SHOWN = 40  # characters of a file's cell quoted back

# Short reasons a token is not a number, as listed back to the person who typed it.
_FAULTS = {
    NumberFault.EMPTY: "empty",
    NumberFault.NOT_DIGITS: "only digits, a leading + and - ( ) . may be used",
    NumberFault.NO_COUNTRY_CODE: "no country code",
    NumberFault.UNKNOWN_COUNTRY_CODE: "unknown country code",
    NumberFault.TOO_SHORT: "too short",
    NumberFault.TOO_LONG: "too long",
    NumberFault.TOO_SHORT_FOR_COUNTRY: "too short for a +{country_code} number",
    NumberFault.TOO_LONG_FOR_COUNTRY: "too long for a +{country_code} number",
    NumberFault.WRONG_LENGTH_FOR_COUNTRY: "wrong length for a +{country_code} number",
}
COUNTRY_CODE_HINT = " Write numbers with their country code, like +380972920283."


def number_problem(problem: NumberProblem) -> str:
    """Why a token is not a number, in a few words: "too short for a +380 number"."""
    return _FAULTS[problem.fault].format(country_code=problem.country_code)


def invalid_numbers(parsed: ParsedNumbers) -> str:
    """One line naming the bad tokens and why, for the person who typed them ('' when none)."""
    if not parsed.invalid:
        return ""
    shown = parsed.invalid[:INVALID_NAMED]
    listed = "; ".join(
        f"{_printable(token)} ({number_problem(parsed.reasons[token])})" for token in shown
    )
    if len(parsed.invalid) > len(shown):
        listed += f"; and {len(parsed.invalid) - len(shown)} more"
    faults = {problem.fault for problem in parsed.reasons.values()}
    hint = COUNTRY_CODE_HINT if NumberFault.NO_COUNTRY_CODE in faults else ""
    noun = "Not a phone number" if len(parsed.invalid) == 1 else "Not phone numbers"
    return f"{noun} BSG can send to: {listed}.{hint}"


def bad_list_name(name: str) -> str:
    """What to tell the person who typed a list name outside the pattern."""
    shown = name if len(name) <= 45 else name[:44] + "…"
    return (
        f"'{shown}' is not a list name: names match `{LIST_NAME_PATTERN}` "
        "(lower-case letters, digits, - and _, at most 40 characters, starting with a letter "
        "or digit)."
    )


def input_problem(error: InputError) -> str:
    """What to tell the person whose command could not be read (a list command, an opt-out)."""
    if isinstance(error, ListNamesRefused):
        problems = [bad_list_name(name) for name in error.bad_names]
        if error.unknown_lists:
            names = ", ".join(f"@{name}" for name in error.unknown_lists)
            problems.append(f"There is no list {names}.")
        return " ".join(problems)
    if isinstance(error, RecipientsFileError):
        return recipients_file_problem(error)
    if isinstance(error, NumbersTooLong):
        return (
            f"That list of numbers is too long ({error.length} characters; "
            f"at most {MAX_INPUT_CHARS})."
        )
    return str(error)


def recipients_problem(resolved: Resolution) -> str | None:
    """One message for the person about typed recipients, or None when all were understood."""
    problems = []
    if resolved.bad_names:
        problems.append(bad_list_name(resolved.bad_names[0]))
    if resolved.unknown_lists:
        names = ", ".join(f"@{name}" for name in resolved.unknown_lists)
        noun = "There is no list" if len(resolved.unknown_lists) == 1 else "There are no lists"
        problems.append(f"{noun} {names}.")
    if resolved.parsed.invalid:
        problems.append(invalid_numbers(resolved.parsed))
    return " ".join(problems) or None


_FILE_FAULTS = {
    FileFault.UTF16: "The file is UTF-16 text, not UTF-8: in Excel, save it as “CSV UTF-8”.",
    FileFault.NOT_UTF8: (
        "The file is not UTF-8 text: in Excel, save it as “CSV UTF-8 (comma delimited)”."
    ),
    FileFault.EMPTY: "The file is empty: it needs at least one phone number.",
    FileFault.NUL: "The file holds NUL characters: it is not a text file.",
    FileFault.NOT_CSV: "The file cannot be read as CSV: {detail}.",
    FileFault.HEADER_ONLY: "The file has a header row but no recipients under it.",
    FileFault.TOO_MANY_ROWS: (
        "The file has {count:,} recipients; at most {limit:,} may be sent in "
        "one send (VIBER_BOT_MAX_RECIPIENTS)."
    ),
    FileFault.UNKNOWN_VARIABLES: (
        "The text uses {names}, but the file has no such column (its columns: {columns})."
    ),
}


def recipients_file_problem(error: RecipientsFileError) -> str:
    """Why the uploaded file cannot be used, as shown on the modal's `recipients_file`."""
    if isinstance(error, UnfillableRows):
        return _unfillable(error)
    if not isinstance(error, UnsendableRows):
        return _FILE_FAULTS[error.fault].format(
            detail=error.detail,
            count=error.count,
            limit=error.limit,
            names=", ".join(f"{{{name}}}" for name in error.names),
            columns=", ".join(error.columns) if error.columns else "none besides the numbers",
        )
    listed = "; ".join(
        f"row {bad.row} ({_printable_cell(bad.typed) or 'empty'}: {number_problem(bad.problem)})"
        for bad in error.rows[:ROWS_NAMED]
    )
    total = len(error.rows)
    more = f"; and {total - ROWS_NAMED} more" if total > ROWS_NAMED else ""
    noun = "row has a number" if total == 1 else "rows have numbers"
    return f"{total:,} {noun} BSG cannot send to: {listed}{more}. Nothing was sent."


# What each field is called inside a sentence ("The image URL must be ...").
_URL_FIELDS = {"image_url": "image URL", "button_url": "button URL"}
_FIELD_FAULTS = {
    FieldFault.NO_RECIPIENTS: "Add at least one phone number.",
    FieldFault.RECIPIENTS_FAR_TOO_LONG: "That is far too much text for a list of numbers.",
    FieldFault.LISTS_EMPTY: "Those lists are empty: add numbers to them first.",
    FieldFault.VARIABLES_NEED_FILE: (
        "The text uses {values}, which only the file's rows fill in: put these "
        "numbers in the file or leave this field empty ({count} typed)."
    ),
    FieldFault.NO_TEXT: "Write the message text.",
    FieldFault.TEXT_TOO_LONG: f"The text is {{count}} characters; Viber allows at most {TEXT_MAX}.",
    FieldFault.TEXT_CONTROL: "The text contains invisible control characters: remove them.",
    FieldFault.SENDER_TOO_LONG: f"The sender name can be at most {SENDER_MAX} characters.",
    FieldFault.SENDER_CONTROL: "The sender name contains control characters.",
    FieldFault.URL_TOO_LONG: f"The {{url}} is too long (at most {URL_MAX} characters).",
    FieldFault.URL_NOT_HTTP: "The {url} must be an http:// or https:// address.",
    FieldFault.URL_SPACES: "The {url} must not contain spaces or control characters.",
    FieldFault.CAPTION_TOO_LONG: (
        f"The button caption can be at most {BUTTON_CAPTION_MAX} characters."
    ),
    FieldFault.BUTTON_NEEDS_URL: "A button needs a URL as well as a caption.",
    FieldFault.BUTTON_NEEDS_CAPTION: "A button needs a caption as well as a URL.",
    FieldFault.IMAGE_NEEDS_BUTTON: (
        "BSG sends an image only with a button: add a button caption and URL."
    ),
    FieldFault.SMS_SENDER_LENGTH: (
        f"The SMS sender '{{values}}' must be {SMS_SENDER_MIN} to {SMS_SENDER_MAX} characters."
    ),
    FieldFault.SMS_TEXT_TOO_LONG: f"The SMS text can be at most {SMS_TEXT_MAX} characters.",
    FieldFault.SMS_TEXT_CONTROL: "The SMS text contains invisible control characters.",
    FieldFault.SMS_SENDER_WITHOUT_TEXT: (
        "An SMS sender was given without SMS text: add the text or clear it."
    ),
    FieldFault.VALIDITY_NOT_WHOLE: "Validity must be a whole number of seconds.",
    FieldFault.VALIDITY_OUT_OF_RANGE: (
        f"Validity must be between {VALIDITY_MIN} and {VALIDITY_MAX} seconds."
    ),
    FieldFault.SEND_AT_PAST: "The scheduled time is in the past: pick a time in the future.",
    FieldFault.SEND_AT_BEYOND_VALIDITY: (
        "The scheduled time is beyond the validity window ({count} seconds from now): "
        "schedule sooner or raise the validity."
    ),
}


def field_error(block_id: str, problem: FieldProblem) -> str:
    """What is wrong with one field of the send modal (or the slash command's send)."""
    if problem.fault is FieldFault.RECIPIENTS_UNRESOLVED:
        assert problem.resolved is not None
        return recipients_problem(problem.resolved) or ""
    if problem.fault is FieldFault.VARIABLES_NEED_FILE:
        values = ", ".join(f"{{{name}}}" for name in problem.values)
    else:
        values = ", ".join(problem.values)
    return _FIELD_FAULTS[problem.fault].format(
        count=problem.count, values=values, url=_URL_FIELDS.get(block_id, "URL")
    )


def field_errors(problems: Mapping[str, FieldProblem]) -> dict[str, str]:
    """The send's problems as `response_action: errors` wants them: block id -> words."""
    return {block_id: field_error(block_id, problem) for block_id, problem in problems.items()}


# The uploaded file, as Slack hands it over (bot/slack/files.py).
FILES_SCOPE_MISSING = (
    "viber-bot may not read uploaded files: add the files:read scope to the Slack "
    "app and reinstall it."
)
FILE_TYPE = "Upload a .csv or .txt file."
FILE_NO_ADDRESS = "Slack gave no address to download the file from."
FILE_NOT_AT_SLACK = "The file is not stored by Slack; upload it again."
FILE_DOWNLOAD_REFUSED = (
    "Slack did not let viber-bot download the file (the bot needs the files:read scope)."
)
FILE_DOWNLOAD_FAILED = "The file could not be downloaded from Slack; try again."


def file_not_shown(code: str) -> str:
    return f"Slack would not show viber-bot the file ({code})."


def file_too_big(size: int | None, max_bytes: int) -> str:
    """`size` as files.info told it, or None when the download outgrew `max_bytes`."""
    if size is None:
        return f"The file is larger than {max_bytes:,} bytes (VIBER_BOT_MAX_FILE_BYTES)."
    return f"The file is {size:,} bytes; at most {max_bytes:,} are read (VIBER_BOT_MAX_FILE_BYTES)."


def _unfillable(error: UnfillableRows) -> str:
    problems = []
    for column, rows in error.empty.items():
        problems.append(
            f"{_rows_named(rows).capitalize()} ha{'s' if len(rows) == 1 else 've'} "
            f"no value for {{{column}}}, which the text uses."
        )
    if error.control:
        problems.append(
            f"{_rows_named(error.control).capitalize()}: values hold control characters."
        )
    if error.too_long:
        problems.append(
            f"Filled in, the text is longer than {TEXT_MAX} characters for "
            f"{_rows_named(error.too_long)}."
        )
    if error.sms_too_long:
        problems.append(
            f"Filled in, the SMS text is longer than {SMS_TEXT_MAX} characters for "
            f"{_rows_named(error.sms_too_long)}."
        )
    return " ".join(problems) + " Nothing was sent."


def _rows_named(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:ROWS_NAMED])
    more = f" and {len(rows) - ROWS_NAMED} more" if len(rows) > ROWS_NAMED else ""
    return f"row{'s' if len(rows) != 1 else ''} {shown}{more}"


def _printable(token: str) -> str:
    """The token with control characters made visible, short enough to quote back."""
    shown = "".join(
        ch if unicodedata.category(ch)[0] != "C" else f"\\u{ord(ch):04x}" for ch in token
    )
    return shown if len(shown) <= MAX_TOKEN_CHARS else shown[: MAX_TOKEN_CHARS - 1] + "…"


def _printable_cell(cell: str) -> str:
    """A file's cell with control characters as `?`, short enough to quote back."""
    shown = "".join(ch if unicodedata.category(ch)[0] != "C" else "?" for ch in cell)
    return shown if len(shown) <= FILE_CELL_SHOWN else shown[: FILE_CELL_SHOWN - 1] + "…"
