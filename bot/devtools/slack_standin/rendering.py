"""A stored message's Block Kit as the plain-text lines a person would read (for the demo)."""

from __future__ import annotations

import html
import re
from typing import Any

from bot.devtools.slack_standin.calls import text_of

_SPECIAL = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def _plain(text: str) -> str:
    """Slack mrkdwn's links and mentions as a person reads them, entities unescaped."""

    def readable(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return label or target
        if target.startswith("#"):
            return f"#{label}" if label else target
        if target.startswith("!"):
            if label:
                return label
            return "@" + target[1:].split("^", 1)[0]
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_SPECIAL.sub(readable, text))


def _element_text(element: Any) -> str:
    if not isinstance(element, dict):
        return ""
    if element.get("type") == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if element.get("type") == "button":
        return f"[{_plain(text_of(element.get('text')))}]"
    if "text" in element and isinstance(element["text"], str):
        return _plain(element["text"])
    if "elements" in element:
        return "".join(_element_text(child) for child in element["elements"])
    if "url" in element:
        return str(element["url"])
    return text_of(element.get("text"))


def render_text(message: dict[str, Any]) -> str:
    """A stored message's blocks as readable plain-text lines (its `text` if it has none)."""
    blocks = message.get("blocks") or []
    if not blocks:
        return _plain(str(message.get("text", "")))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "section"):
            if block.get("text"):
                lines.extend(_plain(text_of(block["text"])).splitlines())
            lines.extend(
                line
                for field in block.get("fields") or []
                for line in _plain(text_of(field)).splitlines()
            )
            accessory = _element_text(block.get("accessory"))
            if accessory:
                lines.append(accessory)
        elif kind == "context":
            lines.append("  ".join(_element_text(e) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "image":
            lines.append(_element_text(block))
        elif kind == "actions":
            lines.append(" ".join(_element_text(e) for e in block.get("elements") or []))
        elif kind == "markdown":
            lines.extend(str(block.get("text", "")).splitlines())
        elif kind == "rich_text":
            lines.extend(
                "".join(_element_text(e) for e in section.get("elements") or []).rstrip("\n")
                for section in block.get("elements") or []
            )
    return "\n".join(lines)
