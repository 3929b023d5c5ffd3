"""Bad input through the real signed HTTP path: refused clearly, nothing reaches BSG, no 500s.

One bot serves the whole module (its start-up would otherwise dominate the run); every case
measures BSG's create calls and the stored sends before and after, so the cases stay
independent. Accepted cases wait until BSG has answered before they end.

Deliberate choices about text, as tested below:
- right-to-left scripts (Arabic, Hebrew) are ordinary text and are sent, including the
  invisible directional *marks* (LRM U+200E, RLM U+200F, ALM U+061C) that RTL keyboards insert;
- bidi embedding/override/isolate *controls* (U+202A..U+202E, U+2066..U+2069) are refused:
  they reorder what the recipient sees (the "Trojan Source" trick: `\u202egnp.exe`);
- other control characters (NUL, BEL, ...) and lone surrogates are refused;
- emoji are text, including ZWJ sequences, skin tones, keycaps and tag-sequence flags;
- text with nothing visible in it (only spaces, joiners, variation selectors) counts as empty;
- SQL-looking text is just text: sent verbatim, stored verbatim, the database untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.devtools.simulator import BsgSimulator
from bot.devtools.slack_standin import SlackStandIn
from bot.domain.models import SendOutcome
from tests.conftest import (
    BOT_TOKEN,
    BSG_KEY,
    CHANNEL,
    FakeClock,
    RunningBot,
    settings_for,
    start_bot,
)
from tests.slack_requests import modal_values

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_RECIPIENTS = 5
GOOD = "+380972920283"
SIX = ",".join(f"+38097292{i:04d}" for i in range(6))
# URL -> words the refusal must contain.
BAD_URLS = {
    "ftp": ("ftp://example.com/picture.png", "http:// or https://"),
    "javascript": ("javascript:alert(1)", "http:// or https://"),
    "data": ("data:image/png;base64,iVBORw0KGgo=", "http:// or https://"),
    "scheme-relative": ("//evil.example/picture.png", "http:// or https://"),
    "space": ("http://exa mple.com/picture.png", "spaces"),
    "control": ("https://example.com/\x00x.png", "control characters"),
}
BUTTON = {"button_caption": "Track", "button_url": "https://example.com/track"}
IMAGE = "https://example.com/picture.png"


class ErrorRecords(logging.Handler):
    """Every ERROR record logged anywhere while the module runs ("listener failed", ...)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def since(self, mark: int) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records[mark:]]


@pytest.fixture(scope="module")
def error_log() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture(autouse=True)
def no_errors_logged(request: pytest.FixtureRequest, error_log: ErrorRecords) -> Iterator[None]:
    """No test here may make the bot log an error (a listener failing, a sweep crashing)."""
    mark = len(error_log.records)
    yield
    if request.node.get_closest_marker("xfail") is None:
        assert not error_log.since(mark)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(
    tmp_path_factory: pytest.TempPathFactory, error_log: ErrorRecords
) -> AsyncIterator[RunningBot]:
    clock = FakeClock()
    bsg = BsgSimulator(api_key=BSG_KEY, clock=clock)
    await bsg.start()
    slack = SlackStandIn(token=BOT_TOKEN)
    await slack.start()
    database = tmp_path_factory.mktemp("bad-input") / "viber-bot.db"
    settings = settings_for(bsg, slack, database, VIBER_BOT_MAX_RECIPIENTS=MAX_RECIPIENTS)
    running, _ = await start_bot(settings, slack, bsg, clock)
    yield running
    await running.stop()
    await slack.stop()
    await bsg.stop()


async def submit(bot: RunningBot, fields: dict[str, Any], **extra: Any):
    extra.setdefault("private_metadata", json.dumps({"channel_id": CHANNEL}))
    return await bot.submit(modal_values(fields), **extra)


async def sends_count(bot: RunningBot) -> int:
    return len(await bot.store.recent_sends(1_000_000))


async def quiet(bot: RunningBot) -> None:
    """Wait until no delivery is under way, so BSG's create count is stable."""
    await bot.wait_for(lambda: not bot.bot.sending.delivering)


def assert_no_crash(response) -> None:
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


# --------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class SlashCase:
    text: str
    expect: tuple[str, ...]
    absent: tuple[str, ...] = ()


