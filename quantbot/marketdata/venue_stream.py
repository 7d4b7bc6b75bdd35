"""Bars from a real venue: pushed over its websocket when it has one, else polled.

``VenueStream.stream()`` has the shape of ``VenueFeed.stream()`` (batches of closed bars,
oldest first, one batch per open time) and the daemon reads either the same way. Which one
is used is decided once, when the stream is built, and said in ``mode`` / ``why``:

- ``"push"``: a push source was given (the venue's package decides, ``bars`` in its
  ``build.py``: ccxt gives one when the config enables it, ccxt.pro has ``watchOHLCV`` for
  the exchange and the websocket's address is known). Bars arrive as candles close;
  candles missed while the connection was down come from REST through the same ``read``
  wrapper (breaker ``data_primary``) the poller uses.
  Unlike the poller it yields nothing at start: the first batch is the first candle to close.
- ``"poll"``: ``VenueFeed`` asks ``venue.bars`` every ``poll_interval_s``; with ``fallback``
  (``[providers] data_fallback``) that poller is wrapped in a ``FallbackFeed``, which asks a
  second source while the primary is down (``marketdata/fallback``).

A push source that keeps failing is not swapped for polling at run time: its errors go to
``on_error`` like the poller's, so the breaker and alerts see the outage either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from quantbot.clock import Clock
from quantbot.domain.values import Bar
from quantbot.marketdata.fallback import FallbackFeed
from quantbot.marketdata.venue_feed import DATA, Reader, VenueFeed
from quantbot.venues.base import MarketDataVenue, OnError, PushSource


class VenueStream:
    """Closed bars of ``symbols`` from ``venue``: from ``push`` when given, else polled."""

    def __init__(
        self,
        venue: MarketDataVenue,
        symbols: list[str],
        clock: Clock,
        *,
        poll_interval_s: float,
        read: Reader | None = None,
        on_error: OnError | None = None,
        push: PushSource | None = None,
        why: str = "",
        fallback: Callable[[VenueFeed], FallbackFeed] | None = None,
    ) -> None:
        self._venue = venue
        self._symbols = list(symbols)
        self._clock = clock
        self._interval_s = poll_interval_s
        self._read = read
        self._on_error = on_error
        self._push = push
        self._fallback = fallback
        self.mode = "push" if push is not None else "poll"
        self.why = why or ("push source given" if push is not None else "no push source")

    def stream(self) -> AsyncIterator[list[Bar]]:
        if self._push is None:
            feed = VenueFeed(
                self._venue,
                self._symbols,
                self._clock,
                poll_interval_s=self._interval_s,
                read=self._read,
                on_error=self._on_error,
            )
            if self._fallback is not None:
                return self._fallback(feed).stream()
            return feed.stream()
        return self._push.batches(self._backfill, self._on_error)

    async def _backfill(self, symbol: str, since_ns: int) -> list[Bar]:
        """Closed bars of ``symbol`` from ``since_ns`` over REST, behind the read breaker."""

        def fetch() -> Awaitable[list[Bar]]:
            return self._venue.bars(symbol, since_ns=since_ns)

        if self._read is None:
            return await fetch()
        bars: list[Bar] = await self._read(DATA, fetch)
        return bars
