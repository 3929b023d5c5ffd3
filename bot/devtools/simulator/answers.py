"""How the simulator writes BSG's answers: refusals, success codes, error fields, money and
times, plainly or (quirky mode) in each of the forms BSG has been seen to use."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.devtools.simulator.state import format_time
from bot.devtools.simulator.validation import DESCRIPTIONS


class AnswerForms:
    """Mixed into BsgSimulator: the forms its endpoints write answers and read bodies in."""

    quirky: bool
    http_errors: bool
    _rng: random.Random

    def _refusal(self, code: int, description: str | None = None) -> web.Response:
        body = {
            "error": self._error_field(code),
            "errorDescription": description or DESCRIPTIONS[code],
        }
        status = 200
        if self.http_errors:
            status = 404 if code == 40 else 400
        return web.json_response(body, status=status)

    def _error_field(self, code: int, *, as_text: bool = False) -> int | str:
        if self.quirky:
            as_text = self._rng.random() < 0.5
        return str(code) if as_text else code

    def _money(self, amount: Decimal, *, as_text: bool) -> str | float:
        if self.quirky:
            as_text = self._rng.random() < 0.5
        return str(amount) if as_text else float(amount)

    def _with_ok(self, body: dict[str, Any], *, as_text: bool = False) -> dict[str, Any]:
        """`body` headed by a success code, in whichever form the mode calls for."""
        if self.quirky:
            form = self._rng.randrange(3)
            if form == 2:  # absent
                return body
            as_text = form == 1
        return {"error": "0" if as_text else 0, "errorDescription": "No errors", **body}

    def _times(self, body: dict[str, Any], times: Mapping[str, datetime | None]) -> None:
        for name, moment in times.items():
            if moment is None and self.quirky and self._rng.random() < 0.5:
                continue
            body[name] = format_time(moment)

    async def _read_json(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read() or b"null")
        except ValueError:
            return None
