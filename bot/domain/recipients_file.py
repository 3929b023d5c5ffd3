"""A recipients file (CSV or plain text): numbers and per-row variables, and the texts they fill.

Pure: bytes in, rows and rendered texts out, or a `RecipientsFileError` that says what is
wrong, in types (bot/slack/render/input_errors.py words it for the person who uploaded it).
Accepts what Excel exports: a UTF-8 BOM, `;` as separator, quoted fields holding commas and
new lines, CRLF line ends and blank lines.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.errors import InputError
from bot.domain.limits import SMS_TEXT_MAX, TEXT_MAX
from bot.domain.phones import NO_DIGITS, NumberProblem, check_number

PHONE_COLUMN = "phone"
_SNIFF_CHARS = 8192
# `{name}` in a text: anything but braces and new lines, up to 64 characters.
VARIABLE = re.compile(r"\{([^{}\n]{1,64})\}")
_SPACES = re.compile(r"\s+")


class FileFault(StrEnum):
    """Why a recipients file cannot be used at all."""

    UTF16 = "utf16"
    NOT_UTF8 = "not_utf8"
    EMPTY = "empty"
    NUL = "nul"
    NOT_CSV = "not_csv"  # `detail`: what the CSV reader said
    HEADER_ONLY = "header_only"
    TOO_MANY_ROWS = "too_many_rows"  # `count` rows, `limit` allowed
    UNKNOWN_VARIABLES = "unknown_variables"  # `names` the text uses, the file's `columns`
    UNSENDABLE_ROWS = "unsendable_rows"  # UnsendableRows
    UNFILLABLE_ROWS = "unfillable_rows"  # UnfillableRows


class RecipientsFileError(InputError):
    """The recipients file cannot be used (shown on `recipients_file`), and the data to say why."""

    def __init__(
        self,
        fault: FileFault,
        *,
        detail: str = "",
        count: int = 0,
        limit: int = 0,
        names: Sequence[str] = (),
        columns: Sequence[str] = (),
    ):
        self.fault = fault
        self.detail = detail
        self.count = count
        self.limit = limit
        self.names = tuple(names)
        self.columns = tuple(columns)
        super().__init__(f"recipients file: {fault.value}", field="recipients_file")


@dataclass(frozen=True)
class BadNumberRow:
    """A row of the file whose number BSG cannot send to, and why."""

    row: int
    typed: str
    problem: NumberProblem


class UnsendableRows(RecipientsFileError):
    """Rows with numbers BSG cannot send to."""

    def __init__(self, rows: Sequence[BadNumberRow]):
        self.rows = tuple(rows)
        super().__init__(FileFault.UNSENDABLE_ROWS, count=len(self.rows))


class UnfillableRows(RecipientsFileError):
    """Rows whose values cannot fill the text: row numbers by what is wrong with them."""

    def __init__(
        self,
        *,
        empty: Mapping[str, Sequence[int]],
        control: Sequence[int],
        too_long: Sequence[int],
        sms_too_long: Sequence[int],
    ):
        self.empty = {column: tuple(rows) for column, rows in empty.items()}
        self.control = tuple(control)
        self.too_long = tuple(too_long)
        self.sms_too_long = tuple(sms_too_long)
        super().__init__(FileFault.UNFILLABLE_ROWS)


@dataclass(frozen=True)
class FileRow:
    """One recipient of the file: the row it came from, its number and its values."""

    row: int  # 1-based, as a spreadsheet numbers it (the header is row 1)
    msisdn: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class RecipientsFile:
    rows: tuple[FileRow, ...]
    columns: tuple[str, ...]  # the variables, in file order (without the phone column)
    collapsed: int = 0  # rows whose number an earlier row already had
    header: bool = False

    @property
    def msisdns(self) -> tuple[str, ...]:
        return tuple(r.msisdn for r in self.rows)


@dataclass(frozen=True)
class Rendered:
    """Each recipient's own text and SMS text."""

    texts: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)


def variables(template: str | None) -> list[str]:
    """The `{variable}` names a text uses, each once, in order."""
    if not template:
        return []
    return list(dict.fromkeys(m.group(1).strip() for m in VARIABLE.finditer(template)))


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RecipientsFileError(FileFault.UTF16)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RecipientsFileError(FileFault.NOT_UTF8) from None


def _delimiter(text: str) -> str:
    # Blank lines make the sniffer doubt a separator every other line has: leave them out.
    lines = [line for line in text[:_SNIFF_CHARS].splitlines() if line.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",;\t").delimiter
    except csv.Error:
        pass
    # The sniffer gives up on short or uneven files: the separator the first line has most of.
    first = lines[0] if lines else ""
    counts = {separator: first.count(separator) for separator in ",;\t"}
    best = max(counts, key=lambda separator: counts[separator])
    return best if counts[best] else ","  # one column (numbers only)


def read_table(data: bytes) -> list[tuple[int, list[str]]]:
    """The file's non-blank records as (row number, cells); RecipientsFileError if unreadable."""
    text = _decode(data)
    if not text.strip():
        raise RecipientsFileError(FileFault.EMPTY)
    if "\x00" in text:
        raise RecipientsFileError(FileFault.NUL)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    records: list[tuple[int, list[str]]] = []
    try:
        for index, cells in enumerate(reader, start=1):
            # Blank, or only separators (a `;;` row Excel writes for an empty line): skipped.
            if any(cell.strip(" \t;,") for cell in cells):
                records.append((index, cells))
    except csv.Error as error:
        raise RecipientsFileError(FileFault.NOT_CSV, detail=str(error)) from None
    if not records:
        raise RecipientsFileError(FileFault.EMPTY)
    return records


