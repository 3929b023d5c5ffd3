"""Block Kit pieces as plain dicts, each kept inside Slack's limits (bot.domain.limits)."""

from __future__ import annotations

from bot.domain.limits import (
    CONTEXT_ELEMENTS_MAX,
    HEADER_TEXT_MAX,
    LABEL_MAX,
    PLACEHOLDER_MAX,
    SECTION_TEXT_MAX,
    VIEW_TITLE_MAX,
)
from bot.slack.render.text import clip


def mrkdwn(text: str, limit: int = SECTION_TEXT_MAX) -> dict:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def plain(text: str, limit: int) -> dict:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def section(text: str) -> dict:
    return {"type": "section", "text": mrkdwn(text)}


def context(*texts: str) -> dict:
    parts = [t for t in texts if t][:CONTEXT_ELEMENTS_MAX]
    return {"type": "context", "elements": [mrkdwn(t) for t in parts]}


def header(text: str) -> dict:
    return {"type": "header", "text": plain(text, HEADER_TEXT_MAX)}


def input_block(
    block_id: str,
    label: str,
    element: dict,
    *,
    optional: bool = False,
    hint: str | None = None,
    dispatch: bool = False,
) -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if dispatch:
        # Each change is sent as a block action: the live estimate follows what is typed.
        block["dispatch_action"] = True
        block["element"]["dispatch_action_config"] = {
            "trigger_actions_on": ["on_character_entered"]
        }
    if hint:
        block["hint"] = plain(hint, LABEL_MAX)
    return block


def text_input(
    *,
    multiline: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
    initial_value: str | None = None,
) -> dict:
    element: dict = {"type": "plain_text_input", "multiline": multiline}
    if max_length is not None:
        element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = plain(placeholder, PLACEHOLDER_MAX)
    if initial_value:
        element["initial_value"] = initial_value[:max_length] if max_length else initial_value
    return element


def url_input(placeholder: str) -> dict:
    return {"type": "url_text_input", "placeholder": plain(placeholder, PLACEHOLDER_MAX)}


def notice_modal(callback_id: str, text: str) -> dict:
    """A modal that only says something, titled `Viber message`, with a Close button."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain("Viber message", VIEW_TITLE_MAX),
        "close": plain("Close", VIEW_TITLE_MAX),
        "blocks": [section(text)],
    }


def listing(title: str, lines: list[str], total: int) -> str:
    """A titled list that fits one section: as many lines as fit, then `… and N more`."""
    text = f"*{title}*"
    room = SECTION_TEXT_MAX - 40  # kept for the `… and N more` line
    shown = 0
    for line in lines:
        if len(text) + 1 + len(line) > room:
            break
        text += "\n" + line
        shown += 1
    if total > shown:
        text += f"\n… and {total - shown} more"
    return text
