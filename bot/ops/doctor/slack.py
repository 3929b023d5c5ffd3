"""`viber-bot doctor`'s Slack checks: the bot token (auth.test) and Socket Mode's app token
(apps.connections.open)."""

from __future__ import annotations

import re

from bot.ops.doctor.check import Check
from bot.settings import Settings

_SLACK_TOKEN_FIX = (
    "copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page at "
    "https://api.slack.com/apps into SLACK_BOT_TOKEN"
)
_SLACK_ERRORS = {
    "invalid_auth": ("Slack rejected SLACK_BOT_TOKEN (invalid_auth)", _SLACK_TOKEN_FIX),
    "not_authed": ("no token reached Slack (not_authed)", _SLACK_TOKEN_FIX),
    "account_inactive": (
        "the token's app or workspace is inactive (account_inactive)",
        "reinstall the app to the workspace and copy the new bot token into SLACK_BOT_TOKEN",
    ),
    "token_revoked": (
        "the token was revoked (token_revoked)",
        "reinstall the app to the workspace and copy the new bot token into SLACK_BOT_TOKEN",
    ),
    "token_expired": (
        "the token expired (token_expired)",
        "turn off token rotation for the app, or reinstall it and copy the new bot token",
    ),
    "ratelimited": ("Slack rate-limited the check (ratelimited)", "run doctor again in a minute"),
}


async def check_slack(settings: Settings) -> Check:
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    url = settings.slack_api_url
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=url,
        retry_handlers=[],
        timeout=10,
    )
    try:
        answer = await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if code in _SLACK_ERRORS:
            detail, fix = _SLACK_ERRORS[code]
            return Check("Slack", False, f"{detail} at {url}", fix)
        if code:
            return Check(
                "Slack",
                False,
                f"Slack answered auth.test with {code} at {url}",
                "see https://api.slack.com/methods/auth.test for what it means",
            )
        return Check(
            "Slack",
            False,
            f"{url} answered HTTP {error.response.status_code}, not like Slack's Web API",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            "Slack",
            False,
            f"Slack could not be reached at {url}: {type(error).__name__}",
            "check SLACK_API_URL and that this machine can reach it (network, proxy, firewall)",
        )
    except Exception as error:  # a diagnosis must report, not crash
        return Check(
            "Slack",
            False,
            f"auth.test at {url} failed: {type(error).__name__}: {error}",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    if not answer.get("bot_id"):
        return Check(
            "Slack",
            False,
            f"SLACK_BOT_TOKEN belongs to a person ({answer.get('user')}), not to the bot",
            _SLACK_TOKEN_FIX,
        )
    return Check(
        "Slack",
        True,
        f"authenticated as {answer.get('user')} in {answer.get('team')} "
        f"({answer.get('team_id')}) at {url}",
    )


_APP_TOKEN_SHAPE = re.compile(r"^xapp-[0-9]+-[A-Za-z0-9]+-[A-Za-z0-9-]+$")
_APP_TOKEN_FIX = (
    "copy an App-Level Token (xapp-…) with the connections:write scope from your app's "
    "Basic Information page at https://api.slack.com/apps into SLACK_APP_TOKEN, or unset it "
    "for HTTP mode"
)
_APP_TOKEN_ERRORS = {
    "invalid_auth": "Slack rejected SLACK_APP_TOKEN (invalid_auth)",
    "not_authed": "no app token reached Slack (not_authed)",
    "not_allowed_token_type": "SLACK_APP_TOKEN is not an app-level token",
    "missing_scope": "the app token lacks the connections:write scope (missing_scope)",
    "token_revoked": "the app token was revoked (token_revoked)",
}


async def check_app_token(settings: Settings) -> Check | None:
    """Socket Mode's token: its shape, and `apps.connections.open` at SLACK_API_URL."""
    if settings.slack_app_token is None:
        return None
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    token = settings.slack_app_token.get_secret_value()
    name = "Socket Mode"
    if not _APP_TOKEN_SHAPE.match(token):
        return Check(
            name,
            False,
            "SLACK_APP_TOKEN is not shaped like an app-level token (xapp-<n>-<app id>-…): "
            "a space, a quote or a cut-off copy?",
            _APP_TOKEN_FIX,
        )
    url = settings.slack_api_url
    client = AsyncWebClient(token=token, base_url=url, retry_handlers=[], timeout=10)
    try:
        answer = await client.apps_connections_open(app_token=token)
    except SlackApiError as error:
        code = error.response.get("error") if isinstance(error.response.data, dict) else None
        if code in _APP_TOKEN_ERRORS:
            return Check(name, False, f"{_APP_TOKEN_ERRORS[code]} at {url}", _APP_TOKEN_FIX)
        if code:
            return Check(
                name,
                False,
                f"Slack answered apps.connections.open with {code} at {url}",
                "see https://api.slack.com/methods/apps.connections.open for what it means",
            )
        return Check(
            name,
            False,
            f"{url} answered HTTP {error.response.status_code}, not like Slack's Web API",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return Check(
            name,
            False,
            f"Slack could not be reached at {url}: {type(error).__name__}",
            "check SLACK_API_URL and that this machine can reach it (network, proxy, firewall)",
        )
    socket_url = str(answer.get("url") or "")
    if not socket_url.startswith(("wss://", "ws://")):
        return Check(
            name,
            False,
            f"apps.connections.open at {url} gave no WebSocket URL",
            "check SLACK_API_URL (Slack's is https://slack.com/api/)",
        )
    return Check(name, True, f"app token accepted at {url}; Socket Mode can connect")
