"""manifest.yml is a Slack app manifest that matches what the bot does."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_slash_command_matches_the_default_command():
    default = Settings.model_fields["command"].default
    commands = [c["command"] for c in manifest()["features"]["slash_commands"]]
    assert commands == [default]


def test_interactivity_home_and_socket_mode():
    m = manifest()
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    assert "app_home_opened" in m["settings"]["event_subscriptions"]["bot_events"]
    assert m["features"]["app_home"]["home_tab_enabled"] is True


def test_scopes_cover_every_web_api_method_the_bot_calls():
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    # chat.postMessage / chat.update / chat.postEphemeral, views.*, conversations.*
    assert {"commands", "chat:write", "chat:write.public", "channels:history"} <= scopes


def test_the_recipients_file_can_be_read():
    # commands/modal/recipients.py: files.info, then url_private with the bot token.
    assert "files:read" in manifest()["oauth_config"]["scopes"]["bot"]
