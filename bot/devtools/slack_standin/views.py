"""Modals and App Home: views.open, views.update, views.publish, and what each view shows now."""

from __future__ import annotations

import copy
import itertools
import secrets
from collections.abc import Callable
from typing import Any

from bot.devtools.slack_standin.calls import Params, SlackCallError, require
from bot.devtools.slack_standin.identity import APP_ID, BOT_ID, TEAM_ID
from bot.devtools.slack_standin.validation import raise_view_problems


class ViewsApi:
    """The stand-in's views, with the trigger ids and hashes Slack checks on them."""

    _clock: Callable[[], float]
    _view_ids: itertools.count[int]
    _views: dict[str, dict[str, Any]]
    _used_triggers: set[str]
    opened_views: list[dict[str, Any]]
    published_views: dict[str, dict[str, Any]]

    def view(self, view_id: str) -> dict[str, Any] | None:
        """A modal's current state (after any views.update), or None."""
        found = self._views.get(view_id)
        return copy.deepcopy(found) if found is not None else None

    def _new_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._view_ids):08d}"
        stored = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self._clock())}.{secrets.token_hex(4)}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        self._views[view_id] = stored
        return stored

    def _views_open(self, params: Params) -> dict[str, Any]:
        view = params.get("view")
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
        if not trigger_id:
            raise SlackCallError("invalid_arguments", messages=["[ERROR] missing trigger_id"])
        if trigger_id in self._used_triggers:
            raise SlackCallError("expired_trigger_id")
        raise_view_problems(view, expected_type="modal")
        self._used_triggers.add(trigger_id)
        stored = self._new_view(view)
        self.opened_views.append(copy.deepcopy(stored))
        return {"view": copy.deepcopy(stored)}

    def _views_update(self, params: Params) -> dict[str, Any]:
        view = params.get("view")
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            view_id = next(
                (
                    v["id"]
                    for v in self._views.values()
                    if v["external_id"] == params["external_id"]
                ),
                None,
            )
        current = self._views.get(str(view_id)) if view_id else None
        if current is None:
            raise SlackCallError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackCallError("hash_conflict")
        raise_view_problems(view, expected_type=current["type"])
        stored = self._new_view(view, view_id=current["id"])
        return {"view": copy.deepcopy(stored)}

    def _views_publish(self, params: Params) -> dict[str, Any]:
        user_id = str(require(params, "user_id", "invalid_arguments"))
        view = params.get("view")
        raise_view_problems(view, expected_type="home")
        current = self.published_views.get(user_id)
        if current is not None and params.get("hash") and params["hash"] != current["hash"]:
            raise SlackCallError("hash_conflict")
        stored = self._new_view(view, view_id=current["id"] if current else None)
        self.published_views[user_id] = copy.deepcopy(stored)
        return {"view": copy.deepcopy(stored)}
