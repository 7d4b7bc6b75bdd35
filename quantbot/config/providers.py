"""Config section ``[providers]``: what a DISABLE_PROVIDER verdict of the error classifier
(``ops/errors``: a provider's reply no longer has the expected shape) does, and the market-data
fallback a disabled ``data_primary`` switches to. Read by ``ops/providers`` and
``marketdata/fallback``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting
from quantbot.records.redact import redact_url


@attrs.frozen
class ProvidersConfig:
    # A disabled provider (a dependency such as broker_submit, data_primary, quotes_primary)
    # is refused for this long, then re-enabled by itself: PROVIDER_DISABLED while it lasts.
    disable_s: float = setting(300.0, gt=0)
    # Where bars come from while data_primary is disabled or its breaker is open: "none"
    # (no bars, so no decisions, until it is back) or "venue_rest" (the venue's REST candles
    # at data_fallback_url, polled through the data_fallback breaker).
    data_fallback: str = setting("none", choices=("none", "venue_rest"))
    # The fallback's REST base URL: a second endpoint of the same exchange's market data
    # (Binance: https://data-api.binance.vision), never the one the primary polls.
    data_fallback_url: str = setting("")


def providers_problems(config: Any) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """Cross-key rules of [providers] (second pass of ``quantbot.config.schema``): a fallback
    needs its own endpoint, on a venue that has one built (ccxt), whose bars are polled (the
    same rule ``venues/ccxt/build`` decides pushing by: stream on and a websocket address
    known)."""
    providers: ProvidersConfig = config.providers
    if providers.data_fallback == "none":
        return
    key = ("providers", "data_fallback")
    if config.venue.name != "ccxt":
        yield key, providers.data_fallback, 'venue_rest is built for venue.name = "ccxt" only'
        return
    ccxt = config.venue.ccxt
    if config.market.source == "venue" and ccxt.stream and (ccxt.ws_url or not ccxt.base_url):
        yield (
            key,
            providers.data_fallback,
            "takes over from polled bars only, and venue.ccxt.stream = true pushes them over "
            'the websocket: set venue.ccxt.stream = false, or data_fallback = "none"',
        )
        return
    url = providers.data_fallback_url
    if not url:
        yield (
            ("providers", "data_fallback_url"),
            url,
            'data_fallback = "venue_rest" needs the fallback\'s REST base URL',
        )
    elif url.rstrip("/") == config.venue.ccxt.base_url.rstrip("/"):
        yield (
            ("providers", "data_fallback_url"),
            redact_url(url),
            "is venue.ccxt.base_url, where the primary polls: not a second source",
        )
