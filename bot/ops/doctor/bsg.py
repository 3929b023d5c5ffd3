"""`viber-bot doctor`'s BSG check: the API key, through the balance call."""

from __future__ import annotations

from bot.domain.errors import (
    BsgCode,
    BsgError,
    BsgProtocolError,
    BsgRefused,
    BsgUnavailable,
)
from bot.ops.doctor.check import Check
from bot.ops.output import price
from bot.settings import Settings
from bot.slack.render.bsg_errors import explain_bsg_code


async def check_bsg(settings: Settings) -> Check:
    from bot.bsg.client import BsgClient

    url = settings.bsg_api_url
    client = BsgClient(
        api_key=settings.bsg_api_key,
        base_url=url,
        timeout=settings.bsg_timeout,
        retries=0,
    )
    try:
        balance = await client.balance()
    except BsgRefused as error:
        said = f", HTTP {error.http_status}" if error.http_status else ""
        what = f"(code {error.code}{said}): {error.description or '-'}"
        if error.code == BsgCode.INVALID_KEY or error.http_status in (401, 403):
            return Check(
                "BSG",
                False,
                f"BSG at {url} refused the API key {what}",
                "check BSG_API_KEY: copy the key from BSG's dashboard (live keys start with live_)",
            )
        return Check(
            "BSG", False, f"BSG refused the balance request {what}", explain_bsg_code(error.code)
        )
    except BsgUnavailable as error:
        return Check(
            "BSG",
            False,
            f"BSG could not be reached at {url}: {error.reason}",
            "check BSG_API_URL (BSG's is https://api.bsg.world/rest) and that this machine can "
            "reach it (network, proxy, firewall); if both are right, BSG may be down",
        )
    except BsgProtocolError as error:
        return Check(
            "BSG",
            False,
            f"{url} does not answer like BSG's REST API: {error}",
            "check BSG_API_URL: it is BSG's REST base URL, e.g. https://api.bsg.world/rest",
        )
    except BsgError as error:
        return Check("BSG", False, f"BSG at {url}: {error}", "run doctor again in a minute")
    finally:
        await client.aclose()
    amount = price(balance.amount, balance.currency)
    return Check("BSG", True, f"API key accepted at {url}; balance {amount}")
