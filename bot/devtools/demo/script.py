"""The demo's script: who is in the workspace, what they send, and what the channel must show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

from bot.domain.phones import mask

if TYPE_CHECKING:
    from bot.devtools.demo.workspace import Workspace

# Who does what in the demo's workspace. The tokens are plainly not real ones.
CHANNEL_ID = "C0DEMO"
CHANNEL_NAME = "general"
USER_ID = "U0DEMO"
USER_NAME = "alice"
BOT_TOKEN = "xoxb-demo-not-a-real-token"
BSG_KEY = "demo-bsg-key-not-a-real-one"
SENDER = "DemoShop"
COMMAND = "/viber"

# Recipients, chosen by the simulator's default lifecycles (by last digit; see
# bot/devtools/simulator/lifecycles.py).
READ_LATER = "380972920280"  # delivered, read later
NOT_ON_VIBER = "380972920283"  # not a Viber user: the SMS fallback goes out and is delivered
READ_QUICKLY = "380972920288"  # delivered and read within a second or so
NEVER_LANDS = "380972920285"  # stays `sent` at BSG: the bot's validity logic expires it
VALIDITY = 15  # seconds; BSG's minimum


@dataclass(frozen=True)
class Pace:
    """How fast the demo runs: the simulator's clock and the bot's polling knobs."""

    time_scale: float  # BSG simulator lifecycles (0.4: 2.5 times faster than real)
    poll_interval: float
    poll_max_interval: float
    expiry_grace: float
    post_interval: float
    deadline: float  # seconds for everything expected to show in the channel
    settle: float  # seconds to wait for the last edits once everything showed


FAST = Pace(
    time_scale=0.4,
    poll_interval=0.5,
    poll_max_interval=1.0,
    expiry_grace=1.0,
    post_interval=0.05,
    deadline=25.0,
    settle=3.0,
)
SLOW = Pace(
    time_scale=1.0,
    poll_interval=2.0,
    poll_max_interval=5.0,
    expiry_grace=5.0,
    post_interval=0.5,
    deadline=120.0,
    settle=10.0,
)
REFRESH = 0.2  # seconds between looks at the stand-in's channel


@dataclass(frozen=True)
class Expected:
    """A thread reply the channel must show before the demo counts as a success."""

    what: str
    msisdn: str
    words: str

    def seen_in(self, reply: str) -> bool:
        return self.words in reply and mask(self.msisdn) in reply


EXPECTED = (
    Expected("delivered", READ_LATER, "Delivered"),
    Expected("read", READ_LATER, "Read"),
    Expected("fallback to SMS", NOT_ON_VIBER, "Fell back to SMS"),
    Expected("SMS delivered", NOT_ON_VIBER, "SMS delivered"),
    Expected("read within seconds", READ_QUICKLY, "Read"),
    Expected("expired", NEVER_LANDS, "Expired"),
)


class DemoFailed(Exception):
    """Something the demo waits for did not happen; the message says what."""


async def act(workspace: Workspace, pace: Pace) -> None:
    """What the person in Slack does: two modal sends and one quick send."""
    view = await workspace.open_modal()
    await workspace.submit(
        view,
        {
            "recipients": f"+{READ_LATER}, +{NOT_ON_VIBER}",
            "text": "Your parcel is waiting at the pickup point until Friday.",
            "sms_text": "Your parcel is waiting at the pickup point until Friday.",
        },
        labels={
            "recipients": "Recipients",
            "text": "Message",
            "sms_text": "SMS fallback text",
        },
    )
    await workspace.command(f"send +{READ_QUICKLY} Your sign-in code is 4321")
    view = await workspace.open_modal()
    await workspace.submit(
        view,
        {
            "recipients": f"+{NEVER_LANDS}",
            "text": "Flash sale: 20% off for the next hour.",
            "validity": VALIDITY,
        },
        labels={"recipients": "Recipients", "text": "Message", "validity": "Validity (seconds)"},
        note=(
            f"This phone never takes the message: BSG keeps it as sent. After its {VALIDITY} s "
            f"validity and a {pace.expiry_grace:g} s grace the bot calls it expired."
        ),
    )
    workspace.console.print(Text("\nNow watch the channel.", style="dim"))
