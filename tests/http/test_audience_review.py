"""Big sends through @lists or a CSV file go through the review step like typed ones: the
thresholds count the recipients a send really reaches, opted-out numbers left out."""

from __future__ import annotations

from tests.http.test_estimate import estimate_text, open_modal, type_into
from tests.http.test_lists import said
from tests.http.test_modal import errors_of, submit  # noqa: F401
from tests.slack_requests import state_value

NUMBERS = [f"+3809729202{n:02d}" for n in range(25)]  # more than VIBER_BOT_REVIEW_ABOVE (20)


async def test_a_send_to_a_big_list_asks_first(app):
    said(await app.command("list add big " + " ".join(NUMBERS)))
    url = app.slack.response_url()
    response = await app.command("send @big Flash sale", response_url=url)
    assert "Checking the price" in response.json()["text"]
    answer = await app.wait_for(lambda: app.slack.responses_to(url))
    assert "*25* recipients" in str(answer[-1]["blocks"])
    assert app.bsg.create_calls == 0


async def test_opted_out_numbers_do_not_count_towards_the_review(app):
    said(await app.command("list add big " + " ".join(NUMBERS)))
    said(await app.command("optout " + ",".join(NUMBERS[:10])))  # 15 left: at most 20
    response = await app.command("send @big Flash sale")
    assert "Sending to 15 recipients" in response.json()["text"]
    await app.wait_for(lambda: app.bsg.create_calls)


async def test_a_big_csv_file_goes_through_the_review(app):
    rows = "phone,name\n" + "".join(f"{n},Customer\n" for n in NUMBERS)
    file = app.slack.add_file(rows.encode(), name="big.csv")
    ack = await submit(
        app,
        {
            "recipients": "",
            "recipients_file": state_value("file_input", [file]),
            "text": "Hello {name}",
        },
    )
    assert ack["response_action"] == "update", ack
    assert ack["view"]["callback_id"] == "viber_review"
    assert app.bsg.create_calls == 0


async def test_the_live_estimate_counts_lists_and_opt_outs(app):
    said(await app.command("list add team +380972920280 +380972920281 +380972920282"))
    said(await app.command("optout +380972920282"))
    view = await open_modal(app)
    values = {"recipients": "@team, +380972920283 +380972920280 @nolist", "text": "Hi"}
    await type_into(app, view, "recipients", values)
    shown = await app.wait_for(
        lambda: (t := estimate_text(app, view["id"])) and "Viber:" in t and t
    )
    assert "3 recipients" in shown  # 0280, 0281, 0283: the opted-out 0282 left out
    assert "1 opted out" in shown and "1 duplicate" in shown
    assert "@nolist" in shown  # an unknown list is counted as invalid, by name
