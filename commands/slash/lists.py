"""`/viber lists` and `/viber list show|add|remove|delete NAME …`, answered privately."""

from __future__ import annotations

from bot.domain.errors import InputError
from bot.services import Services
from bot.slack.render import private
from bot.slack.render.audiences import (
    list_added_answer,
    list_deleted_answer,
    list_needs_numbers,
    list_nothing_to_add,
    list_removed_answer,
    list_show_answer,
    list_usage,
    lists_answer,
    no_such_list,
)
from bot.slack.render.input_errors import input_problem
from bot.slack.render.text import escape
from commands.slash.parsing import first_word
from commands.slash.request import SlashRequest


async def answer(request: SlashRequest, deps: Services) -> None:
    """`lists`, or `list show|add|remove|delete NAME …`: always a private answer."""
    ack, command = request.ack, request.command
    user_id = command.get("user_id", "")
    denial = deps.sending.read_denial(user_id, command.get("channel_id", ""))
    if denial is not None:
        await ack(response_type="ephemeral", text=escape(private.read_denied(denial)))
        return
    if request.parsed.verb == "lists":
        text = lists_answer(await deps.audiences.list_sizes(), deps.settings.command)
    else:
        try:
            text = await _answer(request.parsed.text, user_id, deps)
        except InputError as problem:
            text = escape(input_problem(problem))
    await ack(response_type="ephemeral", text=text)


async def _answer(rest: str, user_id: str, deps: Services) -> str:
    c = deps.settings.command
    action, rest = first_word(rest)
    action = action.lower()
    name, numbers = first_word(rest)
    if action not in {"show", "add", "remove", "delete"} or not name:
        return list_usage(c)
    audiences = deps.audiences
    if action == "show":
        members = await audiences.list_members(name)
        if members is None:
            return no_such_list(name, c)
        return list_show_answer(name, [m.msisdn for m in members])
    if action == "delete":
        size = await audiences.list_delete(name, user_id)
        return no_such_list(name, c) if size is None else list_deleted_answer(name, size)
    if not numbers.strip():
        return list_needs_numbers(c, action, name)
    if action == "add":
        change = await audiences.list_add(name, numbers, user_id)
        if change.edit is None:
            return list_nothing_to_add(name, change.invalid)
        edit = change.edit
        return list_added_answer(
            name, edit.changed, edit.unchanged, edit.size, change.invalid, edit.created
        )
    change = await audiences.list_remove(name, numbers, user_id)
    if change.edit is None:
        return no_such_list(name, c)
    edit = change.edit
    return list_removed_answer(name, edit.changed, edit.unchanged, edit.size, change.invalid)
