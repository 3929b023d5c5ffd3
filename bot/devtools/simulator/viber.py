"""The simulator's Viber endpoints: create, status by id or reference, balance, prices, price."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.devtools.simulator.state import SimMessage, SmsRoute, Snapshot
from bot.devtools.simulator.validation import (
    ACCOUNT,
    DESCRIPTIONS,
    Planned,
    PlannedMessage,
    Refusal,
    alt_route_of,
    integer_or_none,
    parse_schedule,
    plan_recipient,
    url_or_none,
    validate_options,
)

logger = logging.getLogger(__name__)

# (country, country_name, mcc, mnc) rows of the price list; every row costs `price`.
NETWORKS = (
    ("UA", "Ukraine", "255", "01"),
    ("UA", "Ukraine", "255", "03"),
    ("UA", "Ukraine", "255", "06"),
    ("PL", "Poland", "260", "02"),
    ("DE", "Germany", "262", "01"),
    ("GB", "United Kingdom", "234", "10"),
)


class ViberEndpoints:
    """Mixed into BsgSimulator: the `/viber/*` and `/common/balance` handlers."""

    async def _create(self, request: web.Request) -> web.Response:
        payload = await self._read_json(request)
        account = request[ACCOUNT]
        try:
            validity, tariff, planned = self._validate(payload, account)
        except Refusal as refusal:
            logger.info("BSG simulator refused a create: code %d", refusal.code)
            return self._refusal(refusal.code, refusal.description)
        accepted = sum(1 for m in planned for r in m.recipients if not r.error)
        cost = self.price * accepted
        if cost > self.balance:
            logger.info("BSG simulator refused a create: not enough funds for %d", accepted)
            return self._refusal(8)
        self.balance -= cost
        now = self.clock()
        entries: list[list[tuple[Planned, SimMessage | None]]] = []
        for plan in planned:
            row: list[tuple[Planned, SimMessage | None]] = []
            for recipient in plan.recipients:
                msg = None
                if not recipient.error:
                    msg = self._record(plan, recipient, now, validity, tariff, account)
                row.append((recipient, msg))
            entries.append(row)
        logger.info(
            "BSG simulator accepted %d of %d recipients",
            accepted,
            sum(len(m.recipients) for m in planned),
        )
        body = self._create_body(entries, cost)
        await self._pause(self.create_delay)
        return web.json_response(body)

    def _record(
        self,
        plan: PlannedMessage,
        recipient: Planned,
        now: datetime,
        validity: int,
        tariff: int,
        account: str,
    ) -> SimMessage:
        msg_id = self._new_id()
        sms = None
        if plan.alt_route is not None:
            sms = SmsRoute(self._new_id(), plan.alt_route[0], plan.alt_route[1], self.sms_price)
        scheduled = plan.scheduled_at is not None and plan.scheduled_at > now
        msg = SimMessage(
            id=msg_id,
            msisdn=recipient.msisdn,
            reference=recipient.reference,
            text=plan.text,
            sender=plan.sender,
            accepted_at=now,
            start_at=plan.scheduled_at if scheduled and plan.scheduled_at else now,
            scheduled=scheduled,
            lifecycle=self.lifecycles.for_msisdn(recipient.msisdn),
            time_scale=self.time_scale,
            price=self.price,
            currency=self.currency,
            validity=validity,
            tariff=tariff,
            promotional=plan.promotional,
            sms=sms,
            account=account,
            callback_url=plan.callback_url,
            sms_callback_url=plan.sms_callback_url if sms is not None else None,
        )
        self.messages[msg.id] = msg
        if msg.reference is not None:
            self._by_reference[(account, msg.reference)] = msg
            self._any_reference.setdefault(msg.reference, msg)
        self._accepted[msg.msisdn] += 1
        self.callbacks.watch(msg)
        return msg

    def _create_body(
        self, entries: list[list[tuple[Planned, SimMessage | None]]], cost: Decimal
    ) -> Any:
        if self.shape == "array":
            return [
                {
                    "error": self._error_field(0, as_text=True),
                    "messages": [self._array_entry(r, m) for r, m in row],
                }
                for row in entries
            ]
        result = [self._result_entry(r, m) for row in entries for r, m in row]
        return {
            "result": result,
            "total_price": self._money(cost, as_text=False),
            "currency": self.currency,
        }

    def _result_entry(self, recipient: Planned, msg: SimMessage | None) -> dict[str, Any]:
        if msg is None:
            entry: dict[str, Any] = {
                "error": self._error_field(recipient.error),
                "errorDescription": DESCRIPTIONS[recipient.error],
            }
            if recipient.reference is not None:
                entry["reference"] = recipient.reference
            return entry
        entry = {}
        if msg.reference is not None:
            entry["reference"] = msg.reference
        entry["id"] = msg.id
        entry["price"] = self._money(msg.price, as_text=False)
        entry["currency"] = msg.currency
        return self._with_ok(entry)

    def _array_entry(self, recipient: Planned, msg: SimMessage | None) -> dict[str, Any]:
        if msg is None:
            entry: dict[str, Any] = {
                "error": self._error_field(recipient.error, as_text=True),
                "errorDescription": DESCRIPTIONS[recipient.error],
            }
            if recipient.reference is not None:
                entry["reference"] = recipient.reference
            return entry
        entry = {"id": msg.id}
        if msg.reference is not None:
            entry["reference"] = msg.reference
        entry["price"] = self._money(msg.price, as_text=True)
        entry["currency"] = msg.currency
        return entry

    def _validate(
        self, payload: Any, account: str, *, check_references: bool = True
    ) -> tuple[int, int, list[PlannedMessage]]:
        if not isinstance(payload, dict):
            raise Refusal(7)
        validity = integer_or_none(payload.get("validity", 86400))
        if validity is None or not 15 <= validity <= 86400:
            raise Refusal(48)
        tariff = integer_or_none(payload.get("tariff", 0))
        if tariff is None or not 0 <= tariff <= 9:
            raise Refusal(6)
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise Refusal(44, "No messages")
        seen: set[str] = set()
        planned = []
        for message in messages:
            plan = self._validate_message(message)
            for recipient in plan.recipients:
                if recipient.error or recipient.reference is None or not check_references:
                    continue
                if (account, recipient.reference) in self._by_reference or (
                    recipient.reference in seen
                ):
                    recipient.error = 43
                else:
                    seen.add(recipient.reference)
            planned.append(plan)
        return validity, tariff, planned

    def _validate_message(self, message: Any) -> PlannedMessage:
        if not isinstance(message, dict):
            raise Refusal(44)
        to = message.get("to")
        if not isinstance(to, list) or not to:
            raise Refusal(44, "Empty recipients list")
        if len(to) > self.max_recipients:
            raise Refusal(12, f"Too many recipients in one message (max {self.max_recipients})")
        text = message.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 1000:
            raise Refusal(46)
        sender = message.get("alpha_name")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > 14:
            raise Refusal(45, "Invalid sender name")
        if self.registered_senders is not None and sender not in self.registered_senders:
            raise Refusal(45)
        alt_route = validate_options(message)
        scheduled_at = parse_schedule(message.get("scheduledDatetime"))
        return PlannedMessage(
            text=text,
            sender=sender,
            promotional=message.get("is_promotional") in (True, 1, "1", "true"),
            scheduled_at=scheduled_at,
            alt_route=alt_route,
            recipients=[self._refuse_scripted(plan_recipient(item)) for item in to],
            callback_url=url_or_none(message.get("callback_url")),
            sms_callback_url=url_or_none(alt_route_of(message).get("callback_url")),
        )

    def _refuse_scripted(self, recipient: Planned) -> Planned:
        if not recipient.error and recipient.msisdn in self._refused_msisdns:
            recipient.error = self._refused_msisdns[recipient.msisdn]
        return recipient

    async def _status_by_id(self, request: web.Request) -> web.Response:
        msg = self.messages.get(request.match_info["id"])
        if msg is not None and msg.account != request[ACCOUNT]:
            msg = None
        return await self._status(msg)

    async def _status_by_reference(self, request: web.Request) -> web.Response:
        key = (request[ACCOUNT], request.match_info["reference"])
        return await self._status(self._by_reference.get(key))

    async def _status(self, msg: SimMessage | None) -> web.Response:
        if self.get_delay > 0:
            await asyncio.sleep(self.get_delay)
        if msg is None:
            return self._refusal(40)
        return web.json_response(self._status_body(msg, msg.snapshot(self.clock())))

    def _status_body(self, msg: SimMessage, snap: Snapshot) -> dict[str, Any]:
        body: dict[str, Any] = {"id": msg.id, "msisdn": msg.msisdn, "reference": msg.reference}
        self._times(
            body, {"time_in": msg.accepted_at, "time_sent": snap.sent_at, "time_dr": snap.dr_at}
        )
        body["status"] = snap.viber
        body["price"] = self._money(msg.price, as_text=False)
        body["currency"] = msg.currency
        if msg.sms is not None and snap.sms is not None:
            sms = msg.sms
            body["alt_route"] = [
                {
                    "channel": "sms",
                    "id": sms.id,
                    "status": snap.sms,
                    "price": self._money(sms.price, as_text=False),
                }
            ]
            detail: dict[str, Any] = {"id": sms.id}
            self._times(
                detail,
                {"time_in": snap.sms_in, "time_sent": snap.sms_sent_at, "time_dr": snap.sms_dr_at},
            )
            detail.update(
                status=snap.sms,
                price=self._money(sms.price, as_text=False),
                currency=self.currency,
                message=sms.text,
                sender=sms.originator,
            )
            body["alt_route_messages"] = [detail]
        return self._with_ok(body)

    # ------------------------------------------------------------ account

    async def _balance(self, request: web.Request) -> web.Response:
        body = {
            "amount": self._money(self.balance, as_text=True),
            "currency": self.currency,
            "limit": self._money(Decimal("0.00"), as_text=True),
        }
        return web.json_response(self._with_ok(body))

    async def _prices(self, request: web.Request) -> web.Response:
        tariff = request.match_info.get("tariff")
        if tariff is not None and (not tariff.isdigit() or not 0 <= int(tariff) <= 9):
            return self._refusal(6)
        prices = [
            {
                "type": "viber",
                "country": country,
                "country_name": name,
                "mcc": mcc,
                "mnc": mnc,
                "price": self._money(self.price, as_text=True),
                "currency": self.currency,
            }
            for country, name, mcc, mnc in NETWORKS
        ]
        return web.json_response({"prices": prices})

    async def _price_preview(self, request: web.Request) -> web.Response:
        await self._pause(self.price_delay)
        payload = await self._read_json(request)
        try:
            _, _, planned = self._validate(payload, request[ACCOUNT], check_references=False)
        except Refusal as refusal:
            return self._refusal(refusal.code, refusal.description)
        count = sum(1 for m in planned for r in m.recipients if not r.error)
        body = {
            "totalprice": self._money(self.price * count, as_text=True),
            "currency": self.currency,
        }
        return web.json_response(self._with_ok(body))

    # ------------------------------------------------------------ the SMS API
