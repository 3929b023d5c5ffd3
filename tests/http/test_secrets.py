"""No secret leaks: not in logs (text or JSON, at DEBUG), Slack posts, /healthz, /metrics,
the database, repr() of settings and clients, or str() of the errors we raise.

The secrets are the Slack bot token, the signing secret, the BSG API key (a right one and a
wrong one), and an app-level token where one is set. The bot's real logging set-up
(`bot.logs.configure_logging`) writes every line of a busy run to two streams, one per format;
a second, formatter-less handler records what the code *tried* to log (message, args,
traceback), so scrubbing at output cannot hide our own code handing a secret to the logger.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from io import StringIO
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.app import ViberBot
from bot.bsg.client import BsgClient
from bot.domain.errors import BsgError, BsgRefused, ConfigurationError
from bot.domain.models import SendOutcome
from bot.logs import REDACTED, configure_logging
from bot.settings import load_settings
from bot.slack.render.bsg_errors import refusal_for_person
from tests import slack_requests
from tests.conftest import BOT_TOKEN, BSG_KEY, CHANNEL, SIGNING_SECRET

WRONG_KEY = "live_wrong_bsg_key_9876543210"
APP_TOKEN = "xapp-1-A123-4567-secretapptokenvalue0123"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, BSG_KEY, WRONG_KEY, APP_TOKEN)
# Our own code: everything under these packages except the test doubles that ship with it.
OURS = ("bot.", "commands.", "storage.")
TEST_DOUBLES = ("bot.devtools.simulator", "bot.devtools.slack_standin")


def leaks(text: str) -> list[str]:
    """The secrets found in `text`, shown by their first characters only."""
    return [secret[:8] + "…" for secret in SECRETS if secret in text]


class RawRecords(logging.Handler):
    """Every record as the code handed it to logging: no formatter, no scrubbing."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [str(record.msg), repr(record.args)]
        try:
            parts.append(record.getMessage())
        except Exception as error:  # a bad format string is a finding in itself
            parts.append(f"unformattable: {error!r}")
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
        self.seen.append((record.name, "\n".join(parts)))

    def leaking(self, *, ours: bool) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, text in self.seen:
            mine = name.startswith(OURS) and not name.startswith(TEST_DOUBLES)
            if mine == ours and (hits := leaks(text)):
                found.setdefault(name, []).extend(hits)
        return found


@pytest.fixture
def captured_logs() -> Iterator[tuple[StringIO, StringIO, RawRecords]]:
    """The bot's logging at DEBUG, in text and JSON, plus the raw records; restored after."""
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    noisy = ("apscheduler", "aiohttp.access", "httpx", "httpcore", "slack_sdk", "slack_bolt")
    saved_levels = {name: logging.getLogger(name).level for name in noisy}
    text, as_json, raw = StringIO(), StringIO(), RawRecords()
    configure_logging(level="DEBUG", fmt="json", secrets=SECRETS, stream=as_json)
    # configure_logging replaces its own handler; rename this one so both formats stay on.
    [json_handler] = [h for h in root.handlers if h.get_name() == "viber-bot"]
    json_handler.set_name("viber-bot-json")
    configure_logging(level="DEBUG", fmt="text", secrets=SECRETS, stream=text)
    root.addHandler(raw)
    try:
        yield text, as_json, raw
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


async def advance_until(app, clock, predicate, step: float = 30, tries: int = 40) -> None:
    """Jump the clock past back-offs (BSG's and Slack's) until `predicate()` holds."""
    for _ in range(tries):
        if predicate():
            return
        clock.advance(step)
        await app.sweeps_after(1)
    assert predicate(), "condition not met"


def everything_slack_received(slack) -> str:
    views = [slack.view(v["id"]) for v in slack.opened_views if v.get("id")]
    return json.dumps(
        {
            "calls": slack.calls,
            "responses": slack.responses,
            "ephemerals": slack.ephemerals,
            "opened": slack.opened_views,
            "views": views,
            "published": slack.published_views,
        },
        default=str,
        ensure_ascii=False,
    )


