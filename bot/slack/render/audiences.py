"""What people read about saved lists, opt-outs and recipients files (private answers, cards)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.domain.limits import SECTION_TEXT_MAX
from bot.domain.phones import ParsedNumbers, display, mask
from bot.slack.render.input_errors import invalid_numbers
from bot.slack.render.text import clip, escape

LIST_NUMBERS_SHOWN = 200  # `/viber list show`: numbers listed before "… and N more"
LISTS_SHOWN = 100


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _invalid(parsed: ParsedNumbers) -> str:
    if not parsed.invalid:
        return ""
    return f"\n{_plural(len(parsed.invalid), 'invalid entry', 'invalid entries')}, not used: " + (
        escape(invalid_numbers(parsed))
    )


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def lists_answer(sizes: Sequence[tuple[str, int]], command: str) -> str:
    """`/viber lists`: every list with its size."""
    c = escape(command)
    if not sizes:
        return f"There are no saved lists yet. Create one: `{c} list add kyiv-pickup +380972920283`"
    lines = [f"*Saved lists* ({len(sizes)})"]
    lines += [f"• `@{name}` — {_plural(size, 'number')}" for name, size in sizes[:LISTS_SHOWN]]
    if len(sizes) > LISTS_SHOWN:
        lines.append(f"… and {len(sizes) - LISTS_SHOWN} more")
    lines.append(f"Send to one with `{c} send @{sizes[0][0]} Your text`.")
    # A plain-text answer, not a section: LISTS_SHOWN lines of the longest names (40) must fit
    # whole, so the "… and N more" is never clipped away.
    return clip("\n".join(lines), 3 * SECTION_TEXT_MAX)


def list_show_answer(name: str, msisdns: Sequence[str]) -> str:
    """`/viber list show NAME`: the numbers in full (the answer is private) and the size."""
    head = f"*@{name}* — {_plural(len(msisdns), 'number')}"
    if not msisdns:
        return head + " (empty)"
    shown = [display(m, False) for m in msisdns[:LIST_NUMBERS_SHOWN]]
    text = head + "\n" + ", ".join(shown)
    if len(msisdns) > LIST_NUMBERS_SHOWN:
        text += f"\n… and {len(msisdns) - LIST_NUMBERS_SHOWN:,} more"
    # Slack's own limit for a message text is 40,000; stay far below it.
    return clip(text, 3 * SECTION_TEXT_MAX)


def list_added_answer(
    name: str, added: int, present: int, size: int, parsed: ParsedNumbers, created: bool
) -> str:
    verb = "Created" if created else "Updated"
    text = (
        f"{verb} *@{name}*: {_plural(added, 'number')} added, {present:,} already present, "
        f"{_plural(len(parsed.invalid), 'invalid')}. It now has {_plural(size, 'number')}."
    )
    return text + _invalid(parsed)


def list_nothing_to_add(name: str, parsed: ParsedNumbers) -> str:
    return f"Nothing was added to *@{name}*: no valid numbers." + _invalid(parsed)


def list_removed_answer(
    name: str, removed: int, absent: int, size: int, parsed: ParsedNumbers
) -> str:
    text = (
        f"Removed {_plural(removed, 'number')} from *@{name}* ({absent:,} were not in it). "
        f"It now has {_plural(size, 'number')}."
    )
    return text + _invalid(parsed)


def list_deleted_answer(name: str, size: int) -> str:
    return f"Deleted *@{name}* and its {_plural(size, 'number')}."


def list_needs_numbers(command: str, action: str, name: str) -> str:
    """`/viber list add|remove NAME` without numbers."""
    return f"Which numbers? `{escape(command)} list {action} {escape(name)} +380972920283`"


def no_such_list(name: str, command: str) -> str:
    return f"There is no list *@{escape(name)}*. `{escape(command)} lists` shows them all."


def list_usage(command: str) -> str:
    c = escape(command)
    return "\n".join(
        [
            "*Saved lists*",
            f"• `{c} lists`: every list with its size",
            f"• `{c} list show NAME`: the list's numbers",
            f"• `{c} list add NAME <numbers>`: add numbers (creates the list)",
            f"• `{c} list remove NAME <numbers>`: remove numbers",
            f"• `{c} list delete NAME`: delete the list",
            f"Send to a list with `@NAME` where numbers go: `{c} send @kyiv-pickup,+380972920283 "
            "Your parcel is ready`.",
        ]
    )


def optout_answer(added: int, already: int, parsed: ParsedNumbers, reason: str | None) -> str:
    text = (
        f"🚫 Opted out {_plural(added, 'number')} ({already:,} already opted out). "
        "viber-bot will never send to them."
    )
    if reason:
        text += f" Reason: “{escape(clip(reason, 200))}”."
    return text + _invalid(parsed)


def optin_answer(removed: int, absent: int, parsed: ParsedNumbers) -> str:
    text = (
        f"✅ Opted back in {_plural(removed, 'number')} ({absent:,} were not opted out). "
        "They may be sent to again."
    )
    return text + _invalid(parsed)


def optouts_answer(count: int, latest: Sequence[tuple[str, datetime, str | None]]) -> str:
    """`/viber optouts`: how many, and the latest (masked)."""
    if not count:
        return "No numbers are opted out."
    lines = [f"*{_plural(count, 'number')} opted out.* Latest {len(latest)}:"]
    for msisdn, at, reason in latest:
        line = f"• {mask(msisdn)} — {_day(at)}"
        if reason:
            line += f" — {escape(clip(reason, 80))}"
        lines.append(line)
    return clip("\n".join(lines), SECTION_TEXT_MAX)


def optout_usage(command: str) -> str:
    c = escape(command)
    return (
        f"Say which numbers: `{c} optout +380972920283,380972920282 asked to stop`, "
        f"`{c} optin +380972920283`."
    )


def all_opted_out(msisdns: Sequence[str]) -> str:
    """Every recipient opted out: nothing was sent (answered privately, full numbers)."""
    listed = ", ".join(display(m, False) for m in msisdns[:20])
    more = f" and {len(msisdns) - 20} more" if len(msisdns) > 20 else ""
    return (
        f"Nothing was sent: every recipient has opted out ({listed}{more}). "
        "Opted-out numbers are never sent to."
    )


def skipped_note(opted_out: int, collapsed: int) -> str:
    """What the sender's acknowledgement adds about numbers left out."""
    parts = []
    if opted_out:
        parts.append(f"{_plural(opted_out, 'number')} skipped: opted out")
    if collapsed:
        parts.append(f"{_plural(collapsed, 'duplicate')} collapsed")
    return f" ({'; '.join(parts)})" if parts else ""
