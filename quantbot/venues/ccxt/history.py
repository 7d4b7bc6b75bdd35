"""A ccxt exchange's bar history for ``quantbot data download`` (``marketdata.download``'s
``HistorySource``): ``fetch_ohlcv`` pages (``since``, ``limit``, ``params={"until": ...}``) and
the instruments file from ``load_markets``' precision and limits.

Public endpoints only: no key is sent. ccxt's own rate limiter is on (``enableRateLimit``,
the exchange's ``rateLimit`` between requests), since a download makes many requests in a
row; a 429 or 418 leaves as ``VenueRateLimited`` with its Retry-After, which the download's
bounded read retry honours. The real exchange, never its testnet (whose bars are not the
market's), unless ``base_url`` points it elsewhere (a proxy, the loopback server).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import ConfigError, DataError
from quantbot.venues.ccxt.client import make_exchange
from quantbot.venues.ccxt.errors import CCXT_ERRORS, translate
from quantbot.venues.ccxt.instruments import instrument_from_market

# The most candles one request returns, by exchange (ccxt states no such figure).
_PAGE_LIMITS = {"binance": 1000}
_SOURCES = {"binance": "binance exchangeInfo"}


def decimal_text(value: Decimal) -> str:
    """``Decimal("1E+1")`` -> ``"10"``, ``Decimal("0.010")`` -> ``"0.01"``."""
    return format(value.normalize(), "f")


class CcxtHistory:
    sessions = False  # crypto trades around the clock: every missing bar is a gap

    def __init__(self, exchange_id: str = "binance", *, base_url: str = "",
                 timeout_s: float = 10.0) -> None:  # fmt: skip
        settings = CcxtConfig(exchange_id=exchange_id, base_url=base_url, timeout_s=timeout_s)
        self.venue = exchange_id
        self.page_limit = _PAGE_LIMITS.get(exchange_id, 500)
        self._exchange = make_exchange(settings, api_key="", secret="", sandbox=False)
        self._exchange.enableRateLimit = True

    @staticmethod
    def timeframes(exchange_id: str = "binance") -> tuple[str, ...]:
        """The timeframes the exchange serves (ccxt states them without a request)."""
        return tuple(getattr(ccxt, exchange_id)().timeframes or ())

    async def instruments(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        try:
            await self._exchange.load_markets()
        except CCXT_ERRORS as e:
            raise self._translated(e) from e
        found: dict[str, dict[str, Any]] = {}
        for asked in symbols:
            try:
                market = self._exchange.market(asked)
            except ccxt.BadSymbol as e:
                raise DataError(
                    f"--symbols {asked}: not a market on {self.venue} (spell it like BTC/USDT)"
                ) from e
            found[str(market["symbol"])] = self._entry(market)
        return found

    def _entry(self, market: dict[str, Any]) -> dict[str, Any]:
        try:
            inst = instrument_from_market(market, self._exchange.precisionMode, self.venue)
        except ConfigError as e:
            raise DataError(f"{self.venue}: {e}") from e
        return {
            "tick_size": decimal_text(inst.tick_size),
            "lot_size": decimal_text(inst.lot_size),
            "min_notional": decimal_text(inst.min_notional),
            "quote": str(market.get("quote") or ""),
            "shortable": inst.shortable,
            "venue": self.venue,
            "source": _SOURCES.get(self.venue, f"{self.venue} markets (ccxt load_markets)"),
        }

    async def fetch(
        self, symbol: str, timeframe: str, since_ms: int, until_ms: int, limit: int
    ) -> list[list[Any]]:
        try:
            rows = await self._exchange.fetch_ohlcv(
                symbol, timeframe, since=since_ms, limit=limit, params={"until": until_ms}
            )
        except CCXT_ERRORS as e:
            raise self._translated(e) from e
        return [list(r) for r in rows]

    def _translated(self, e: BaseException) -> Exception:
        headers = getattr(self._exchange, "last_response_headers", None)
        return translate(e, venue=self.venue, headers=headers)

    async def close(self) -> None:
        await self._exchange.close()
