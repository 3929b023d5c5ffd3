"""BSG's request bodies (`/viber/create`, `/sms/create`, `/sms/price`) from domain models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.domain.models import MessageContent, Recipient

CallbackUrl = Callable[[str], str]  # a recipient's reference -> its delivery-callback URL


def _bsg_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        # A naive send time is taken as UTC, the zone BSG expects.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_create_body(
    content: MessageContent,
    recipients: Sequence[Recipient],
    tariff: int = 0,
    callback_url: CallbackUrl | None = None,
) -> dict[str, Any]:
    """BSG's `/viber/create` body for one batch; unset options are left out so defaults apply.

    Recipients with the same text (and SMS text) share one `messages[]` item; a personal text
    (CSV) gives its recipients an item of their own; items keep the order of first appearance.
    With `callback_url` (reference -> URL) every recipient is a `messages[]` item of its own,
    because BSG takes `callback_url` per item and each recipient's URL names that recipient.
    """
    default_sms = content.sms.text if content.sms is not None else None
    groups: dict[tuple[str, str | None, str | None], list[Recipient]] = {}
    for recipient in recipients:
        own = recipient.reference if callback_url is not None else None
        key = (recipient.text or content.text, recipient.sms_text or default_sms, own)
        groups.setdefault(key, []).append(recipient)
    body: dict[str, Any] = {}
    if content.validity is not None:
        body["validity"] = content.validity
    body["tariff"] = tariff
    body["messages"] = [
        _create_message(
            content,
            group,
            text,
            sms_text,
            callback_url(group[0].reference) if callback_url else None,
        )
        for (text, sms_text, _), group in groups.items()
    ]
    return body


def _create_message(
    content: MessageContent,
    recipients: Sequence[Recipient],
    text: str,
    sms_text: str | None,
    callback_url: str | None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "to": [{"msisdn": r.msisdn, "reference": r.reference} for r in recipients],
        "text": text,
        "alpha_name": content.sender,
        "is_promotional": content.promotional,
    }
    if callback_url is not None:
        message["callback_url"] = callback_url
    if content.send_at is not None:
        message["scheduledDatetime"] = _bsg_time(content.send_at)
    viber: dict[str, Any] = {}
    if content.image_url is not None:
        viber["img"] = content.image_url
    if content.button_caption is not None:
        viber["caption"] = content.button_caption
    if content.button_url is not None:
        viber["action"] = content.button_url
    if content.sms is not None:
        viber["alt_route"] = {"originator": content.sms.originator, "text": sms_text}
        if callback_url is not None:
            viber["alt_route"]["callback_url"] = callback_url
    if viber:
        message["options"] = {"viber": viber}
    return message


def build_sms_body(
    *,
    originator: str,
    text: str,
    recipients: Sequence[Recipient],
    validity_hours: int | None = None,
) -> dict[str, Any]:
    """BSG's `/sms/create` body (`destination: phones`) for one batch of recipients."""
    body: dict[str, Any] = {
        "destination": "phones",
        "phones": [{"msisdn": r.msisdn, "reference": r.reference} for r in recipients],
        "originator": originator,
        "body": text,
    }
    if validity_hours is not None:
        body["validity"] = validity_hours
    return body


def build_sms_price_body(*, originator: str, text: str, msisdns: Sequence[str]) -> dict[str, Any]:
    """BSG's `/sms/price` body (`destination: phones`): what sending would cost, nothing sent."""
    return {
        "destination": "phones",
        "phones": [{"msisdn": m} for m in msisdns],
        "originator": originator,
        "body": text,
    }
