"""Alpaca's stock bar history for ``quantbot data download`` (``marketdata.download``'s
``HistorySource``): alpaca-py's ``StockBarsRequest`` a page at a time (``start``, ``end``,
``limit``; the SDK follows ``page_token`` itself when a page is larger than Alpaca's), and
the instruments file from the assets, as the trading adapter reads them (``venue.py``:
``price_increment`` or cent ticks, whole shares, Alpaca's $1 minimum order value, shortable
when the asset is shortable and easy to borrow).

The SDK is synchronous: every call runs on one worker thread with a request timeout and no
SDK retries (``executor``); vendor errors leave as ``VenueError``s.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import partial
from typing import Any

from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient

from quantbot.domain.errors import DataError
from quantbot.venues.alpaca.convert import ns
from quantbot.venues.alpaca.errors import NotFound
from quantbot.venues.alpaca.executor import SdkExecutor, bounded

VENUE = "alpaca"
_UNITS = {
    "m": (TimeFrameUnit.Minute, 59),
    "h": (TimeFrameUnit.Hour, 23),
    "d": (TimeFrameUnit.Day, 1),
}


def alpaca_timeframe(timeframe: str) -> TimeFrame:
    """``1m``..``59m``, ``1h``..``23h`` or ``1d`` (the download's spelling) as Alpaca's."""
    found = re.fullmatch(r"([1-9]\d*)([mhd])", timeframe)
    if found is None or int(found[1]) > _UNITS[found[2]][1]:
        raise ValueError(f"--timeframe {timeframe!r}: alpaca takes 1m..59m, 1h..23h or 1d")
    return TimeFrame(int(found[1]), _UNITS[found[2]][0])


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class AlpacaHistory:
    venue = VENUE
    page_limit = 10_000  # Alpaca's largest page
    sessions = True  # no bars at night or at weekends: those are not gaps

    def __init__(
        self,
        *,
        api_key: str,
        secret: str,
        paper: bool = True,
        base_url: str = "",
        data_url: str = "",
        feed: str = "iex",
        adjustment: str = "all",
        timeout_s: float = 10.0,
    ) -> None:
        self._trading = bounded(
            TradingClient(api_key, secret, paper=paper, url_override=base_url or None), timeout_s
        )
        self._data = bounded(
            StockHistoricalDataClient(api_key, secret, url_override=data_url or None), timeout_s
        )
        self._feed, self._adjustment = DataFeed(feed), Adjustment(adjustment)
        self._sdk = SdkExecutor(VENUE)

    async def instruments(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for symbol in symbols:
            try:
                asset = await self._sdk.call(partial(self._trading.get_asset, symbol.upper()))
            except NotFound as e:
                raise DataError(f"--symbols {symbol}: not an Alpaca asset") from e
            found[str(asset.symbol)] = {
                "tick_size": str(asset.price_increment or "0.01"),
                "lot_size": "1",
                "min_notional": "1",
                "quote": "USD",
                "shortable": bool(asset.shortable and asset.easy_to_borrow),
                "venue": VENUE,
                "source": "alpaca assets",
            }
        return found

    async def fetch(
        self, symbol: str, timeframe: str, since_ms: int, until_ms: int, limit: int
    ) -> list[list[Any]]:
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=alpaca_timeframe(timeframe),
            start=_utc(since_ms),
            end=_utc(until_ms),
            limit=limit,
            feed=self._feed,
            adjustment=self._adjustment,
        )
        barset = await self._sdk.call(partial(self._data.get_stock_bars, request))
        bars = barset.data.get(symbol, [])
        return [
            [ns(b.timestamp) // 1_000_000, b.open, b.high, b.low, b.close, b.volume] for b in bars
        ]

    async def close(self) -> None:
        await self._sdk.close(self._trading, self._data)