SLASH_REFUSED = {
    "letters": SlashCase("send abc Hello", ("abc", "only digits")),
    "too-short": SlashCase("send +3801 Hello", ("+3801", "too short")),
    "too-long": SlashCase("send +3809729202831234567 Hello", ("too long",)),
    "plus-only": SlashCase("send + Hello", ("Not a phone number", "+ (")),
    "double-plus": SlashCase("send ++380972920283 Hello", ("++380972920283",)),
    "letters-in-number": SlashCase("send 380-97-abc Hello", ("380-97-abc", "only digits")),
    "national-no-region": SlashCase("send 0972920283 Hello", ("0972920283", "country code")),
    "uk-national-no-region": SlashCase("send 07911123456 Hello", ("07911123456", "country code")),
    "us-local": SlashCase("send 555-0100 Hello", ("555-0100", "country code")),
    "unknown-country": SlashCase("send +999123456789 Hello", ("unknown country code",)),
    "one-bad-among-good": SlashCase(f"send {GOOD},abc Hello", ("abc",), absent=("Sending",)),
    "too-many": SlashCase(f"send {SIX} Hello", ("6 recipients", f"{MAX_RECIPIENTS} allowed")),
    "no-numbers": SlashCase("send", ("Say who to send to",)),
    "no-text": SlashCase(f"send {GOOD}", ("no text",)),
    "whitespace-text": SlashCase(f"send {GOOD} \u00a0 \u3000 ", ("no text",)),
    "invisible-text": SlashCase(f"send {GOOD} \u200d\ufe0f", ("Write the message text",)),
    "oversized-text": SlashCase(f"send {GOOD} {'x' * 1001}", ("1001 characters", "1000")),
    "nul": SlashCase(f"send {GOOD} Hello\x00world", ("control characters",)),
    "bell": SlashCase(f"send {GOOD} Ring\x07", ("control characters",)),
    "bidi-override": SlashCase(f"send {GOOD} invoice\u202egnp.exe", ("control characters",)),
    "bidi-isolate": SlashCase(f"send {GOOD} a\u2066b\u2069c", ("control characters",)),
    "markup-as-number": SlashCase(
        "send <!channel> Hello", ("&lt;!channel&gt;",), absent=("<!channel>",)
    ),
}


@pytest.mark.parametrize("case", SLASH_REFUSED.values(), ids=SLASH_REFUSED.keys())
async def test_slash_refuses_bad_input_and_sends_nothing(bot: RunningBot, case: SlashCase):
    await quiet(bot)
    creates, sends = bot.bsg.create_calls, await sends_count(bot)
    response = await bot.command(case.text)
    assert_no_crash(response)
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    for words in case.expect:
        assert words in answer["text"], answer["text"]
    for words in case.absent:
        assert words not in answer["text"], answer["text"]
    await asyncio.sleep(0.02)  # a send, had one been started, would call BSG right after the ack
    assert await sends_count(bot) == sends
    assert bot.bsg.create_calls == creates


@dataclass(frozen=True)
class ModalCase:
    fields: dict[str, Any]
    block: str
    expect: str
    metadata: str | None = None
    more_blocks: frozenset[str] = field(default_factory=frozenset)


def _modal(block: str, expect: str, **fields: Any) -> ModalCase:
    base = {"recipients": GOOD, "text": "Hello"}
    return ModalCase({**base, **fields}, block, expect)


def _at(seconds: float) -> int:
    return int(time.time() + seconds)