async def test_a_busy_run_leaks_no_secret(
    make_bot, bsg, slack, clock, tmp_path, captured_logs, capfd
):
    text_log, json_log, raw = captured_logs
    app = await make_bot(VIBER_BOT_ALLOWED_USERS="U123", VIBER_BOT_LOG_LEVEL="DEBUG")
    assert set(app.bot.settings.secrets()) == {BOT_TOKEN, SIGNING_SECRET, BSG_KEY}

    # a send that BSG first answers with a 500 (retried), then tracked through status changes
    bsg.fail_next("/viber/create", 1, status=500)
    await app.command("send +380972920280 Hello, secrets")
    await app.wait_for(lambda: app.slack.channel_messages(CHANNEL))
    clock.advance(6)  # delivered
    await app.wait_for(lambda: len(app.replies()) == 1)
    # BSG fails the status polls for a while: 500s, then a 429
    bsg.fail_next("/viber/", 2, status=500)
    bsg.fail_next("/viber/", 1, status=429, retry_after=0.1)
    await advance_until(app, clock, lambda: len(app.replies()) == 2)  # read, once BSG answers

    # Slack fails too: a 429, a 500 and an ok:false error, then recovers
    slack.fail_next("chat.postMessage", 1, retry_after=1)
    slack.fail_next("chat.postMessage", 1, status=500)
    slack.fail_next("chat.update", 1, error="internal_error")
    slack.fail_next("response_url", 1, status=500)
    await app.command("send +380972920281 Second one")
    await advance_until(app, clock, lambda: len(app.slack.channel_messages(CHANNEL)) == 2)

    # refusals: by access control, by validation, and by BSG (an unregistered sender)
    await app.command("send +380972920282 Not you", user_id="U999")
    await app.command("send 12ab Hello")
    bsg.registered_senders = frozenset({"Acme"})
    await app.submit(
        {
            "recipients": slack_requests.state_value("plain_text_input", "+380972920283"),
            "text": slack_requests.state_value("plain_text_input", "Refused"),
            "sender": slack_requests.state_value("plain_text_input", "Nobody"),
        },
        private_metadata=json.dumps({"channel_id": CHANNEL}),
    )

    async def condition() -> object:
        return (await app.store.recent_sends(1))[0].outcome == SendOutcome.REFUSED

    await app.wait_for(condition)
    bsg.registered_senders = None
    # a status look-up, App Home, and a request with a bad signature
    [message] = await app.store.send_messages((await app.store.recent_sends(3))[-1].id)
    await app.command(f"status {message.bsg_id}")
    await app.post(
        slack_requests.event_callback(SIGNING_SECRET, slack_requests.app_home_opened("U123"))
    )
    forged = slack_requests.slash_command(SIGNING_SECRET, text="help", wrong_signature=True)
    assert (await app.post(forged)).status_code == 401

    # a second bot with a wrong BSG key: BSG answers 401 to everything it asks
    wrong = await make_bot(
        BSG_API_KEY=WRONG_KEY,
        VIBER_BOT_DB=str(tmp_path / "wrong-key.db"),
        VIBER_BOT_LOG_LEVEL="DEBUG",
    )
    await wrong.command("send +380972920284 Wrong key", channel_id="C401")

    async def condition() -> object:
        return (await wrong.store.recent_sends(1))[0].outcome == SendOutcome.REFUSED

    await wrong.wait_for(condition)
    await wrong.command("status 12345", channel_id="C401")
    await app.settle()
    await wrong.settle()
    await app.wait_for(lambda: any("code 1" in json.dumps(r) for r in slack.responses))

    bodies = []
    for running in (app, wrong):
        for path in ("/healthz", "/metrics"):
            response = await running.http.get(running.url + path)
            assert response.status_code == 200
            bodies.append(response.text)
    await app.stop()
    await wrong.stop()

    # the run went through what it was meant to
    written = text_log.getvalue()
    assert "BSG call failed" in written  # the 500s were retried and logged
    assert "rate limited" in written  # Slack's 429 was met
    assert "send refused: user=U999" in written
    assert slack.ephemerals or slack.responses

    # ... and no secret is anywhere
    assert not leaks(written)
    assert not leaks(json_log.getvalue())
    for line in json_log.getvalue().splitlines():
        json.loads(line)  # every JSON line is JSON
    captured = capfd.readouterr()
    assert not leaks(captured.out + captured.err)
    assert not leaks(everything_slack_received(slack))
    for body in bodies:
        assert not leaks(body)
    for db in (tmp_path / "viber-bot.db", tmp_path / "wrong-key.db"):
        assert not leaks(db.read_bytes().decode("utf-8", "replace"))
    # our code never even hands a secret to logging (and the raw capture did see it all)
    names = {name for name, _ in raw.seen}
    assert {
        "bot.bsg.client",
        "bot.tracking.sending",
        "bot.slack.outbox",
        "slack_sdk.web.async_base_client",
    } <= names
    assert raw.leaking(ours=True) == {}
    # third-party DEBUG records may carry one; the scrubber must catch it in the output
    for name, hits in raw.leaking(ours=False).items():
        print(f"third-party logger {name} handed logging a secret: {hits}")
        assert REDACTED in written


async def test_settings_and_clients_do_not_show_secrets(make_settings):
    settings = make_settings(SLACK_APP_TOKEN=APP_TOKEN)
    assert APP_TOKEN in settings.secrets()
    shown = [repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json()]
    client = BsgClient(api_key=settings.bsg_api_key, base_url=settings.bsg_api_url)
    shown += [repr(client), str(client), str(vars(client).get("base_url"))]
    await client.aclose()
    for text in shown:
        assert not leaks(text), text


