"""Files: the three steps of files.uploadV2, files.info, and `url_private` downloads."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.devtools.slack_standin.calls import Params, SlackCallError, require
from bot.devtools.slack_standin.identity import TEAM_ID


class FilesApi:
    """Files the bot uploads (`files`) and files people uploaded in a `file_input` (`uploads`)."""

    token: str | None
    base_url: str | None
    _clock: Callable[[], float]
    _file_ids: itertools.count[int]
    # files.uploadV2's three steps: URL issued -> bytes uploaded -> completed (shared).
    files: dict[str, dict[str, Any]]
    # Files people uploaded in a file_input (add_file), served by files.info and url_private.
    uploads: dict[str, tuple[dict[str, Any], bytes]]
    downloads: list[tuple[str, bool]]  # (file id, authorised)

    # Slack shares completed files as a message; MessagesApi provides these.
    _chat_post_message: Callable[[Params], dict[str, Any]]
    _stored: Callable[[str, str], dict[str, Any] | None]

    def uploaded_files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files completed with files.completeUploadExternal (in `channel`), oldest first;
        each has `content` (bytes), `name`, `title`, `channel`, `thread_ts`."""
        done = [f for f in self.files.values() if f.get("completed")]
        return [copy.deepcopy(f) for f in done if channel is None or f["channel"] == channel]

    def _files_get_upload_url(self, params: Params) -> dict[str, Any]:
        filename = str(require(params, "filename", "invalid_arguments"))
        try:
            length = int(require(params, "length", "invalid_arguments"))
        except ValueError:
            raise SlackCallError("invalid_arguments") from None
        if length < 1:
            raise SlackCallError("invalid_arguments")
        assert self.base_url is not None
        file_id = f"F{next(self._file_ids):08d}"
        self.files[file_id] = {
            "id": file_id,
            "name": filename,
            "length": length,
            "content": None,
            "completed": False,
        }
        upload_url = f"{self.base_url.removesuffix('/api/')}/upload/{file_id}"
        return {"upload_url": upload_url, "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["file_id"])
        if found is None or found["completed"]:
            return web.Response(status=404, text="not found")
        content = await request.read()
        if len(content) != found["length"]:
            # Slack refuses an upload whose size differs from the announced length.
            return web.Response(status=400, text="length mismatch")
        found["content"] = content
        return web.Response(status=200, text=f"OK - {len(content)}")

    def _files_complete_upload(self, params: Params) -> dict[str, Any]:
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackCallError("invalid_arguments", messages=["[ERROR] missing files"])
        channel = params.get("channel_id") or params.get("channel")
        thread_ts = params.get("thread_ts")
        if thread_ts and not channel:
            raise SlackCallError("invalid_arguments")
        parent = None
        if thread_ts:
            parent = self._stored(str(channel), str(thread_ts))
            if parent is None:
                raise SlackCallError("invalid_thread_ts")
        completed = []
        for entry in entries:
            found = self.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if found is None or found["content"] is None:
                raise SlackCallError("file_not_found")
            found.update(
                completed=True,
                title=entry.get("title") or found["name"],
                channel=channel,
                thread_ts=thread_ts,
                initial_comment=params.get("initial_comment"),
            )
            completed.append({k: v for k, v in found.items() if k != "content"})
        if channel:
            # Slack shares the files as one message (in the thread when thread_ts is given).
            self._chat_post_message(
                {
                    "channel": channel,
                    "thread_ts": thread_ts,
                    "text": params.get("initial_comment") or "",
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": f["title"]}}
                        for f in completed
                    ],
                }
            )
        return {"files": completed}

    # ------------------------------------------------------------------ files

    def add_file(
        self, content: bytes, *, name: str = "recipients.csv", filetype: str | None = None
    ) -> dict[str, Any]:
        """Store an upload as `file_input` would; returns the file object a view state carries."""
        assert self.base_url is not None, "start() the stand-in first"
        file_id = f"F{next(self._file_ids):08d}"
        root = self.base_url.removesuffix("/api/")
        kind = filetype or ("csv" if name.lower().endswith(".csv") else "text")
        url = f"{root}/files-pri/{TEAM_ID}-{file_id}/{name}"
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": "text/csv" if kind == "csv" else "text/plain",
            "filetype": kind,
            "size": len(content),
            "url_private": url,
            "url_private_download": url + "?download=1",
            "created": int(self._clock()),
            "user": "U123",
        }
        self.uploads[file_id] = (info, content)
        return {k: info[k] for k in ("id", "name", "title", "mimetype", "filetype")}

    def _files_info(self, params: Params) -> dict[str, Any]:
        file_id = require(params, "file")
        if file_id in self.uploads:
            return {"file": copy.deepcopy(self.uploads[file_id][0])}
        shared = self.files.get(file_id)
        if shared is None or not shared["completed"]:
            raise SlackCallError("file_not_found")
        return {"file": {k: v for k, v in shared.items() if k != "content"}}

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        # Like Slack: without the bot token a private file URL leads to the sign-in page.
        file_id = request.match_info["file_id"].removeprefix(f"{TEAM_ID}-")
        header = request.headers.get("Authorization", "")
        authorised = self.token is None or header == f"Bearer {self.token}"
        self.downloads.append((file_id, authorised))
        if not authorised:
            raise web.HTTPFound("/login")
        if file_id not in self.uploads:
            return web.Response(status=404, text="file not found")
        info, content = self.uploads[file_id]
        return web.Response(body=content, content_type=info["mimetype"])

    async def _handle_login(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body>Sign in to Slack</body></html>", content_type="text/html"
        )
