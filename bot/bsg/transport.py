"""The HTTP layer under BsgClient: the connection pool, and which failures are worth a retry."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx
import httpx_aiohttp

TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class Retryable(Exception):
    """A failure worth retrying: timeout, connection error, HTTP 429 or 5xx.

    `dropped`: the server closed a kept-alive connection under the request, a routine event
    with a pool of idle connections; its retry is logged at INFO, not as a failure.
    """

    def __init__(self, reason: str, retry_after: float | None = None, *, dropped: bool = False):
        self.reason = reason
        self.retry_after = retry_after
        self.dropped = dropped
        super().__init__(reason)


def describe(error: httpx.HTTPError) -> str:
    """The failure's name for logs and errors. httpx-aiohttp maps every aiohttp connection
    error to ConnectTimeout, so name the cause where it says more."""
    cause = error.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError):
        return "ConnectError"
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return "RemoteProtocolError"
    if isinstance(cause, aiohttp.ClientOSError):
        return "ReadError"
    return type(error).__name__


def dropped(error: BaseException) -> bool:
    """A kept-alive connection the server had closed or reset (httpx's words for it, or
    aiohttp's beneath httpx-aiohttp's ConnectTimeout)."""
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return True
    cause = error.__cause__
    return isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)


TRANSPORTS = ("aiohttp", "httpx")


def make_transport(
    kind: str = "aiohttp", *, max_connections: int = 100
) -> httpx.AsyncBaseTransport:
    """The connection pool under BsgClient's `httpx.AsyncClient`.

    "aiohttp" is httpx-aiohttp's transport (kept by an httpx maintainer): aiohttp's pool, which
    costs a fraction of httpcore's CPU per request at the poller's concurrency (see
    benchmarks/poll_sweep.py --transport). "httpx" is httpx's own AsyncHTTPTransport.
    """
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    if kind == "aiohttp":
        return httpx_aiohttp.AiohttpTransport(limits=limits, trust_env=False)
    if kind == "httpx":
        return httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    raise ValueError(f"unknown BSG transport {kind!r}: one of {', '.join(TRANSPORTS)}")


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing. BSG's API is keyed by a header and sets no cookie worth
    sending back, while httpx would read every answer's cookies through urllib's request
    model (about a tenth of the CPU of a status check)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """httpx.AsyncClient that neither keeps nor sends cookies (see _NoCookies)."""

    _no_cookies = _NoCookies()

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the BSG client keeps no cookies")