async def test_the_app_token_stays_out_of_the_logs(
    make_settings, captured_logs, capfd, slack, bsg, clock
):
    """Socket Mode settings (the connection itself is not opened here)."""
    text_log, json_log, raw = captured_logs
    settings = make_settings(SLACK_APP_TOKEN=APP_TOKEN, VIBER_BOT_LOG_LEVEL="DEBUG")
    bot = ViberBot(settings, clock=clock)
    await bot.start()
    await bot.stop()
    assert "viber-bot started" in text_log.getvalue()
    assert not leaks(text_log.getvalue() + json_log.getvalue())
    assert raw.leaking(ours=True) == {}
    assert not leaks("".join(capfd.readouterr()))


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"SLACK_APP_TOKEN": "xoxb-" + SIGNING_SECRET}, "SLACK_APP_TOKEN"),
        ({"BSG_API_URL": f"ftp://user:{BSG_KEY}@bsg.example"}, "BSG_API_URL"),
        ({"SLACK_API_URL": f"slack.example/{BOT_TOKEN}"}, "SLACK_API_URL"),
        ({"PORT": BSG_KEY}, "PORT"),
        ({"VIBER_BOT_DEFAULT_SENDER": BOT_TOKEN}, "VIBER_BOT_DEFAULT_SENDER"),
        ({"BSG_API_KEY": None}, "BSG_API_KEY"),
    ],
    ids=["app-token", "bsg-url", "slack-url", "port", "sender", "missing-key"],
)
def test_configuration_errors_do_not_echo_values(tmp_path, overrides, names):
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "BSG_API_KEY": BSG_KEY,
        "VIBER_BOT_DEFAULT_SENDER": "Acme",
        "VIBER_BOT_DB": str(tmp_path / "x.db"),
    }
    values.update(overrides)
    values = {k: v for k, v in values.items() if v is not None}
    with pytest.raises(ConfigurationError) as raised:
        load_settings(_env_file=None, **values)
    message = str(raised.value)
    assert names in message
    assert not leaks(message + repr(raised.value)), message


def _echoing_bsg(request: httpx.Request) -> httpx.Response:
    """A BSG that quotes the API key it was sent back in every kind of error answer."""
    key = request.headers["X-API-KEY"]
    path = request.url.path
    if path.endswith("/viber/1"):
        return httpx.Response(200, json={"error": 7, "errorDescription": f"bad key {key}"})
    if path.endswith("/viber/2"):
        return httpx.Response(401, json={"code": 401, "message": f"API Key {key} not found"})
    if path.endswith("/viber/3"):
        return httpx.Response(422, json={"message": "invalid", "errors": {"key": [key]}})
    if path.endswith("/viber/4"):
        return httpx.Response(200, text=f"<html>{key}</html>")
    if path.endswith("/viber/5"):
        return httpx.Response(418, text=f"teapot {key}")
    if path.endswith("/viber/6"):
        return httpx.Response(200, json={"status": {"nested": key}, "id": [key]})
    return httpx.Response(503, text=f"down {key}")


@pytest.mark.parametrize("bsg_id", ["1", "2", "3", "4", "5", "6", "7"])
async def test_bsg_errors_never_carry_the_key(bsg_id):
    client = BsgClient(
        api_key=SecretStr(BSG_KEY),
        base_url="http://127.0.0.1:9/rest",
        transport=httpx.MockTransport(_echoing_bsg),
        retries=0,
    )
    try:
        with pytest.raises(BsgError) as raised:
            await client.status_by_id(bsg_id)
    finally:
        await client.aclose()
    error = raised.value
    shown = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if isinstance(error, BsgRefused):
        shown += [error.description, refusal_for_person(error)]
    for text in shown:
        assert not leaks(text), text


async def test_an_unreachable_bsg_error_does_not_carry_the_key():
    client = BsgClient(
        api_key=SecretStr(BSG_KEY), base_url="http://127.0.0.1:9/rest", retries=0, timeout=1
    )
    try:
        with pytest.raises(BsgError) as raised:
            await client.balance()
    finally:
        await client.aclose()
    assert not leaks(str(raised.value) + "".join(traceback.format_exception(raised.value)))


def test_the_scrubber_redacts_what_reaches_it_in_both_formats(captured_logs):
    """The safety net itself, and proof that the raw capture above would see a leak."""
    text_log, json_log, raw = captured_logs
    log = logging.getLogger("bot.leaky_example")
    log.warning("token %s in args", BOT_TOKEN)
    log.warning(f"key {BSG_KEY} in the message")
    log.warning("in extra fields", extra={"secret_field": SIGNING_SECRET})
    try:
        raise RuntimeError(f"failed with {APP_TOKEN}")
    except RuntimeError:
        log.exception("with a traceback")
    # the text format drops extra fields; JSON writes them, redacted
    for written, redactions in ((text_log.getvalue(), 3), (json_log.getvalue(), 4)):
        assert written.count(REDACTED) >= redactions
        assert not leaks(written), written
    assert SIGNING_SECRET not in json_log.getvalue()
    assert set(raw.leaking(ours=True)["bot.leaky_example"]) == {
        s[:8] + "…" for s in (BOT_TOKEN, BSG_KEY, APP_TOKEN)
    }
