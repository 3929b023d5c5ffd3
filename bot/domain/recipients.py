"""Recipients as typed: numbers and `@list` names, resolved into BSG-ready numbers (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain.errors import InputError
from bot.domain.phones import ParsedNumbers, parse_numbers

# CONTRACT.md "Lists": what a list's name may be.
LIST_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
_LIST_NAME = re.compile(LIST_NAME_PATTERN)
# The same separators as phones.parse_numbers: commas, semicolons and any white space.
_SEPARATORS = re.compile(r"[,;\s]+")

# Given list names, the numbers of those that exist (unknown names left out).
ListLookup = Callable[[Sequence[str]], Mapping[str, Sequence[str]]]


def valid_list_name(name: str) -> bool:
    return bool(_LIST_NAME.fullmatch(name))


class ListNamesRefused(InputError):
    """List names outside the pattern, or of no list; bot/slack/render/input_errors.py words it."""

    def __init__(self, bad_names: Sequence[str] = (), unknown_lists: Sequence[str] = ()):
        self.bad_names = tuple(bad_names)
        self.unknown_lists = tuple(unknown_lists)
        super().__init__(
            f"list names refused: misnamed {self.bad_names}, unknown {self.unknown_lists}"
        )


@dataclass(frozen=True)
class Resolution:
    """Numbers and lists typed together, resolved: what to send to and what is wrong."""

    msisdns: tuple[str, ...] = ()  # digits-only, each once, in the order typed / listed
    parsed: ParsedNumbers = field(default_factory=ParsedNumbers)  # the typed numbers alone
    lists: Mapping[str, int] = field(default_factory=dict)  # each list used -> its size
    unknown_lists: tuple[str, ...] = ()
    bad_names: tuple[str, ...] = ()
    collapsed: int = 0  # numbers given more than once (typed and in a list, two lists, ...)


def list_names(raw: str) -> list[str]:
    """The well-formed `@name` list names typed in `raw`, each once, in order."""
    names = (token[1:] for token in _SEPARATORS.split(raw) if token.startswith("@"))
    return list(dict.fromkeys(name for name in names if valid_list_name(name)))


def resolve_recipients(
    raw: str, *, lookup: ListLookup | None, default_region: str | None
) -> Resolution:
    """Split `raw` into numbers and `@name` tokens; expand the lists through `lookup`.

    Raises phones.NumbersTooLong for input far too long to be a list of numbers.
    """
    names: list[str] = []
    typed: list[str] = []
    bad: list[str] = []
    for token in _SEPARATORS.split(raw):
        if not token:
            continue
        if token.startswith("@"):
            name = token[1:]
            (names if valid_list_name(name) else bad).append(name)
        else:
            typed.append(token)
    parsed = parse_numbers(" ".join(typed), default_region=default_region)
    found: Mapping[str, Sequence[str]] = {}
    unique_names = list(dict.fromkeys(names))
    if unique_names and lookup is not None:
        found = lookup(unique_names)
    unknown = tuple(name for name in unique_names if name not in found)
    given = len(parsed.valid) + sum(len(found[name]) for name in unique_names if name in found)
    msisdns = dict.fromkeys(parsed.valid)
    for name in unique_names:
        for msisdn in found.get(name, ()):
            msisdns.setdefault(msisdn, None)
    return Resolution(
        msisdns=tuple(msisdns),
        parsed=parsed,
        lists={name: len(found[name]) for name in unique_names if name in found},
        unknown_lists=unknown,
        bad_names=tuple(dict.fromkeys(bad)),
        collapsed=parsed.duplicates + given - len(msisdns),
    )
