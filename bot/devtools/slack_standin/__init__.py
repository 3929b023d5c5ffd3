"""A local stand-in for Slack's Web API, response URLs and Socket Mode, for the demo and tests."""

from bot.devtools.slack_standin.calls import SlackCallError
from bot.devtools.slack_standin.identity import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID
from bot.devtools.slack_standin.rendering import render_text
from bot.devtools.slack_standin.server import SlackStandIn

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "SlackCallError",
    "SlackStandIn",
    "render_text",
]
