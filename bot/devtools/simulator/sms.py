"""The SMS endpoints of the simulator: `/sms/create`, `/sms/price` and SMS status."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.devtools.simulator.state import SimSms, format_time
from bot.devtools.simulator.validation import (
    ACCOUNT,
    SMS_DESCRIPTIONS,
    SMS_MSISDN,
    SMS_REFERENCE,
    Planned,
    Refusal,
)
from bot.domain.segments import count_segments

logger = logging.getLogger(__name__)


class SmsEndpoints:
    """Mixed into BsgSimulator: the `/sms/*` handlers."""

    def _sms_plan(self, payload: Any) -> tuple[str, str, list[Planned]]:
        """(originator, body, phones) of an SMS create or price body; Refusal when unusable."""
        if not isinstance(payload, dict):
            raise Refusal(24, "Invalid payload JSON")
        destination = payload.get("destination")
        if destination == "phone":
            items: Any = [{"msisdn": payload.get("msisdn"), "reference": payload.get("reference")}]
        elif destination == "phones":
            items = payload.get("phones")
        else:
            raise Refusal(24, "Invalid destination")
        if not isinstance(items, list) or not 1 <= len(items) <= 1000:
            raise Refusal(24, "Invalid phones")
        originator = payload.get("originator")
        if not isinstance(originator, str) or not 3 <= len(originator) <= 15:
            raise Refusal(7, "Invalid originator")
        body = payload.get("body")
        if not isinstance(body, str) or not 1 <= len(body) <= 765:
            raise Refusal(4, "Invalid body")
        phones = []
        for item in items:
            if not isinstance(item, dict):
                phones.append(Planned("", None, 1))
                continue
            msisdn = str(item.get("msisdn") or "")
            reference = item.get("reference")
            reference = None if reference is None else str(reference)
            if not SMS_MSISDN.match(msisdn):
                phones.append(Planned(msisdn, reference, 1))
            elif reference is not None and not SMS_REFERENCE.match(reference):
                phones.append(Planned(msisdn, reference, 24))
            else:
                phones.append(Planned(msisdn, reference))
        return originator, body, phones

    def _sms_cost(self, body: str, count: int) -> Decimal:
        return self.sms_price * max(1, count_segments(body).segments) * count

    async def _sms_create(self, request: web.Request) -> web.Response:
        payload = await self._read_json(request)
        account = request[ACCOUNT]
        try:
            originator, body, phones = self._sms_plan(payload)
        except Refusal as refusal:
            return self._sms_refusal(refusal.code, refusal.description)
        for phone in phones:
            if (
                not phone.error
                and phone.reference is not None
                and (account, phone.reference) in self._sms_by_reference
            ):
                phone.error = 43
        accepted = [p for p in phones if not p.error]
        cost = self._sms_cost(body, len(accepted))
        if cost > self.balance:
            return self._sms_refusal(14, "Not enough balance")
        self.balance -= cost
        price = self._sms_cost(body, 1)
        now = self.clock()
        result = []
        for phone in phones:
            if phone.error:
                entry: dict[str, Any] = {
                    "error": phone.error,
                    "errorDescription": SMS_DESCRIPTIONS.get(phone.error, "Error"),
                }
                if phone.reference is not None:
                    entry["reference"] = phone.reference
                result.append(entry)
                continue
            sms = SimSms(
                id=self._new_id(),
                msisdn=phone.msisdn,
                reference=phone.reference,
                originator=originator,
                body=body,
                accepted_at=now,
                price=price,
                currency=self.currency,
                time_scale=self.time_scale,
            )
            self.sms[sms.id] = sms
            if sms.reference is not None:
                self._sms_by_reference[(account, sms.reference)] = sms
            result.append(
                {
                    "error": 0,
                    "errorDescription": "No errors",
                    "reference": sms.reference,
                    "id": sms.id,
                    "price": float(price),
                    "currency": self.currency,
                }
            )
        logger.info("BSG simulator accepted %d of %d SMS", len(accepted), len(phones))
        await self._pause(self.create_delay)
        if isinstance(payload, dict) and payload.get("destination") == "phone":
            return web.json_response({"result": result[0]})
        return web.json_response(
            {
                "task_id": self._new_id(),
                "result": result,
                "total_price": float(cost),
                "currency": self.currency,
            }
        )

    async def _sms_price(self, request: web.Request) -> web.Response:
        await self._pause(self.price_delay)
        payload = await self._read_json(request)
        try:
            _, body, phones = self._sms_plan(payload)
        except Refusal as refusal:
            return self._sms_refusal(refusal.code, refusal.description)
        cost = self._sms_cost(body, sum(1 for p in phones if not p.error))
        return web.json_response(
            {
                "error": 0,
                "errorDescription": "No errors",
                "totalprice": float(cost),
                "currency": self.currency,
            }
        )

    async def _sms_by_id(self, request: web.Request) -> web.Response:
        return await self._sms_status(self.sms.get(request.match_info["id"]))

    async def _sms_by_ref(self, request: web.Request) -> web.Response:
        key = (request[ACCOUNT], request.match_info["reference"])
        return await self._sms_status(self._sms_by_reference.get(key))

    async def _sms_status(self, sms: SimSms | None) -> web.Response:
        if self.get_delay > 0:
            await asyncio.sleep(self.get_delay)
        if sms is None:
            return self._sms_refusal(20, "SMS not found")
        status, changed_at = sms.status_at(self.clock())
        body: dict[str, Any] = {
            "error": 0,
            "errorDescription": "No errors",
            "id": sms.id,
            "msisdn": sms.msisdn,
            "reference": sms.reference,
            "time_in": format_time(sms.accepted_at),
            "time_sent": format_time(sms.accepted_at),
            "time_dr": format_time(changed_at) if status not in ("sent", "new") else None,
            "status": status,
            "price": float(sms.price),
            "currency": sms.currency,
        }
        return web.json_response(body)

    def _sms_refusal(self, code: int, description: str) -> web.Response:
        return web.json_response({"error": code, "errorDescription": description})

    def set_sms_status(self, reference_or_id: str, status: str) -> None:
        """Freeze an SMS API message's status (by id or reference)."""
        sms = self.sms.get(reference_or_id) or next(
            (m for m in self.sms.values() if m.reference == reference_or_id), None
        )
        if sms is None:
            raise KeyError(reference_or_id)
        sms.forced = (status, self.clock())

    def sms_sent_to(self, msisdn: str) -> int:
        """How many SMS API messages this number was sent."""
        return sum(1 for m in self.sms.values() if m.msisdn == msisdn)
