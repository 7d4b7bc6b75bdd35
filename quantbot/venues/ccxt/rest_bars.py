"""The market-data fallback of a ccxt venue (``[providers] data_fallback = "venue_rest"``):
the same exchange's closed candles over REST from a second endpoint, ``data_fallback_url``
(Binance serves its public market data from https://data-api.binance.vision as well as from
its trading API), read by its own ccxt client.

Public data only: the client holds no credentials and signs nothing, so the fallback can
never place or see an order. Markets are loaded on the first read (not at start-up: a
fallback that is down must not keep the daemon from starting on its primary), so a run that
never needs the fallback never asks it anything. Errors are translated once, here, as the
primary's are (``venues.ccxt.errors``), and the caller reads through the ``data_fallback``
breaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

from quantbot.clock import Clock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.values import Bar
from quantbot.records.redact import redact_url
from quantbot.venues.ccxt import convert
from quantbot.venues.ccxt.client import make_exchange
from quantbot.venues.ccxt.errors import CCXT_ERRORS, translate

T = TypeVar("T")


class CcxtRestBars:
    """Closed candles of ``settings.exchange_id`` from ``base_url``, for ``VenueFeed``."""

    def __init__(self, settings: CcxtConfig, *, base_url: str, clock: Clock) -> None:
        self.name = settings.exchange_id
        self.base_url = base_url
        self._settings = settings
        self._clock = clock
        public = attrs.evolve(settings, base_url=base_url)
        self._exchange = make_exchange(public, api_key="", secret="", sandbox=False)
        self.bar_interval_s = float(self._exchange.parse_timeframe(settings.timeframe))
        self._interval_ns = round(self.bar_interval_s * 1e9)
        self._deadline_s = 2 * settings.timeout_s
        self._loaded = False

    def __repr__(self) -> str:
        return f"CcxtRestBars(exchange={self.name!r}, endpoint={redact_url(self.base_url)!r})"

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        try:
            async with asyncio.timeout(self._deadline_s):
                return await fn(*args)
        except CCXT_ERRORS as e:
            raise translate(e, venue=self.name) from e

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        """Closed candles only (by our clock), opening at or after ``since_ns``, ascending."""
        if not self._loaded:
            await self._call(self._exchange.load_markets)
            self._loaded = True
        since_ms = -(-since_ns // convert.NS_PER_MS) if since_ns is not None else None
        rows = await self._call(
            self._exchange.fetch_ohlcv, symbol, self._settings.timeframe, since_ms, limit
        )
        closed_by = self._clock.now_ns() - self._interval_ns  # opened by then: closed now
        start = since_ns or 0
        bars = [convert.bar_from_ohlcv(symbol, r, self.bar_interval_s, self.name) for r in rows]
        return sorted((b for b in bars if start <= b.ts_ns <= closed_by), key=lambda b: b.ts_ns)

    async def close(self) -> None:
        await self._exchange.close()
