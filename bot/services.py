"""The bundle of services that Slack listeners may use (handed to each `register(app, deps)`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.bsg.client import BsgClient
from bot.clock import Clock
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack.estimate import EstimateService
from bot.slack.home import HomeService
from bot.slack.live_estimate import LiveEstimate
from bot.slack.thread_actions import ThreadActions
from bot.tracking.audiences import AudienceService
from bot.tracking.sending import SendService
from storage.store import Store


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    bsg: BsgClient
    sending: SendService
    home: HomeService
    clock: Clock
    metrics: Metrics
    estimates: EstimateService
    live_estimate: LiveEstimate
    thread_actions: ThreadActions
    audiences: AudienceService