def _is_header(cells: Sequence[str]) -> bool:
    """A first row is a header when it names a `phone` column or its first cell has no digit."""
    names = [c.strip().lower() for c in cells]
    return PHONE_COLUMN in names or not any(ch.isdigit() for ch in cells[0])


def parse_recipients_file(
    data: bytes, *, default_region: str | None, max_rows: int
) -> RecipientsFile:
    """Rows, numbers and variables of a recipients file; RecipientsFileError says what is wrong.

    Numbers are checked as everywhere else; a number given twice is sent once (the first
    row's values are kept) and counted in `collapsed`.
    """
    records = read_table(data)
    header = _is_header(records[0][1])
    if header:
        names = [c.strip() for c in records[0][1]]
        lowered = [n.lower() for n in names]
        phone_at = lowered.index(PHONE_COLUMN) if PHONE_COLUMN in lowered else 0
        records = records[1:]
        columns = [(i, name or str(i + 1)) for i, name in enumerate(names) if i != phone_at]
    else:
        phone_at = 0
        width = max(len(cells) for _, cells in records)
        columns = [(i, str(i + 1)) for i in range(1, width)]
    if not records:
        raise RecipientsFileError(FileFault.HEADER_ONLY)
    if len(records) > max_rows:
        raise RecipientsFileError(FileFault.TOO_MANY_ROWS, count=len(records), limit=max_rows)
    rows: dict[str, FileRow] = {}
    bad: list[BadNumberRow] = []
    collapsed = 0
    for index, cells in records:
        raw = cells[phone_at] if phone_at < len(cells) else ""
        token = _SPACES.sub("", raw)
        msisdn, problem = check_number(token, default_region) if token else (None, NO_DIGITS)
        if msisdn is None:
            bad.append(BadNumberRow(index, raw.strip(), problem or NO_DIGITS))
            continue
        if msisdn in rows:
            collapsed += 1
            continue
        values = {name: _cell(cells, i) for i, name in columns}
        rows[msisdn] = FileRow(index, msisdn, values)
    if bad:
        raise UnsendableRows(bad)
    return RecipientsFile(
        rows=tuple(rows.values()),
        columns=tuple(name for _, name in columns),
        collapsed=collapsed,
        header=header,
    )


def _lookup(columns: Sequence[str]) -> dict[str, str]:
    """Variable name (as a text may write it) -> column name: exact, else case-insensitive."""
    found = {name.lower(): name for name in reversed(columns)}
    found.update({name: name for name in columns})
    return found


def missing_variables(file: RecipientsFile, templates: Sequence[str | None]) -> list[str]:
    """Variables the texts use that the file has no column for."""
    known = _lookup(file.columns)
    used = [v for t in templates for v in variables(t)]
    return [v for v in dict.fromkeys(used) if v not in known and v.lower() not in known]


def _fill(template: str, values: Mapping[str, str], known: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        column = known.get(name) or known[name.lower()]
        return values[column]

    return VARIABLE.sub(value, template)


def render(file: RecipientsFile, text: str, sms_text: str | None) -> Rendered:
    """Fill `{variable}` per row in the text and SMS text; RecipientsFileError if a row cannot."""
    missing = missing_variables(file, [text, sms_text])
    if missing:
        raise RecipientsFileError(FileFault.UNKNOWN_VARIABLES, names=missing, columns=file.columns)
    known = _lookup(file.columns)
    used = {known.get(v) or known[v.lower()] for v in variables(text) + variables(sms_text)}
    if not used:
        return Rendered()
    empty: dict[str, list[int]] = {}
    too_long: list[int] = []
    sms_too_long: list[int] = []
    control: list[int] = []
    texts: dict[str, tuple[str, str | None]] = {}
    for row in file.rows:
        blanks = [c for c in used if not row.values[c]]
        for column in blanks:
            empty.setdefault(column, []).append(row.row)
        if blanks:
            continue
        if any(_control(row.values[c]) for c in used):
            control.append(row.row)
            continue
        mine = _fill(text, row.values, known)
        sms = _fill(sms_text, row.values, known) if sms_text else None
        if len(mine) > TEXT_MAX:
            too_long.append(row.row)
        if sms is not None and len(sms) > SMS_TEXT_MAX:
            sms_too_long.append(row.row)
        texts[row.msisdn] = (mine, sms)
    if empty or control or too_long or sms_too_long:
        raise UnfillableRows(
            empty=empty, control=control, too_long=too_long, sms_too_long=sms_too_long
        )
    return Rendered(texts)


def _cell(cells: Sequence[str], index: int) -> str:
    """A cell's value, trimmed; Excel's CRLF inside a quoted cell becomes a plain new line."""
    if index >= len(cells):
        return ""
    return cells[index].replace("\r\n", "\n").replace("\r", "\n").strip()


def _control(value: str) -> bool:
    return any(unicodedata.category(ch) in {"Cc", "Cs"} and ch not in "\n\t" for ch in value)