MODAL_REFUSED = {
    "no-recipients": ModalCase({"text": "Hello"}, "recipients", "at least one phone number"),
    "blank-recipients": _modal("recipients", "at least one phone number", recipients=" \n \t"),
    "letters": _modal("recipients", "abc", recipients="abc"),
    "national-no-region": _modal("recipients", "country code", recipients="0972920283"),
    "double-plus": _modal("recipients", "++380972920283", recipients="++380972920283"),
    "one-bad-line": _modal("recipients", "+3801 (too short)", recipients=f"{GOOD}\n+3801"),
    "too-many": _modal(
        "recipients", f"{MAX_RECIPIENTS} allowed", recipients=SIX.replace(",", "\n")
    ),
    "no-text": ModalCase({"recipients": GOOD}, "text", "Write the message text"),
    "whitespace-text": _modal("text", "Write the message text", text="  \n\t \u2003"),
    "invisible-text": _modal("text", "Write the message text", text="\u200d\ufe0f\u200c"),
    "oversized-text": _modal("text", "1001 characters", text="y" * 1001),
    "nul-in-text": _modal("text", "control characters", text="a\x00b"),
    "bidi-override": _modal("text", "control characters", text="\u202eevil"),
    "lone-surrogate": _modal("text", "control characters", text="broken \ud800 text"),
    "sender-too-long": _modal("sender", "at most 14", sender="A" * 15),
    "sender-control": _modal("sender", "control characters", sender="Ac\x07me"),
    **{
        f"image-{name}": _modal("image_url", words, image_url=url, **BUTTON)
        for name, (url, words) in BAD_URLS.items()
    },
    **{
        f"button-{name}": _modal("button_url", words, button_caption="Go", button_url=url)
        for name, (url, words) in BAD_URLS.items()
    },
    "caption-without-url": _modal("button_url", "needs a URL", button_caption="Go"),
    "url-without-caption": _modal(
        "button_caption", "needs a caption", button_url="https://example.com"
    ),
    "image-without-button": _modal("button_caption", "only with a button", image_url=IMAGE),
    "caption-too-long": _modal(
        "button_caption", "at most 30", button_caption="C" * 31, button_url="https://e.com"
    ),
    "sms-sender-short": _modal("sms_sender", "3 to 15", sms_text="SMS", sms_sender="AB"),
    "sms-sender-long": _modal("sms_sender", "3 to 15", sms_text="SMS", sms_sender="S" * 16),
    "sms-default-sender-short": _modal("sms_sender", "'AB'", sender="AB", sms_text="SMS"),
    "sms-sender-without-text": _modal("sms_text", "without SMS text", sms_sender="Acme"),
    "sms-text-too-long": _modal("sms_text", "at most 765", sms_text="s" * 766),
    "send-at-past": _modal("send_at", "in the past", send_at=_at(-60)),
    "send-at-beyond-default-validity": _modal("send_at", "validity window", send_at=_at(2 * 86400)),
    "send-at-beyond-given-validity": _modal(
        "send_at", "validity window", send_at=_at(7200), validity="600"
    ),
    "send-at-unreadable": _modal("send_at", "cannot be read", send_at=10**20),
    "send-at-absurdly-negative": _modal("send_at", "cannot be read", send_at=-(2**63)),
    "validity-too-small": _modal("validity", "between 15 and 86400", validity="14"),
    "validity-too-large": _modal("validity", "between 15 and 86400", validity="86401"),
    "validity-negative": _modal("validity", "between 15 and 86400", validity="-20"),
    "validity-letters": _modal("validity", "whole number", validity="abc"),
    "validity-decimal": _modal("validity", "whole number", validity="1.5"),
    "no-channel": ModalCase(
        {"recipients": GOOD, "text": "Hello"}, "recipients", "slash command", metadata=""
    ),
    "several-at-once": ModalCase(
        {"recipients": "abc", "text": " ", "validity": "5"},
        "recipients",
        "abc",
        more_blocks=frozenset({"text", "validity"}),
    ),
}


@pytest.mark.parametrize("case", MODAL_REFUSED.values(), ids=MODAL_REFUSED.keys())
async def test_modal_refuses_bad_input_on_the_right_block(bot: RunningBot, case: ModalCase):
    await quiet(bot)
    creates, sends = bot.bsg.create_calls, await sends_count(bot)
    extra = {} if case.metadata is None else {"private_metadata": case.metadata}
    response = await submit(bot, case.fields, **extra)
    assert_no_crash(response)
    answer = response.json()
    assert answer["response_action"] == "errors", answer
    errors = answer["errors"]
    assert set(errors) == {case.block, *case.more_blocks}, errors
    assert case.expect in errors[case.block], errors
    assert all(isinstance(m, str) and m.strip() for m in errors.values())
    await asyncio.sleep(0.02)
    assert await sends_count(bot) == sends
    assert bot.bsg.create_calls == creates


async def test_the_catalogue_is_big_enough():
    assert len(SLASH_REFUSED) + len(MODAL_REFUSED) >= 40


# ------------------------------------------------------------------ accepted as typed

