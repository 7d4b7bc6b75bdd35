"""Wiring the market-data fallback (``[providers] data_fallback``, ``marketdata/fallback``):
the venue package's second REST endpoint of its bars, read through the ``data_fallback``
breaker, taking over while ``data_primary`` is disabled (``ops/providers``) or its breaker is
open. Kept out of ``venue_side`` so the stream's wiring stays the same without a fallback."""

from __future__ import annotations

from collections.abc import Callable

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.daemon.services import Services
from quantbot.marketdata.fallback import FallbackFeed, primary_down
from quantbot.marketdata.venue_feed import Reader, VenueFeed
from quantbot.venues.base import PushSource
from quantbot.venues.registry import venue_package

FALLBACK = "data_fallback"
Wrap = Callable[[VenueFeed], FallbackFeed]


def open_data_fallback(
    config: Config,
    *,
    services: Services,
    clock: Clock,
    read: Reader | None,
    push: PushSource | None,
    poll_interval_s: float,
) -> tuple[Wrap, str] | None:
    """How the primary's poller is wrapped with the configured fallback, and what it is (for
    the manifest); None when ``data_fallback = "none"``."""
    name = config.providers.data_fallback
    if name == "none":
        return None
    assert push is None, push  # the config's second pass: a fallback beside polled bars only
    make = venue_package(config.venue.name).fallback_bars
    assert make is not None  # the config's second pass: a fallback only where one is built
    source = make(config, clock)
    symbols = list(config.market.symbols)

    def wrap(primary: VenueFeed) -> FallbackFeed:
        fallback = VenueFeed(
            source,
            symbols,
            clock,
            poll_interval_s=poll_interval_s,
            read=read,
            on_error=lambda exc, dep: services.errors.handle(exc, dependency=dep),
            dependency=FALLBACK,
        )
        return FallbackFeed(
            primary,
            fallback,
            clock,
            name=name,
            down=primary_down(services.providers, services.breakers),
            write_event=services.writer.write_event,
            poll_interval_s=poll_interval_s,
            close=source.close,
        )

    return wrap, f"data_fallback {name}: {source!r}"
