"""Slack's documented limits on messages and views, checked so the bot fails here as in Slack."""

from __future__ import annotations

from typing import Any

from bot.devtools.slack_standin.calls import Params, SlackCallError, text_of

MAX_TEXT = 40_000
MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3_000
MAX_CALLBACK_ID = 255

BLOCK_TYPES = {
    "section",
    "context",
    "header",
    "divider",
    "image",
    "actions",
    "input",
    "rich_text",
    "markdown",
    "file",
    "video",
}


def check_message_content(params: Params) -> None:
    """Raise what chat.postMessage / chat.update / chat.postEphemeral would for this content."""
    if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
        raise SlackCallError("no_text")
    if len(str(params.get("text") or "")) > MAX_TEXT:
        raise SlackCallError("msg_too_long")
    if "blocks" in params:
        messages = block_problems(params["blocks"], MAX_BLOCKS_MESSAGE, "/blocks")
        if messages:
            raise SlackCallError("invalid_blocks", messages=messages)
    metadata = params.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackCallError("invalid_metadata_format")


def block_problems(blocks: Any, limit: int, pointer: str) -> list[str]:
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.append(f"[ERROR] unsupported type [json-pointer:{where}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"[ERROR] duplicate block_id [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"[ERROR] must provide text or fields [json-pointer:{where}]")
            if len(text_of(block.get("text"))) > MAX_SECTION_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters "
                    f"[json-pointer:{where}/text/text]"
                )
            fields = block.get("fields") or []
            if len(fields) > MAX_SECTION_FIELDS:
                problems.append(
                    f"[ERROR] no more than {MAX_SECTION_FIELDS} items allowed "
                    f"[json-pointer:{where}/fields]"
                )
            for number, field in enumerate(fields):
                if len(text_of(field)) > MAX_FIELD_TEXT:
                    problems.append(
                        f"[ERROR] must be less than {MAX_FIELD_TEXT + 1} characters "
                        f"[json-pointer:{where}/fields/{number}/text]"
                    )
        elif kind == "header":
            if len(text_of(block.get("text"))) > MAX_HEADER_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_HEADER_TEXT + 1} characters "
                    f"[json-pointer:{where}/text/text]"
                )
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(
                    f"[ERROR] must have 1 to {MAX_CONTEXT_ELEMENTS} items "
                    f"[json-pointer:{where}/elements]"
                )
        elif kind == "input" and (
            "label" not in block or not isinstance(block.get("element"), dict)
        ):
            problems.append(f"[ERROR] needs a label and an element [json-pointer:{where}]")
    return problems


def raise_view_problems(view: Any, *, expected_type: str) -> None:
    if not isinstance(view, dict):
        raise SlackCallError("invalid_arguments", messages=["[ERROR] missing view"])
    problems = []
    if view.get("type") != expected_type:
        problems.append(f"[ERROR] must be '{expected_type}' [json-pointer:/view/type]")
    problems += block_problems(view.get("blocks", []), MAX_BLOCKS_VIEW, "/view/blocks")
    if expected_type == "modal":
        for name in ("title", "submit", "close"):
            if name in view and len(text_of(view[name])) > MAX_VIEW_TITLE:
                problems.append(
                    f"[ERROR] must be less than {MAX_VIEW_TITLE + 1} characters "
                    f"[json-pointer:/view/{name}/text]"
                )
        if not text_of(view.get("title")):
            problems.append("[ERROR] missing required field: title [json-pointer:/view/title]")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in view["blocks"])
        if has_input and not view.get("submit"):
            problems.append("[ERROR] submit is required with input blocks [json-pointer:/view]")
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        problems.append(
            f"[ERROR] must be less than {MAX_PRIVATE_METADATA + 1} characters "
            "[json-pointer:/view/private_metadata]"
        )
    if len(str(view.get("callback_id", ""))) > MAX_CALLBACK_ID:
        problems.append(
            f"[ERROR] must be less than {MAX_CALLBACK_ID + 1} characters "
            "[json-pointer:/view/callback_id]"
        )
    if problems:
        raise SlackCallError("invalid_arguments", messages=problems)