SQL = "'; DROP TABLE sends; --"
SCOTLAND = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # a tag sequence
EMOJI = f"Hello 👋🏽 👨\u200d👩\u200d👧 ❤️ 🇺🇦 {SCOTLAND} 1️⃣"
ACCEPTED = {
    "arabic": ("slash", "مرحبا بالعالم، طلبك في الطريق"),
    "hebrew": ("slash", "שלום עולם, ההזמנה שלך בדרך"),
    "hebrew-with-rlm": ("modal", "\u200fשלום\u200f, Ali \u061cمرحبا"),
    "emoji": ("slash", EMOJI),
    "sql-slash": ("slash", SQL),
    "sql-modal": ("modal", f"Robert'); DROP TABLE messages;--\n{SQL}\n\tSELECT * FROM audit"),
    "exactly-1000": ("modal", ("line\twith tab\n" * 100)[:999] + "!"),
}


async def _sent_text(bot: RunningBot, before: int) -> tuple[str, str]:
    """(text, sender) BSG holds for the one send made after `before` sends."""

    async def stored() -> bool:
        return await sends_count(bot) == before + 1

    await bot.wait_for(stored)
    send = (await bot.store.recent_sends(1))[0]

    async def condition() -> object:
        return (await bot.store.get_send(send.id)).outcome == SendOutcome.SENT

    await bot.wait_for(condition)
    [message] = await bot.store.send_messages(send.id)
    held = bot.bsg.message(message.reference)
    return held.text, held.sender


@pytest.mark.parametrize(("route", "text"), ACCEPTED.values(), ids=ACCEPTED.keys())
async def test_unusual_but_valid_text_is_sent_verbatim(bot: RunningBot, route: str, text: str):
    await quiet(bot)
    before, creates = await sends_count(bot), bot.bsg.create_calls
    sender = "Acme"
    if route == "slash":
        response = await bot.command(f"send {GOOD} {text}")
        assert_no_crash(response)
        assert "Sending to 1 recipient" in response.json()["text"]
    else:
        sender = "x'; DROP--" if "DROP" in text else "Acme"
        response = await submit(bot, {"recipients": GOOD, "text": text, "sender": sender})
        assert_no_crash(response)
        assert response.text in ("", "{}") or "errors" not in response.json(), response.text
    held_text, held_sender = await _sent_text(bot, before)
    assert held_text == text
    assert held_sender == sender
    assert bot.bsg.create_calls == creates + 1
    stored = (await bot.store.recent_sends(1))[0]
    assert stored.text == text
    # the database is intact: every table still there, every earlier send still readable
    with contextlib.closing(sqlite3.connect(bot.bot.settings.db_path)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"sends", "messages", "audit", "outbox", "status_events"} <= tables
    assert len([s async for s in bot.store.sends_since(None)]) == before + 1


# ---------------------------------------------------------------- no pings from echoes

MARKUP = "Hi <!channel> <!here> <@U999> <!subteam^S123> <https://evil.example|click> & more"
RAW_MARKUP = ("<!channel>", "<!here>", "<@U999>", "<!subteam^S123>", "<https://evil.example")
ESCAPED_MARKUP = ("&lt;!channel&gt;", "&lt;!here&gt;", "&lt;@U999&gt;", "&lt;!subteam^S123&gt;")


def _channel_posts(bot: RunningBot, parent_ts: str) -> list[str]:
    """Everything the channel shows and everything posted or updated, as JSON text."""
    posts = [json.dumps(bot.slack.message(CHANNEL, parent_ts), ensure_ascii=False)]
    posts += [json.dumps(m, ensure_ascii=False) for m in bot.slack.thread(CHANNEL, parent_ts)]
    for method in ("chat.postMessage", "chat.update"):
        posts += [json.dumps(p, ensure_ascii=False) for p in bot.slack.calls_to(method)]
    return posts


@pytest.mark.parametrize("route", ["slash", "modal"])
async def test_slack_markup_is_sent_raw_but_echoed_escaped(bot: RunningBot, route: str):
    await quiet(bot)
    before = await sends_count(bot)
    if route == "slash":
        assert_no_crash(await bot.command(f"send +380972920280 {MARKUP}"))
        sender = "Acme"
    else:
        sender = "<!here>"
        fields = {"recipients": "+380972920280", "text": MARKUP, "sender": sender}
        assert_no_crash(await submit(bot, fields))
    held_text, held_sender = await _sent_text(bot, before)
    assert held_text == MARKUP  # BSG gets exactly what was typed
    assert held_sender == sender
    send = (await bot.store.recent_sends(1))[0]

    async def condition() -> object:
        return (await bot.store.get_send(send.id)).parent_ts

    await bot.wait_for(condition)
    parent_ts = (await bot.store.get_send(send.id)).parent_ts
    bot.bot.clock.advance(6)  # lifecycle 0: delivered after 5 s -> a reply and an update
    await bot.wait_for(lambda: bot.slack.thread(CHANNEL, parent_ts))
    await bot.settle()
    assert any(p.get("ts") == parent_ts for p in bot.slack.calls_to("chat.update")), (
        "the parent was never updated"
    )
    parent = json.dumps(bot.slack.message(CHANNEL, parent_ts), ensure_ascii=False)
    for escaped in ESCAPED_MARKUP:
        assert escaped in parent
    if route == "modal":
        assert "&lt;!here&gt;" in parent  # the sender name is echoed escaped too
    for post in _channel_posts(bot, parent_ts):
        for raw in RAW_MARKUP:
            assert raw not in post
        assert "<!" not in post


