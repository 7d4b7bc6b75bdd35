"""The sleeves a config describes: those its ``[signals]`` tables declare, in their order, plus
the inbox's external sleeve when the inbox is enabled (its intents reach the decision step
through it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.signals.base import Sleeve
from quantbot.signals.external import ExternalSleeve
from quantbot.signals.registry import INBOX_KIND, builtin_code, describe
from quantbot.signals.sleeve_set import SleeveSet
from quantbot.signals.timeframe import with_timeframes


def configured_sleeves(
    config: Config, external: ExternalSleeve | None, replace: Iterable[Sleeve] | None = None
) -> SleeveSet:
    """The declared sleeves (or ``replace``'s), then ``external`` when there is one; a sleeve
    declared with a ``timeframe`` reads that timeframe's bars (``signals.timeframe``)."""
    sleeves = [d.build() for d in config.signals.values()] if replace is None else list(replace)
    sleeves = with_timeframes(sleeves, {n: d.timeframe for n, d in config.signals.items()})
    return SleeveSet([*sleeves, external] if external is not None else sleeves)


def inbox_sleeve(config: Config, clock: Clock) -> ExternalSleeve | None:
    if not config.inbox.enabled:
        return None
    return ExternalSleeve(name=INBOX_KIND, ttl_s=config.inbox.ttl_s, clock=clock)


def sleeves_manifest(config: Config) -> dict[str, dict[str, Any]]:
    """Each sleeve's kind, source file and its sha256, and params, for the run manifest."""
    sleeves = describe(config.signals)
    if config.inbox.enabled:
        code = builtin_code(ExternalSleeve)
        sleeves[INBOX_KIND] = {
            "kind": INBOX_KIND,
            "source": code.source,
            "sha256": code.sha256,
            "params": {"ttl_s": config.inbox.ttl_s},
        }
    return sleeves
