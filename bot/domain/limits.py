"""Every limit BSG, Viber and Slack impose, stated once (bsg-viber-api.md; Slack's Block Kit docs).

The modal sets them on its elements, compose checks them, the models enforce them and the
renderers stay inside Slack's; all read them from here.
"""

from __future__ import annotations

# ---------------------------------------------------------------- BSG and Viber
TEXT_MAX = 1000  # Viber message text, characters
SENDER_MAX = 14  # alpha_name
BUTTON_CAPTION_MAX = 30
URL_MAX = 1000  # image and button URLs
SMS_TEXT_MAX = 765  # alt_route text
SMS_SENDER_MIN, SMS_SENDER_MAX = 3, 15  # alt_route originator
VALIDITY_MIN, VALIDITY_MAX = 15, 86400  # seconds
DEFAULT_VALIDITY = VALIDITY_MAX  # what BSG applies when a create names none
MSISDN_MIN_DIGITS, MSISDN_MAX_DIGITS = 6, 15
REFERENCE_MAX = 32  # characters of [A-Za-z0-9_]
TARIFF_MIN, TARIFF_MAX = 0, 9
BATCH_MAX = 1000  # recipients in one create request
SMS_BATCH_MAX = 1000  # phones in one `/sms/create` or `/sms/price` (BSG's maxItems)
# BSG's error codes are small; an HTTP-style code (401, 500) in a `code` field is not one.
BSG_CODE_MAX = 99

# ---------------------------------------------------------------- what people may type
RECIPIENTS_TEXT_MAX = 20_000  # a raw recipient list, far above any recipient limit
NUMBER_TOKEN_MAX = 40  # one typed number: 15 digits of E.164 plus generous punctuation

# ---------------------------------------------------------------- Slack's requests
SLACK_ACK_WITHIN = 3.0  # seconds Slack waits for the HTTP answer to a command or interaction

# ---------------------------------------------------------------- Slack's Block Kit
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
CONTEXT_ELEMENTS_MAX = 10
CONTEXT_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
FALLBACK_TEXT_MAX = 3000
LABEL_MAX = 2000
PLACEHOLDER_MAX = 150
OPTION_TEXT_MAX = 75
BUTTON_TEXT_MAX = 75
VIEW_TITLE_MAX = 24

# Seconds a create batch may wait to share a request while another create is under way
# (bot/bsg/coalesce.py; BSG itself takes ~0.1-1 s to answer a create).
CREATE_LINGER = 0.02
