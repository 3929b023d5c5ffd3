"""The outbox's Slack calls: one Web API call with its errors sorted, the look-up of an earlier
post by the outbox id in its metadata, and private answers through response_url."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.domain.retry_after import parse_retry_after
from storage.store import OutboxItem

log = logging.getLogger("bot.slack.outbox")  # the outbox's one logger: operators filter by it

METADATA_EVENT = "viber_bot_outbox"
# Slack errors that no retry can fix: the row is set aside (logged), not retried forever.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "no_text",
        "cant_update_message",
        "message_not_found",
        "user_not_in_channel",
        "invalid_arguments",
    }
)


class SlackTransient(Exception):
    """Slack did not give a usable answer; the post may be tried again."""

    def __init__(self, reason: str, *, maybe_posted: bool):
        self.maybe_posted = maybe_posted
        super().__init__(reason)


class RateLimited(Exception):
    """Slack answered 429: wait Retry-After seconds before posting to that channel again."""

    def __init__(self, retry_after: float, *, maybe_posted: bool = False):
        self.retry_after = retry_after
        # True when the 429 answered the look-up for an earlier post that may have landed.
        self.maybe_posted = maybe_posted
        super().__init__(f"rate limited for {retry_after}s")


class Waiting(Exception):
    """The row depends on one not posted yet (a reply before its parent)."""


class Permanent(Exception):
    """Slack refused the post for a reason a retry cannot fix."""


def _retry_after(value: str | None) -> float:
    """Slack's Retry-After (seconds or an HTTP date); 1 s when it gives none."""
    seconds = parse_retry_after(value)
    return 1.0 if seconds is None else seconds


class SlackCalls:
    """The Web API client and the response_url session the outbox posts through."""

    def __init__(self, client: AsyncWebClient, http: aiohttp.ClientSession | None = None):
        self.client = client
        self._http = http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def find_posted(self, item: OutboxItem, thread_ts: str | None) -> str | None:
        """Look for a post of this row that may have landed before a crash; return its ts.

        A failed look-up leaves the row uncertain (looked for again next time), whatever Slack
        answered. One Slack refuses for good (`not_in_channel`: chat:write.public posts where
        the bot is no member, but cannot read there) cannot be settled: then the row is posted
        again, as a possible second copy beats a parent or reply that never shows.
        """
        try:
            if thread_ts is None:
                answer = await self.call(
                    "conversations.history",
                    channel=item.channel_id,
                    # Only what was posted since the row was queued: enough, however busy.
                    oldest=f"{item.created_at.timestamp() - 300:.6f}",
                    limit=200,
                    include_all_metadata=True,
                )
            else:
                answer = await self.call(
                    "conversations.replies",
                    channel=item.channel_id,
                    ts=thread_ts,
                    limit=200,
                    include_all_metadata=True,
                )
        except RateLimited as limit:
            limit.maybe_posted = True
            raise
        except SlackTransient as failure:
            failure.maybe_posted = True
            raise
        except Permanent as refusal:
            log.warning(
                "outbox %s: cannot look for an earlier post (%s); posting again, "
                "which may show it twice",
                item.id,
                refusal,
            )
            return None
        for message in answer.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == METADATA_EVENT and payload.get("outbox_id") == item.id:
                log.info(
                    "outbox %s: already posted as %s; not posting again", item.id, message["ts"]
                )
                return message["ts"]
        return None

    async def ephemeral(self, item: OutboxItem) -> None:
        """A private answer: through its response_url while it lasts, else chat.postEphemeral."""
        payload = item.payload
        url = payload.get("response_url")
        if url:
            # No SDK retries: a second try of a post that landed would show it twice.
            webhook = AsyncWebhookClient(url, session=self._session(), retry_handlers=[])
            try:
                answer = await webhook.send(response_type="ephemeral", text=payload["text"])
            except (aiohttp.ClientError, TimeoutError) as error:
                raise SlackTransient(
                    f"response_url: {type(error).__name__}", maybe_posted=False
                ) from None
            if answer.status_code == 429:
                raise RateLimited(_retry_after(answer.headers.get("Retry-After")))
            if answer.status_code >= 500:
                raise SlackTransient(
                    f"response_url answered {answer.status_code}", maybe_posted=False
                )
            if answer.status_code < 300:
                return
            # 404 and friends: the response_url expired (30 min); fall back below.
        await self.call(
            "chat.postEphemeral",
            channel=item.channel_id,
            user=payload["user_id"],
            text=payload["text"],
        )

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._http

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One Web API call with errors sorted into RateLimited / SlackTransient / Permanent."""
        try:
            response = await getattr(self.client, method.replace(".", "_"))(**params)
        except SlackApiError as error:
            status = error.response.status_code
            code = error.response.get("error") if error.response.data else None
            if status == 429 or code == "ratelimited":
                raise RateLimited(_retry_after(error.response.headers.get("Retry-After"))) from None
            if status >= 500 or code in {
                "internal_error",
                "fatal_error",
                "service_unavailable",
                "request_timeout",
            }:
                raise SlackTransient(
                    f"{method}: {code or status}", maybe_posted=status >= 500
                ) from None
            raise Permanent(f"{method}: {code or status}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise SlackTransient(f"{method}: {type(error).__name__}", maybe_posted=True) from None
        return response.data if isinstance(response.data, dict) else {}
