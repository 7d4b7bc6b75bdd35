"""What spot and futures sides of ``CcxtVenue`` share: the SDK call they are given, the one
currency account values are in, and reading one symbol's trades page by page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quantbot.domain.errors import ConfigError
from quantbot.domain.values import OrderType

# The venue's SDK call: under its deadline, vendor errors translated.
Call = Callable[..., Awaitable[Any]]
TRADES_PAGE = 1000


def one_currency(markets: dict[str, Any], symbols: list[str], key: str, venue: str) -> str:
    """The one ``key`` ("quote", "settle") every configured symbol shares: account values
    are stated in it."""
    found = {markets[s][key] for s in symbols}
    if len(found) > 1:
        raise ConfigError(f"{venue}: symbols must share one {key} currency, got {found}")
    return found.pop() if found else ""


class MarketSide:
    """The part of the venue that depends on the market type (see ``SpotSide``,
    ``FuturesSide``)."""

    market_type = ""
    # What the market takes (``Capabilities``): order types, order lists, reduce-only.
    order_types: frozenset[OrderType] = frozenset()
    order_lists: frozenset[str] = frozenset()
    reduce_only = False

    def __init__(self, exchange: Any, call: Call, symbols: list[str], venue: str) -> None:
        self._exchange, self._call = exchange, call
        self._symbols, self._venue = symbols, venue
        self.currency = ""  # what account values and fees are stated in; set at connect()

    def trade_windows(
        self, since_ms: int | None, now_ms: int
    ) -> list[tuple[int | None, int | None]]:
        """``(start, end)`` ranges to read trades in; here one, from ``since_ms`` on."""
        return [(since_ms, None)]

    async def trades(self, symbol: str, since_ms: int | None, now_ms: int) -> list[dict[str, Any]]:
        """Every trade of ``symbol`` from ``since_ms`` (inclusive), window by window."""
        seen: dict[str, dict[str, Any]] = {}
        for start, end in self.trade_windows(since_ms, now_ms):
            await self._pages(symbol, start, {} if end is None else {"endTime": end}, seen)
        return list(seen.values())

    async def _pages(
        self, symbol: str, since_ms: int | None, params: dict[str, Any], seen: dict[str, Any]
    ) -> None:
        """Trades from ``since_ms`` into ``seen`` (by id), paging by time."""
        while True:
            page = await self._call(
                self._exchange.fetch_my_trades, symbol, since_ms, TRADES_PAGE, params
            )
            fresh = [t for t in page if str(t.get("id")) not in seen]
            seen.update((str(t.get("id")), t) for t in fresh)
            if len(page) < TRADES_PAGE or not fresh:
                return
            since_ms = max(int(t["timestamp"]) for t in page)
