"""CONTRACT.md promises checked from outside, where no other test pins them exactly: signed
Slack requests in, what the BSG simulator and the Slack stand-in received out."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import BSG_KEY
from tests.http.test_estimate import estimate_text, open_modal, type_into
from tests.http.test_lists import said
from tests.http.test_modal import submit
from tests.http.test_thread_actions import REJECTED, UNDELIVERED, confirmation, press, sent

CHANNEL = "C123"


def number(n: int) -> str:
    return f"+3809729{n:05d}"


# ---------------------------------------------------------------- the send modal (second round)


async def test_the_modal_has_the_recipients_file_and_the_estimate_blocks(app):
    view = await open_modal(app)
    assert view["callback_id"] == "viber_send"
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    file_block = blocks["recipients_file"]
    assert file_block["type"] == "input" and file_block.get("optional") is True
    element = file_block["element"]
    assert element["type"] == "file_input" and element["action_id"] == "recipients_file"
    assert sorted(element["filetypes"]) == ["csv", "txt"]
    assert element["max_files"] == 1
    assert blocks["estimate"]["type"] == "context"


# ---------------------------------------------------------------- opt-outs


async def test_optouts_shows_how_many_and_only_the_latest_20_masked(app):
    older = [number(20000 + n) for n in range(5)]
    newer = [number(30000 + n) for n in range(20)]
    said(await app.command("optout " + ",".join(older) + " old"))
    said(await app.command("optout " + ",".join(newer) + " new"))
    listing = said(await app.command("optouts"))
    assert "25" in listing
    masked = re.findall(r"\+380 •+ \d{4}", listing)
    assert len(masked) == 20, listing
    assert {m[-4:] for m in masked} == {n[-4:] for n in newer}
    for full in older + newer:
        assert full.lstrip("+") not in listing


async def test_an_opted_out_number_is_in_no_request_to_bsg_not_even_the_estimate(app, bsg):
    """'never appears in any request to BSG, whatever the route': pricing calls included."""
    said(await app.command("optout +380972920283 stop"))
    view = await open_modal(app)
    values = {"recipients": "+380972920283, +380972920280", "text": "Hi", "sms_text": "Hi"}
    await type_into(app, view, "recipients", values)
    await app.wait_for(lambda: "Viber:" in estimate_text(app, view["id"]))
    response = await app.submit(values, view=app.slack.view(view["id"]))
    assert response.status_code == 200
    await app.wait_for(lambda: bsg.create_calls == 1)
    await app.settle()
    assert "972920280" in bsg.bodies()
    assert "972920283" not in bsg.bodies()


# ---------------------------------------------------------------- case-insensitive subcommands


@pytest.mark.parametrize(
    "words",
    [
        ("LIST ADD", "List Show", "LIST REMOVE", "List Delete", "Lists"),
        ("list add", "LIST SHOW", "list remove", "LIST DELETE", "LISTS"),
    ],
)
async def test_list_subcommands_are_case_insensitive(app, words):
    add, show, remove, delete, lists = words
    assert "added" in said(await app.command(f"{add} team +380972920283,+380972920282"))
    assert "+380972920283" in said(await app.command(f"{show} team"))
    assert "@team" in said(await app.command(lists))
    assert "Removed 1" in said(await app.command(f"{remove} team +380972920283"))
    assert "Deleted" in said(await app.command(f"{delete} team"))
    assert await app.store.list_members("team") is None


async def test_optout_subcommands_are_case_insensitive(app):
    assert "Opted out 1" in said(await app.command("OPTOUT +380972920283 stop"))
    assert "+380 ••••• 0283" in said(await app.command("OptOuts"))
    assert "Opted back in 1" in said(await app.command("OPTIN +380972920283"))
    assert await app.store.optout_count() == 0


# ---------------------------------------------------------------- lists


@pytest.mark.parametrize("name", ["a", "0", "a" * 40, "kyiv_pickup-2"])
async def test_list_names_matching_the_pattern_are_accepted(app, name):
    text = said(await app.command(f"list add {name} +380972920283"))
    assert "added" in text, text
    assert await app.store.list_members(name)


@pytest.mark.parametrize("name", ["a" * 41, "-kyiv", "_kyiv", "kyiv.pickup", "kyiv@x"])
async def test_list_names_outside_the_pattern_are_refused(app, name):
    said(await app.command(f"list add {name} +380972920283"))
    assert await app.store.list_members(name) is None
    assert app.bsg.create_calls == 0


async def test_a_list_in_the_send_reaches_bsg_as_digits_each_with_its_own_reference(app, bsg):
    said(await app.command("list add kyiv +380972920283, 00380972920282"))
    said(await app.command("send @kyiv,+380972920281 Parcel ready"))
    await app.wait_for(lambda: bsg.create_bodies)
    await app.settle()
    items = [to for body in bsg.create_bodies for m in body["messages"] for to in m["to"]]
    assert sorted(to["msisdn"] for to in items) == ["380972920281", "380972920282", "380972920283"]
    references = [to["reference"] for to in items]
    assert len(set(references)) == 3 and all(references)
    for _, path, headers, _ in bsg.wire:
        if path.endswith("/viber/create"):
            assert headers.get("x-api-key") == BSG_KEY
    # The channel sees every recipient masked.
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    await app.settle()
    parent = json.dumps(app.parent(), ensure_ascii=False)
    assert "+380 ••••• 0283" in parent and "972920283" not in parent


# ---------------------------------------------------------------- review threshold


async def test_review_above_is_the_setting_not_a_fixed_20(make_bot):
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=2)
    at = await submit(app, {"recipients": f"{number(10)} {number(11)}", "text": "Hi"})
    assert at == {} or at.get("response_action") != "update", at
    await app.wait_for(lambda: app.bsg.create_calls == 1)
    above = await submit(
        app, {"recipients": f"{number(10)} {number(11)} {number(20)}", "text": "Hi"}
    )
    assert above["response_action"] == "update" and above["view"]["callback_id"] == "viber_review"
    ids = {e.get("action_id") for b in above["view"]["blocks"] for e in b.get("elements") or []}
    assert {"review_send", "review_back"} <= ids
    assert app.bsg.create_calls == 1


async def test_a_quick_send_over_the_setting_asks_with_quick_confirm(make_bot):
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=1)
    url = app.slack.response_url()
    await app.command(f"send {number(10)},{number(11)} Hi", response_url=url)
    answers = await app.wait_for(
        lambda: [a for a in app.slack.responses_to(url) if "quick_confirm" in json.dumps(a)]
    )
    assert answers
    assert app.bsg.create_calls == 0


# ---------------------------------------------------------------- delivery callbacks


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", None),
        (b"status=delivered&reference=x", "application/x-www-form-urlencoded"),
        (b"not json at all {", "application/json"),
        (b"\x00\xff\xfe binary", "application/octet-stream"),
        (b"<xml/>", "text/xml"),
    ],
)
async def test_an_issued_token_gets_200_for_any_body_and_content_type(
    callback_bot, bsg, body, content_type
):
    app = await callback_bot()
    await app.command("send +380972920285 Parcel")
    await app.wait_for(lambda: bsg.create_bodies)
    [item] = bsg.create_bodies[0]["messages"]
    url = item["callback_url"]
    headers = {"Content-Type": content_type} if content_type else {}
    answer = await app.http.post(url, content=body, headers=headers)
    assert answer.status_code == 200, answer.text


async def test_tokens_stay_valid_after_a_restart_with_a_generated_secret(callback_bot, bsg):
    first = await callback_bot()
    await first.command("send +380972920285 Parcel")
    await first.wait_for(lambda: bsg.create_bodies)
    await first.settle()
    token = bsg.create_bodies[0]["messages"][0]["callback_url"].rsplit("/", 1)[1]
    await first.stop()
    second = await callback_bot()  # same database, VIBER_BOT_CALLBACK_SECRET still unset
    answer = await second.http.post(f"{second.url}/bsg/callback/{token}", content=b"{}")
    assert answer.status_code == 200
    assert (await second.http.post(f"{second.url}/bsg/callback/{'A' * 43}")).status_code == 404


async def test_an_opted_out_number_is_not_priced_for_a_quick_send_or_a_review(make_bot, bsg):
    app = await make_bot(VIBER_BOT_REVIEW_ABOVE=1)
    said(await app.command("optout +380972920283 stop"))
    url = app.slack.response_url()
    await app.command("send +380972920283,+380972920280,+380972920281 Hi", response_url=url)
    await app.wait_for(lambda: "quick_confirm" in json.dumps(app.slack.responses_to(url)))
    ack = await submit(
        app,
        {"recipients": "+380972920283 +380972920280 +380972920281", "text": "Hi", "sms_text": "Hi"},
    )
    assert ack["response_action"] == "update"
    await app.wait_for(lambda: app.slack.calls_to("views.update"))
    await app.settle()
    assert "972920280" in bsg.bodies()
    assert "972920283" not in bsg.bodies()


async def test_an_opted_out_number_is_not_priced_for_a_thread_action(app, bsg, clock):
    parent = await sent(app, clock, f"{UNDELIVERED},{REJECTED}")
    said(await app.command(f"optout {UNDELIVERED}"))
    start = len(bsg.wire)
    for action in ("retry_failed", "resend_sms"):
        before = len(app.slack.opened_views)
        await press(app, parent, action)
        await confirmation(app, before)
    wire = "\n".join(body.decode("utf-8", "replace") for *_, body in bsg.wire[start:])
    assert "972920289" in wire  # the other one was priced
    assert "972920284" not in wire


async def test_removing_from_a_list_needs_the_send_allow_lists(make_bot):
    app = await make_bot(VIBER_BOT_ALLOWED_USERS="U123")
    said(await app.command("list add kyiv +380972920283,+380972920282"))
    said(await app.command("list remove kyiv +380972920283", user_id="U555"))
    said(await app.command("list delete kyiv", user_id="U555"))
    members = await app.store.list_members("kyiv")
    assert members and len(members) == 2


async def test_a_retry_create_carries_callback_urls_too(callback_bot, bsg, clock):
    """'every messages[] item of a create carries callback_url', the thread action's included."""
    app = await callback_bot(VIBER_BOT_POLL_INTERVAL=0.2)
    parent = await sent(app, clock, UNDELIVERED)
    before = len(app.slack.opened_views)
    await press(app, parent, "retry_failed")
    view = await confirmation(app, before)
    response = await app.submit({}, view=view)
    assert response.status_code == 200
    await app.wait_for(lambda: len(bsg.create_bodies) == 2)
    items = [m for create in bsg.create_bodies for m in create["messages"]]
    urls = [m.get("callback_url") or "" for m in items]
    assert all(url.startswith(f"{app.url}/bsg/callback/") for url in urls), urls
    assert len(set(urls)) == 2  # the retry is a new message with its own token


async def test_lists_names_every_list_with_its_size_even_with_long_names(app):
    names = [f"{n:03d}-" + "x" * 36 for n in range(100)]  # the longest names allowed (40)
    for name in names:
        said(await app.command(f"list add {name} +380972920283,+380972920282"))
    text = said(await app.command("lists"))
    assert [n for n in names if f"@{n}` — 2 numbers" not in text] == []
