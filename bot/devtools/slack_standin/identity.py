"""Who the stand-in answers as; tests/slack_requests.py uses the same team and app."""

TEAM_ID = "T123"
TEAM_DOMAIN = "standin"
APP_ID = "A123"
BOT_ID = "B123"
BOT_USER_ID = "UBOT123"
