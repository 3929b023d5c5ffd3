"""Parsing typed phone numbers into BSG's form, and masking them for the channel."""

from __future__ import annotations

import re

import pytest

from bot.domain.errors import InputError
from bot.domain.models import Recipient
from bot.domain.phones import (
    MAX_INPUT_CHARS,
    NO_COUNTRY_CODE,
    check_number,
    display,
    mask,
    parse_numbers,
)
from bot.slack.render.input_errors import input_problem, invalid_numbers, number_problem


@pytest.mark.parametrize(
    ("typed", "region", "digits"),
    [
        ("+380972920283", None, "380972920283"),
        ("00380972920283", None, "380972920283"),
        ("380972920283", None, "380972920283"),
        ("+380-97-292-02-83", None, "380972920283"),
        ("+38(097)292.02.83", None, "380972920283"),
        ("00-380-97-292-0283", None, "380972920283"),
        ("+442071838750", None, "442071838750"),
        ("+390612345678", None, "390612345678"),  # Italy keeps its leading zero
        ("+12025550123", "UA", "12025550123"),
        ("0972920283", "UA", "380972920283"),
        ("097-292-02-83", "UA", "380972920283"),
        ("(097) 2920283".replace(" ", ""), "UA", "380972920283"),
        ("380972920283", "UA", "380972920283"),  # country code first still works
        ("2071838750", "GB", "442071838750"),  # valid GB reading beats a possible +20 one
        ("2025550123", "US", "12025550123"),
        ("+３８０９７２９２０２８３", None, "380972920283"),  # full-width digits
    ],
)
def test_valid_numbers(typed: str, region: str | None, digits: str) -> None:
    assert check_number(typed, region) == (digits, None)
    Recipient(msisdn=digits, reference="r1")  # BSG's form, as the model accepts it


@pytest.mark.parametrize(
    ("typed", "region", "words"),
    [
        ("0972920283", None, "no country code"),
        ("972920283", None, "no country code"),
        ("abc", None, "only digits"),
        ("+38097292O283", None, "only digits"),  # a letter O
        ("1-800-FLOWERS", "US", "only digits"),
        ("+380\x00972920283", None, "only digits"),
        ("+380\u200b972920283", None, "only digits"),  # zero-width space
        ("+38097", None, "too short"),
        ("+38097292028312345", None, "too long"),
        ("+" + "1" * 60, None, "too long"),
        ("+999123456789", None, "unknown country code"),
        ("+0972920283", None, "country code"),
        ("+", None, "only digits"),
        ("38+0972920283", None, "only digits"),
        ("+380/972920283", None, "only digits"),
        ("0283", "UA", "too short"),
    ],
)
def test_invalid_numbers(typed: str, region: str | None, words: str) -> None:
    digits, problem = check_number(typed, region)
    assert digits is None and problem is not None
    assert words in number_problem(problem)


def test_error_message_names_the_token_and_how_to_fix_it() -> None:
    message = invalid_numbers(parse_numbers("0972920283", default_region=None))
    assert re.search(r"0972920283 \(no country code\).*\+380972920283", message)


def test_error_message_shows_control_characters_visibly() -> None:
    message = invalid_numbers(parse_numbers("12\x0034", default_region=None))
    assert "\x00" not in message
    assert "\\u0000" in message


@pytest.mark.parametrize(
    "raw",
    [
        "+380972920283,+380972920282",
        "+380972920283, +380972920282",
        "+380972920283;+380972920282",
        "+380972920283\n+380972920282",
        "+380972920283\r\n\t +380972920282\n",
        " ,;+380972920283 ;; , +380972920282,, ",
    ],
)
def test_separators(raw: str) -> None:
    parsed = parse_numbers(raw, default_region=None)
    assert parsed.valid == ["380972920283", "380972920282"]
    assert parsed.invalid == []
    assert invalid_numbers(parsed) == ""


def test_duplicates_in_different_formats_are_merged_in_order() -> None:
    raw = "+380972920282 +380972920283, 00380972920283;380-97-292-02-83\n0972920283 380972920282"
    parsed = parse_numbers(raw, default_region="UA")
    assert parsed.valid == ["380972920282", "380972920283"]
    assert parsed.invalid == []


def test_invalid_tokens_come_back_as_typed_once_each() -> None:
    raw = "+380972920283 abc 0972920283 abc +38097"
    parsed = parse_numbers(raw, default_region=None)
    assert parsed.valid == ["380972920283"]
    assert parsed.invalid == ["abc", "0972920283", "+38097"]
    assert parsed.reasons["0972920283"] == NO_COUNTRY_CODE
    message = invalid_numbers(parsed)
    for token in parsed.invalid:
        assert token in message
    assert "country code" in message


def test_region_decides_national_numbers() -> None:
    raw = "0972920283"
    assert parse_numbers(raw, default_region=None).invalid == ["0972920283"]
    assert parse_numbers(raw, default_region="UA").valid == ["380972920283"]


def test_empty_input_has_no_numbers() -> None:
    parsed = parse_numbers(" \n ,; ", default_region="UA")
    assert parsed.valid == []
    assert parsed.invalid == []


def test_over_long_input_is_refused() -> None:
    with pytest.raises(InputError) as raised:
        parse_numbers("1" * (MAX_INPUT_CHARS + 1), default_region=None)
    assert raised.value.field == "recipients"
    assert input_problem(raised.value) == (
        f"That list of numbers is too long ({MAX_INPUT_CHARS + 1} characters; "
        f"at most {MAX_INPUT_CHARS})."
    )


def test_many_numbers_parse_quickly() -> None:
    raw = ",".join(f"+3809729{i:05d}" for i in range(500))
    assert len(parse_numbers(raw, default_region=None).valid) == 500


@pytest.mark.parametrize(
    ("msisdn", "masked"),
    [
        ("380972920283", "+380 ••••• 0283"),
        ("+380972920283", "+380 ••••• 0283"),
        ("442071838750", "+44 •••••• 8750"),
        ("12025550123", "+1 •••••• 0123"),
        ("390612345678", "+39 •••••• 5678"),
        ("999123456789", "+999 ••••• 6789"),  # no such country code: first 3, last 4
    ],
)
def test_mask(msisdn: str, masked: str) -> None:
    assert mask(msisdn) == masked


@pytest.mark.parametrize("msisdn", ["380972920283", "12025550123", "999123456789", "1234", ""])
def test_mask_never_shows_the_whole_number(msisdn: str) -> None:
    shown = mask(msisdn)
    digits = "".join(ch for ch in shown if ch.isdigit())
    assert msisdn == "" or digits != msisdn
    assert "•" in shown


def test_display() -> None:
    assert display("380972920283", masked=False) == "+380972920283"
    assert display("380972920283", masked=True) == "+380 ••••• 0283"
