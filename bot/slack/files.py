"""Fetch a file someone uploaded in the send modal: `files.info`, then `url_private` with the token.

The bot token goes only to Slack's own hosts (or the configured SLACK_API_URL's host, for
the local stand-in); a file too big, of the wrong type or unreadable is an InputError
written for the person who uploaded it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import InputError
from bot.slack.render import input_errors as words

log = logging.getLogger(__name__)

ACCEPTED_TYPES = frozenset({"csv", "text"})
ACCEPTED_EXTENSIONS = (".csv", ".txt")
FIELD = "recipients_file"


class FileUnavailable(InputError):
    """The uploaded file cannot be fetched or used; shown on `recipients_file` (the words are
    render/input_errors.py's)."""

    def __init__(self, message: str):
        super().__init__(message, field=FIELD)


def _trusted(url: str, api_url: str) -> bool:
    """May the bot token be sent to this address? Slack's hosts and SLACK_API_URL's host only."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    api_host = (urlsplit(api_url).hostname or "").lower()
    if parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com")):
        return True
    return bool(api_host) and host == api_host and parts.scheme in {"http", "https"}


async def download_upload(
    client: AsyncWebClient,
    file_id: str,
    *,
    token: str,
    api_url: str,
    max_bytes: int,
    download_timeout: float,
) -> bytes:
    """The bytes of an uploaded CSV or text file; FileUnavailable says what went wrong."""
    try:
        answer = await client.files_info(file=file_id)
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else "unknown"
        log.warning("files.info %s failed: %s", file_id, code)
        if code == "missing_scope":
            raise FileUnavailable(words.FILES_SCOPE_MISSING) from None
        raise FileUnavailable(words.file_not_shown(code)) from None
    info = answer.get("file") or {}
    name = str(info.get("name") or "")
    filetype = str(info.get("filetype") or "").lower()
    if filetype not in ACCEPTED_TYPES and not name.lower().endswith(ACCEPTED_EXTENSIONS):
        raise FileUnavailable(words.FILE_TYPE)
    size = info.get("size")
    if isinstance(size, int) and size > max_bytes:
        raise FileUnavailable(words.file_too_big(size, max_bytes))
    url = info.get("url_private_download") or info.get("url_private")
    if not isinstance(url, str) or not url:
        raise FileUnavailable(words.FILE_NO_ADDRESS)
    if not _trusted(url, api_url):
        log.warning("file %s: refusing to send the token to %s", file_id, urlsplit(url).hostname)
        raise FileUnavailable(words.FILE_NOT_AT_SLACK)
    try:
        async with (
            httpx.AsyncClient(timeout=download_timeout, follow_redirects=False) as http,
            http.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            kind = response.headers.get("content-type", "")
            if response.status_code != 200 or kind.startswith("text/html"):
                log.warning("file %s: download answered %s", file_id, response.status_code)
                raise FileUnavailable(words.FILE_DOWNLOAD_REFUSED)
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise FileUnavailable(words.file_too_big(None, max_bytes))
    except httpx.HTTPError as error:
        log.warning("file %s: download failed: %s", file_id, type(error).__name__)
        raise FileUnavailable(words.FILE_DOWNLOAD_FAILED) from None
    return bytes(data)
