"""Recipients files: what Excel and people write, parsed and rendered, and fuzzed (hypothesis):
any input gives either a clear RecipientsFileError or rows that render correctly."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.recipients import LIST_NAME_PATTERN, resolve_recipients
from bot.domain.recipients_file import (
    RecipientsFileError,
    parse_recipients_file,
    render,
    variables,
)
from bot.slack.render.input_errors import recipients_file_problem, recipients_problem


def parse(data: bytes | str, max_rows: int = 100, region: str | None = None):
    raw = data.encode() if isinstance(data, str) else data
    return parse_recipients_file(raw, default_region=region, max_rows=max_rows)


def test_semicolons_bom_crlf_quotes_and_blank_lines():
    table = parse(
        "\ufeffName;Phone;Order\r\n"
        '"Doe; Jane";+380 97 292 0283;"A, 1"\r\n'
        "\r\n"
        ";;\r\n"
        "Bob;+38 (097) 292-02-82;B\r\n"
    )
    assert table.header and table.columns == ("Name", "Order")
    assert [r.msisdn for r in table.rows] == ["380972920283", "380972920282"]
    assert table.rows[0].values == {"Name": "Doe; Jane", "Order": "A, 1"}
    assert [r.row for r in table.rows] == [2, 5]  # as a spreadsheet numbers them


def test_the_phone_column_is_found_by_name_else_the_first():
    assert parse("id,PHONE\n7,380972920283\n").rows[0].values == {"id": "7"}
    table = parse("380972920283,Olena,A1\n380972920282,Taras,B2\n")
    assert not table.header and table.columns == ("2", "3")
    assert render(table, "Hi {2} ({3})", None).texts["380972920282"] == ("Hi Taras (B2)", None)


def test_duplicates_collapse_keeping_the_first_row():
    table = parse("phone,name\n380972920283,A\n+380972920283,B\n00380972920283,C\n")
    assert len(table.rows) == 1 and table.collapsed == 2
    assert table.rows[0].values["name"] == "A"


def test_variables_match_columns_exactly_else_ignoring_case():
    table = parse("phone,Name,name2\n380972920283,Olena,x\n")
    assert variables("Hi {name}, {Name} and { name2 }") == ["name", "Name", "name2"]
    assert render(table, "Hi {name} / {Name} / { name2 }", "SMS {NAME}").texts == {
        "380972920283": ("Hi Olena / Olena / x", "SMS Olena")
    }


def test_a_text_without_variables_needs_no_personal_texts():
    assert render(parse("phone\n380972920283\n"), "Same for all", None).texts == {}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"\r\n\r\n;;\r\n", "empty"),
        (b"phone,name\n", "no recipients"),
        ("phone\n380972920283\n".encode("utf-16"), "UTF-16"),
        ("phone\n380972920283\nÖ\n".encode("cp1252"), "not UTF-8"),
        (b"phone\n38097\x002920283\n", "NUL"),
        (b"phone\n" + b"".join(b"3809729%05d\n" % n for n in range(11)), "at most 10"),
        (b"phone\n+3801\n\nabc\n380972920283\n", "row 2 (+3801: too short); row 4 (abc"),
    ],
)
def test_unusable_files_say_why(data, expected):
    with pytest.raises(RecipientsFileError) as refused:
        parse(data, max_rows=10)
    assert expected in recipients_file_problem(refused.value)
    assert refused.value.field == "recipients_file"


def test_render_errors_name_the_first_rows():
    table = parse("phone,name\n" + "".join(f"3809729202{n:02d},\n" for n in range(8)))
    with pytest.raises(RecipientsFileError) as refused:
        render(table, "Hi {name}", None)
    assert "Rows 2, 3, 4, 5, 6 and 3 more have no value for {name}" in recipients_file_problem(
        refused.value
    )
    with pytest.raises(RecipientsFileError) as refused:
        render(table, "Hi {nom}", None)
    assert "{nom}" in recipients_file_problem(
        refused.value
    ) and "its columns: name" in recipients_file_problem(refused.value)
    long = parse("phone,name\n380972920283," + "x" * 998 + "\n")
    with pytest.raises(RecipientsFileError) as refused:
        render(long, "Hi {name}", None)
    assert "longer than 1000" in recipients_file_problem(refused.value)


def test_list_tokens_resolve_with_numbers():
    lists = {"kyiv": ["380972920283", "380972920282"]}
    resolved = resolve_recipients(
        "@kyiv, +380972920283\n@lviv @Bad!",
        lookup=lambda names: {n: lists[n] for n in names if n in lists},
        default_region=None,
    )
    assert resolved.msisdns == ("380972920283", "380972920282")
    assert resolved.collapsed == 1 and resolved.lists == {"kyiv": 2}
    assert resolved.unknown_lists == ("lviv",)
    problem = recipients_problem(resolved) or ""
    assert "@lviv" in problem and LIST_NAME_PATTERN in problem


# ---------------------------------------------------------------- fuzzing

_cell = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_number = st.sampled_from(
    ["+380972920283", "380972920282", "00380972920281", "+3801", "abc", "", " 380 97 292 0280 "]
)


def _csv(rows: list[list[str]], delimiter: str, newline: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_give_rows_or_a_clear_error(data):
    try:
        table = parse(data, max_rows=50)
    except RecipientsFileError as refused:
        shown = recipients_file_problem(refused)
        assert shown and "Traceback" not in shown
        return
    assert table.rows and len({r.msisdn for r in table.rows}) == len(table.rows)
    assert all(r.msisdn.isdigit() and 6 <= len(r.msisdn) <= 15 for r in table.rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(_number, _cell, _cell), min_size=1, max_size=12),
    delimiter=st.sampled_from([",", ";", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    header=st.booleans(),
    blank=st.booleans(),
    template=st.sampled_from(["Hi {name}", "Hi {name}, {order}", "Same", "Hi {missing}"]),
)
def test_spreadsheet_shaped_files_render_exactly_or_say_why(
    rows, delimiter, newline, bom, header, blank, template
):
    table_rows = [list(r) for r in rows]
    if header:
        table_rows.insert(0, ["phone", "name", "order"])
    text = _csv(table_rows, delimiter, newline)
    if blank:  # Excel's empty line between rows
        first, _, rest = text.partition(newline)
        text = first + newline + newline + rest
    data = (("\ufeff" if bom else "") + text).encode()
    try:
        table = parse(data, max_rows=50)
        rendered = render(table, template, None)
    except RecipientsFileError as refused:
        message = recipients_file_problem(refused)
        assert message.strip()
        # A spreadsheet with a good number in a phone column is only refused for a reason.
        assert any(
            word in message
            for word in ("cannot send", "{", "control", "empty", "no recipients", "NUL")
        ), message
        return
    for row in table.rows:
        if not rendered.texts:
            assert "{" not in template
            continue
        mine, sms = rendered.texts[row.msisdn]
        # No placeholder is left: a brace in the text came from a value (a name may be "{").
        assert sms is None
        assert "{" not in mine or any("{" in str(v) for v in row.values.values())
        assert mine == template.format(**row.values)
