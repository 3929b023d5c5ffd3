"""Why a field of a send, as typed, cannot be sent: typed here, worded in render/input_errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.recipients import Resolution


class FieldFault(StrEnum):
    """One thing wrong with one field of a send (the field is the modal's block id)."""

    NO_RECIPIENTS = "no_recipients"
    RECIPIENTS_FAR_TOO_LONG = "recipients_far_too_long"
    RECIPIENTS_UNRESOLVED = "recipients_unresolved"  # bad numbers, unknown or misnamed lists
    LISTS_EMPTY = "lists_empty"
    VARIABLES_NEED_FILE = "variables_need_file"  # typed numbers, but the text uses `{column}`
    NO_TEXT = "no_text"
    TEXT_TOO_LONG = "text_too_long"
    TEXT_CONTROL = "text_control"
    SENDER_TOO_LONG = "sender_too_long"
    SENDER_CONTROL = "sender_control"
    URL_TOO_LONG = "url_too_long"
    URL_NOT_HTTP = "url_not_http"
    URL_SPACES = "url_spaces"
    CAPTION_TOO_LONG = "caption_too_long"
    BUTTON_NEEDS_URL = "button_needs_url"
    BUTTON_NEEDS_CAPTION = "button_needs_caption"
    IMAGE_NEEDS_BUTTON = "image_needs_button"
    SMS_SENDER_LENGTH = "sms_sender_length"
    SMS_TEXT_TOO_LONG = "sms_text_too_long"
    SMS_TEXT_CONTROL = "sms_text_control"
    SMS_SENDER_WITHOUT_TEXT = "sms_sender_without_text"
    VALIDITY_NOT_WHOLE = "validity_not_whole"
    VALIDITY_OUT_OF_RANGE = "validity_out_of_range"
    SEND_AT_PAST = "send_at_past"
    SEND_AT_BEYOND_VALIDITY = "send_at_beyond_validity"


@dataclass(frozen=True)
class FieldProblem:
    """A fault with the data its words need."""

    fault: FieldFault
    # TEXT_TOO_LONG: characters; SEND_AT_BEYOND_VALIDITY: seconds; VARIABLES_NEED_FILE: numbers.
    count: int = 0
    # SMS_SENDER_LENGTH: the originator; VARIABLES_NEED_FILE: the `{variables}` the texts use.
    values: tuple[str, ...] = ()
    resolved: Resolution | None = None  # RECIPIENTS_UNRESOLVED
