"""Parse the slash command's text into a subcommand (grammar in CONTRACT.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Any white space separates words: spaces, tabs, new lines, non-breaking spaces.
_FIRST_GAP = re.compile(r"\s+")


AUDIENCE_VERBS = frozenset({"lists", "list", "optout", "optin", "optouts"})


@dataclass(frozen=True)
class SlashCommand:
    verb: str  # new | send | status | help | lists | list | optout | optin | optouts
    numbers: str = ""
    text: str = ""
    token: str = ""
    unknown: str | None = None  # what was typed when the verb was not understood


def unescape_slack(text: str) -> str:
    """Slack sends `&`, `<`, `>` in a command's text as entities; the person typed characters."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def first_word(text: str) -> tuple[str, str]:
    """The first word and the rest (the rest keeps its inner white space, e.g. new lines)."""
    return _first_word(text)


def _first_word(text: str) -> tuple[str, str]:
    """The first word and the rest (the rest keeps its inner white space, e.g. new lines)."""
    parts = _FIRST_GAP.split(text.strip(), maxsplit=1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def parse_slash(text: str | None) -> SlashCommand:
    """`new`/empty, `send <numbers> <text…>`, `status <token>`, anything else is help."""
    stripped = unescape_slack(text or "").strip()
    if not stripped:
        return SlashCommand("new")
    head, rest = _first_word(stripped)
    verb = head.lower()
    if verb == "new":
        return SlashCommand("new")
    if verb == "send":
        numbers, message = _first_word(rest)
        return SlashCommand("send", numbers=numbers, text=message.strip())
    if verb == "status":
        return SlashCommand("status", token=_first_word(rest)[0])
    if verb == "help":
        return SlashCommand("help")
    if verb in AUDIENCE_VERBS:
        # The rest of the line, parsed by the listener (commands/slash/lists.py, optouts.py).
        return SlashCommand(verb, text=rest.strip())
    return SlashCommand("help", unknown=head)
