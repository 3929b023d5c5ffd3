"""CSV recipients through the modal: the file fetched from the Slack stand-in over real HTTP,
each row's text filled in, errors field by field on `recipients_file` with nothing sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.files import FileUnavailable, download_upload
from tests.conftest import BOT_TOKEN
from tests.http.test_lists import said, sent_numbers
from tests.http.test_modal import errors_of, submit
from tests.slack_requests import state_value


def upload(app, content: bytes | str, name: str = "recipients.csv") -> dict[str, Any]:
    data = content.encode() if isinstance(content, str) else content
    return state_value("file_input", [app.slack.add_file(data, name=name)])


def items(bsg) -> list[dict[str, Any]]:
    return [m for body in bsg.create_bodies for m in body["messages"]]


EXCEL = (
    "\ufeffphone;name;order\r\n"
    '+380972920283;"Olena, Jr";"A-1\r\nsecond line"\r\n'
    "\r\n"
    "380972920282;Taras;B-2\r\n"
    "00380972920283;Duplicate;X\r\n"
    "380972920281;Taras;B-2\r\n"
).encode()


async def test_an_excel_export_sends_each_row_its_own_text(app, bsg):
    ack = await submit(
        app,
        {
            "recipients": "",
            "recipients_file": upload(app, EXCEL),
            "text": "Hello {name}, order {order} is ready",
            "sms_text": "{name}: order {order}",
        },
    )
    assert ack == {}
    await app.wait_for(lambda: app.slack.channel_messages("C123"))
    # The bot fetched the file with files.info and its bot token.
    assert app.slack.calls_to("files.info")
    assert app.slack.downloads and all(authorised for _, authorised in app.slack.downloads)
    texts = {to["msisdn"]: m["text"] for m in items(bsg) for to in m["to"]}
    assert texts == {
        "380972920283": "Hello Olena, Jr, order A-1\nsecond line is ready",
        "380972920282": "Hello Taras, order B-2 is ready",
        "380972920281": "Hello Taras, order B-2 is ready",
    }
    # Identical rendered texts share one messages[] item.
    shared = [m for m in items(bsg) if m["text"] == "Hello Taras, order B-2 is ready"]
    assert len(shared) == 1 and len(shared[0]["to"]) == 2
    assert shared[0]["options"]["viber"]["alt_route"]["text"] == "Taras: order B-2"
    assert all(len(m["to"]) for m in items(bsg))
    assert all(sum(len(m["to"]) for m in body["messages"]) <= 50 for body in bsg.create_bodies)
    # The card reports the collapsed duplicate; the channel sees the template, not the rows.
    posted = json.dumps(app.slack.channel_messages("C123")[-1], ensure_ascii=False)
    assert "1 duplicate collapsed" in posted
    assert "Hello {name}" in posted and "Olena" not in posted
    # Each recipient's text is stored: status shows what that person received.
    send = (await app.store.recent_sends(1))[0]
    stored = {m.msisdn: m for m in await app.store.send_messages(send.id)}
    assert stored["380972920282"].text == "Hello Taras, order B-2 is ready"
    said(await app.command(f"status {stored['380972920282'].reference}"))
    shown = await app.wait_for(
        lambda: [r["text"] for r in app.slack.responses if "Hello Taras" in r.get("text", "")]
    )
    assert "Text: >Hello Taras, order B-2 is ready" in shown[0]


async def test_a_plain_text_file_of_numbers_without_a_header(app, bsg):
    ack = await submit(
        app,
        {
            "recipients": "+380972920280",
            "recipients_file": upload(app, "380972920283\n380972920282\n\n", name="numbers.txt"),
            "text": "Same for all",
        },
    )
    assert ack == {}
    await app.wait_for(lambda: bsg.create_bodies)
    assert sorted(sent_numbers(bsg)) == ["380972920280", "380972920282", "380972920283"]
    assert [m["text"] for m in items(bsg)] == ["Same for all"]


@pytest.mark.parametrize(
    ("content", "text", "expected"),
    [
        ("phone,name\n380972920283,Olena\n", "Hi {first_name}", "{first_name}"),
        (
            "phone,name\n380972920283,Olena\n380972920282,\n",
            "Hi {name}",
            "Row 3 has no value for {name}",
        ),
        ("phone\n+3801\n380972920283\nabc\n", "Hi", "2 rows have numbers"),
        ("", "Hi", "empty"),
        ("\n\n \n", "Hi", "empty"),
        (b"phone,name\n380972920283,\xff\xfe\n", "Hi", "UTF-8"),
        ("phone\n" + "".join(f"3809729{n:05d}\n" for n in range(101)), "Hi", "at most 100"),
    ],
    ids=[
        "missing-variable",
        "empty-value",
        "bad-numbers",
        "empty",
        "blank",
        "not-utf8",
        "too-many",
    ],
)
async def test_a_file_that_cannot_be_used_is_refused_on_its_field(
    app, bsg, content, text, expected
):
    ack = await submit(
        app, {"recipients": "", "recipients_file": upload(app, content), "text": text}
    )
    errors = errors_of(ack)
    assert set(errors) == {"recipients_file"}, errors
    assert expected in errors["recipients_file"]
    assert bsg.create_bodies == [] and await app.store.recent_sends(1) == []


async def test_bad_numbers_are_counted_and_the_first_rows_named(app, bsg):
    rows = "phone,name\n" + "".join(f"+3801{n},N\n" for n in range(8)) + "380972920283,Ok\n"
    ack = await submit(
        app, {"recipients": "", "recipients_file": upload(app, rows), "text": "Hi {name}"}
    )
    message = errors_of(ack)["recipients_file"]
    assert message.startswith("8 rows have numbers")
    assert "row 2 (+38010" in message and "row 6 (" in message and "and 3 more" in message


async def test_the_stand_in_refuses_a_download_with_a_bad_token(app):
    """files.info answers, but url_private leads to the sign-in page without the bot token."""
    file_id = app.slack.add_file(b"phone\n380972920283\n")["id"]
    client = AsyncWebClient(token=BOT_TOKEN, base_url=app.slack.base_url)
    common = {"api_url": app.slack.base_url, "max_bytes": 10_000, "download_timeout": 2.0}
    assert await download_upload(client, file_id, token=BOT_TOKEN, **common) == (
        b"phone\n380972920283\n"
    )
    with pytest.raises(FileUnavailable) as refused:
        await download_upload(client, file_id, token="xoxb-wrong-token-000000", **common)
    assert "files:read" in str(refused.value) and "xoxb" not in str(refused.value)
    assert app.slack.downloads[-1] == (file_id, False)
    # And the bot never sends its token to an address outside Slack.
    app.slack.uploads[file_id][0]["url_private_download"] = "https://files.example.com/f.csv"
    with pytest.raises(FileUnavailable):
        await download_upload(client, file_id, token=BOT_TOKEN, **common)
    assert len(app.slack.downloads) == 2


async def test_a_file_slack_will_not_show_is_refused_on_its_field(app, bsg):
    gone = state_value("file_input", [{"id": "F_DELETED", "name": "x.csv", "filetype": "csv"}])
    ack = await submit(app, {"recipients": "", "recipients_file": gone, "text": "Hi"})
    assert "file_not_found" in errors_of(ack)["recipients_file"]
    assert bsg.create_bodies == []


async def test_typed_numbers_without_the_files_values_are_refused(app, bsg):
    ack = await submit(
        app,
        {
            "recipients": "+380972920280",
            "recipients_file": upload(app, "phone,name\n380972920283,Olena\n"),
            "text": "Hi {name}",
        },
    )
    assert "{name}" in errors_of(ack)["recipients"]
    assert bsg.create_bodies == []


async def test_opted_out_rows_are_skipped(app, bsg):
    said(await app.command("optout +380972920283"))
    ack = await submit(
        app,
        {
            "recipients": "",
            "recipients_file": upload(app, "phone,name\n380972920283,A\n380972920282,B\n"),
            "text": "Hi {name}",
        },
    )
    assert ack == {}
    await app.wait_for(lambda: bsg.create_bodies)
    assert sent_numbers(bsg) == ["380972920282"]
    ack = await submit(
        app,
        {
            "recipients": "",
            "recipients_file": upload(app, "phone,name\n380972920283,A\n"),
            "text": "Hi {name}",
        },
    )
    assert "opted out" in errors_of(ack)["recipients_file"]
