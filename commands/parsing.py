"""Parse the slash command's text into a subcommand (grammar in CONTRACT.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlashCommand:
    verb: str  # new | send | status | help
    numbers: str = ""
    text: str = ""
    token: str = ""
    unknown: str | None = None  # what was typed when the verb was not understood


def unescape_slack(text: str) -> str:
    """Slack sends `&`, `<`, `>` in a command's text as entities; the person typed characters."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_slash(text: str | None) -> SlashCommand:
    """`new`/empty, `send <numbers> <text…>`, `status <token>`, anything else is help."""
    stripped = unescape_slack(text or "").strip()
    if not stripped:
        return SlashCommand("new")
    head, _, rest = stripped.partition(" ")
    # Slack may pass tabs or non-breaking spaces between words.
    if "\n" in head or "\t" in head:
        head, _, tail = head.replace("\t", "\n").partition("\n")
        rest = (tail + " " + rest).strip()
    verb = head.lower()
    rest = rest.strip()
    if verb == "new":
        return SlashCommand("new")
    if verb == "send":
        numbers, _, message = rest.partition(" ")
        if "\n" in numbers:
            numbers, _, more = numbers.partition("\n")
            message = (more + " " + message).strip()
        return SlashCommand("send", numbers=numbers.strip(), text=message.strip())
    if verb == "status":
        return SlashCommand("status", token=rest.split()[0] if rest.split() else "")
    if verb == "help":
        return SlashCommand("help")
    return SlashCommand("help", unknown=head)
