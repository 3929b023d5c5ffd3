"""The modal's recipients as submitted: typed numbers, `@lists` and the uploaded file, composed."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.recipients_file import RecipientsFileError
from bot.services import Services
from bot.slack.compose import Composed, ComposeErrors, Draft, compose, with_recipients_file
from bot.slack.files import FileUnavailable, download_upload
from bot.slack.render import input_errors
from bot.tracking.audiences import prefetched_lists
from commands.modal.state import uploaded_file_id


async def compose_submission(
    values: dict[str, Any], draft: Draft, client: AsyncWebClient, deps: Services
) -> Composed:
    """The validated send, the recipients file's rows included; ComposeErrors field by field."""
    settings = deps.settings
    file_id = uploaded_file_id(values)
    errors: dict[str, str] = {}
    composed: Composed | None = None
    try:
        composed = compose(
            draft,
            settings,
            now=deps.clock(),
            lists=await prefetched_lists(deps.store, draft.recipients or ""),
            require_recipients=file_id is None,
        )
    except ComposeErrors as problems:
        errors.update(problems.errors)
    data: bytes | None = None
    if file_id is not None:
        try:
            data = await download_upload(
                client,
                file_id,
                token=settings.slack_bot_token.get_secret_value(),
                api_url=settings.slack_api_url,
                max_bytes=settings.max_file_bytes,
                download_timeout=settings.file_timeout,
            )
        except FileUnavailable as problem:
            errors["recipients_file"] = str(problem)
    if errors or composed is None:
        raise ComposeErrors(errors=errors)
    if data is None:
        return composed
    try:
        return with_recipients_file(composed, data, settings)
    except RecipientsFileError as problem:
        raise ComposeErrors(
            errors={"recipients_file": input_errors.recipients_file_problem(problem)}
        ) from None
