"""The sleeves a config describes: trend and mean reversion, plus the inbox's external sleeve
when the inbox is enabled (its intents reach the decision step through it)."""

from __future__ import annotations

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.signals.base import Sleeve
from quantbot.signals.external import ExternalSleeve
from quantbot.signals.mean_reversion import MeanReversionSleeve
from quantbot.signals.trend import TrendSleeve


def configured_sleeves(config: Config) -> list[Sleeve]:
    trend, mr = config.signals.trend, config.signals.mean_reversion
    return [
        TrendSleeve("trend", fast=trend.fast, slow=trend.slow, scale=trend.scale),
        MeanReversionSleeve("mean_reversion", window=mr.window, entry_z=mr.entry_z, max_z=mr.max_z),
    ]


def inbox_sleeve(config: Config, clock: Clock) -> ExternalSleeve | None:
    if not config.inbox.enabled:
        return None
    return ExternalSleeve(name="external", ttl_s=config.inbox.ttl_s, clock=clock)
