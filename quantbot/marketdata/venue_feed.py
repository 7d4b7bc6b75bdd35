"""Bars from a real venue (``market.source = "venue"``), polled.

Every ``poll_interval_s`` each symbol is asked for the closed bars after the last one seen;
new bars are yielded in batches by open time, oldest first, so the pipeline sees one batch per
interval as it does from the synthetic market. The first poll takes only the latest closed bar
of each symbol: older bars would be stale for the data contract, and the decision step must
not act on the past as if it were now (sleeves warm up on live bars).

A failed read is handed to ``on_error`` (the daemon's error handler: breaker
``data_primary``, or ``dependency`` for the fallback's feed, reason codes, alerts) and that
symbol is asked again at the next poll; the feed itself never dies of a venue failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from quantbot.clock import Clock
from quantbot.domain.errors import VenueError
from quantbot.domain.values import Bar
from quantbot.ops.breakers import CircuitOpenError
from quantbot.venues.base import MarketDataVenue

T = TypeVar("T")
DATA = "data_primary"
Reader = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def _direct(_dependency: str, fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


class VenueFeed:
    def __init__(
        self,
        venue: MarketDataVenue,
        symbols: list[str],
        clock: Clock,
        *,
        poll_interval_s: float,
        read: Reader | None = None,
        on_error: Callable[[BaseException, str], None] | None = None,
        dependency: str = DATA,
    ) -> None:
        self._venue = venue
        self._symbols = list(symbols)
        self._clock = clock
        self._interval_s = poll_interval_s
        self._read = read or _direct
        self._on_error = on_error
        self.dependency = dependency  # the breaker (and provider) its reads go through
        self.last_ts: dict[str, int] = {}  # open time of the newest bar yielded, per symbol

    async def poll(self) -> list[list[Bar]]:
        """One round over every symbol: the new closed bars, grouped into batches by time."""
        fresh: list[Bar] = []
        for symbol in self._symbols:
            fresh.extend(await self._new_bars(symbol))
        by_time: dict[int, list[Bar]] = {}
        for bar in fresh:
            by_time.setdefault(bar.ts_ns, []).append(bar)
        return [by_time[ts] for ts in sorted(by_time)]

    async def _new_bars(self, symbol: str) -> list[Bar]:
        last = self.last_ts.get(symbol)
        since = None if last is None else last + 1

        def fetch() -> Awaitable[list[Bar]]:
            return self._venue.bars(symbol, since_ns=since)

        try:
            bars = await self._read(self.dependency, fetch)
        except CircuitOpenError:
            return []  # the breaker already said why; try again next poll
        except (VenueError, OSError) as exc:
            if self._on_error is not None:
                self._on_error(exc, self.dependency)
            return []
        bars = [b for b in bars if b.symbol == symbol and (last is None or b.ts_ns > last)]
        if last is None:
            bars = bars[-1:]  # see the module docstring: no acting on the past
        if bars:
            self.last_ts[symbol] = bars[-1].ts_ns
        return bars

    async def stream(self) -> AsyncIterator[list[Bar]]:
        while True:
            for batch in await self.poll():
                yield batch
            await self._clock.sleep(self._interval_s)