# ------------------------------------------------------------------- property-based

VERBS = st.sampled_from(
    ["", "send", "SEND", "Send", "status", "STATUS", "new", "New", "help", "HELP", "bogus"]
)
NUMBERS = st.sampled_from(
    [
        "",
        GOOD,
        f"{GOOD},+380972920282",
        "abc",
        "0972920283",
        f"{GOOD},,",
        ",",
        "+3809729202831234567",
        "<!channel>",
        SIX,
    ]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\t", "\n", "\u00a0", ""])
ANY_TEXT = st.one_of(
    st.text(max_size=80),
    st.text(min_size=900, max_size=1200),
    st.text(alphabet=st.characters(max_codepoint=0x20), max_size=40),  # control characters
    st.text(
        alphabet=st.sampled_from(["\u202e", "\u200f", "<", "!", "&", "@", "a", "👋", " "]),
        max_size=40,
    ),
)
PRINTABLE = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), max_size=300)
COMMAND_TEXT = st.one_of(
    # anything at all
    st.text(max_size=200),
    # a subcommand word, maybe numbers, then anything
    st.builds(
        lambda verb, s1, numbers, s2, text: f"{verb}{s1}{numbers}{s2}{text}",
        VERBS,
        SEPARATORS,
        NUMBERS,
        SEPARATORS,
        ANY_TEXT,
    ),
    # sends that may well go out (to the simulator)
    st.builds(
        lambda numbers, text: f"send {numbers} {text}",
        st.sampled_from([GOOD, "+380972920282,+380972920281", "00380972920284"]),
        PRINTABLE,
    ),
    # status look-ups of anything
    st.builds(lambda token: f"status {token}", st.text(max_size=80)),
    # far longer than anything Slack would send
    st.text(min_size=3000, max_size=5000).map(lambda t: "send " + GOOD + " " + t),
)
ACK_LIMIT = 3.0  # seconds: Slack's hard limit for the ack


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=COMMAND_TEXT)
async def test_any_slash_text_is_answered_in_time_and_never_crashes(
    bot: RunningBot, error_log: ErrorRecords, text: str
):
    mark = len(error_log.records)
    started = time.perf_counter()
    response = await bot.command(text)
    elapsed = time.perf_counter() - started
    assert_no_crash(response)
    assert elapsed < ACK_LIMIT
    if response.text:
        assert response.json()["response_type"] == "ephemeral"
    await quiet(bot)
    assert not error_log.since(mark)  # no "listener failed", no crashed delivery


async def test_after_random_input_the_bot_is_healthy(bot: RunningBot):
    """Whatever ran before in this module (random input included) left nothing broken."""
    await bot.settle()
    status, body = await bot.bot.health()
    assert status == 200 and body["database"] == "ok"
    dead = [i for i in await bot.store.outbox_items() if i.state == "dead"]
    assert not dead, [(i.kind, i.last_error) for i in dead]


async def test_send_at_exactly_at_the_validity_edge_is_accepted(bot: RunningBot):
    await quiet(bot)
    before = await sends_count(bot)
    fields = {
        "recipients": "+380972920281",
        "text": "At the edge",
        "send_at": int(bot.bot.clock().timestamp()) + 3600,
        "validity": str(3600 + 60),
    }
    response = await submit(bot, fields)
    assert_no_crash(response)
    await _sent_text(bot, before)
    body = json.loads((await bot.store.recent_sends(1))[0].request_json)
    assert body["messages"][0]["scheduledDatetime"].endswith("Z")
    assert body["validity"] == 3660
