"""files.uploadV2's three steps and views.update's hash check, through slack_sdk's own client."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.slack_standin import SlackStandIn

MODAL = {
    "type": "modal",
    "callback_id": "viber_send",
    "title": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {"type": "context", "block_id": "estimate", "elements": [{"type": "mrkdwn", "text": "…"}]}
    ],
}


async def test_upload_v2_into_a_thread(standin: SlackStandIn, web_client: AsyncWebClient) -> None:
    parent = await web_client.chat_postMessage(channel="C1", text="parent")
    answer = await web_client.files_upload_v2(
        channel="C1",
        thread_ts=parent["ts"],
        content="phone,status\n+380,read\n",
        filename="send-1.csv",
        title="Send 1",
        initial_comment="Here it is",
    )
    assert answer["ok"] and answer["file"]["name"] == "send-1.csv"
    names = [name for name, _ in standin.calls]
    assert names[-2:] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    (uploaded,) = standin.uploaded_files("C1")
    assert uploaded["content"] == b"phone,status\n+380,read\n"
    assert uploaded["thread_ts"] == parent["ts"]
    assert standin.thread("C1", parent["ts"])[-1]["text"] == "Here it is"


async def test_upload_without_completion_is_not_shared(
    standin: SlackStandIn, web_client: AsyncWebClient
) -> None:
    await web_client.files_getUploadURLExternal(filename="x.csv", length=3)
    assert standin.uploaded_files() == []
    with pytest.raises(SlackApiError) as refused:
        await web_client.files_completeUploadExternal(files=[{"id": "F99999999", "title": "x"}])
    assert refused.value.response["error"] == "file_not_found"


async def test_views_update_checks_the_hash(
    standin: SlackStandIn, web_client: AsyncWebClient
) -> None:
    opened = await web_client.views_open(trigger_id="t1", view=MODAL)
    view = opened["view"]
    updated = await web_client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert updated["view"]["hash"] != view["hash"]
    with pytest.raises(SlackApiError) as stale:
        await web_client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert stale.value.response["error"] == "hash_conflict"
