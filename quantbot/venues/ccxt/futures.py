"""What ``CcxtVenue`` does differently on futures (USD-M linear perpetuals, ccxt
``defaultType`` "future"):

- ``connect()`` refuses an account in hedge mode (orders here carry no position side, so
  every one would be refused), reads each symbol's maximum leverage (its first notional
  bracket) and sets the leverage to ``max_leverage`` capped by that, never more; the
  instruments carry it (``Instrument.max_leverage``) and can be sold short.
- Positions are the exchange's position records: signed quantity, entry price.
- The account is the settle currency's futures wallet: cash is the wallet balance, equity
  adds the unrealised PnL, buying power is the available balance (margin not yet used by
  positions or resting orders).
- Trades are read in windows of at most 7 days: Binance refuses a longer range and reads
  only 7 days from a start time, so a long pause must not skip fills.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import ConfigError, VenueSchemaError
from quantbot.domain.values import Instrument, Position
from quantbot.venues.base import Account
from quantbot.venues.ccxt import convert, ordertypes
from quantbot.venues.ccxt.instruments import leverage_bound, load_instruments
from quantbot.venues.ccxt.side import Call, MarketSide, one_currency

WEEK_MS = 7 * 24 * 60 * 60 * 1000


class FuturesSide(MarketSide):
    """Linear perpetuals with leverage; long or short."""

    market_type = "future"
    order_types = ordertypes.FUTURES_TYPES
    reduce_only = True
    # Binance's DELETE allOpenOrders answers with a code, not the orders it cancelled.
    cancel_all_names_orders = False

    def __init__(
        self, exchange: Any, call: Call, settings: CcxtConfig, symbols: list[str], venue: str
    ) -> None:
        super().__init__(exchange, call, symbols, venue)
        self._settings = settings

    async def connect(self, markets: dict[str, Any]) -> dict[str, Instrument]:
        """Check the markets and the position mode, then set each symbol's leverage."""
        instruments = load_instruments(
            markets, self._symbols, self._exchange.precisionMode, self._venue,
            market_type="future",
        )  # fmt: skip
        self.currency = one_currency(markets, self._symbols, "settle", self._venue)
        if self._symbols and self._exchange.has.get("fetchPositionMode"):
            mode = await self._call(self._exchange.fetch_position_mode, self._symbols[0])
            if mode.get("hedged"):
                raise ConfigError(
                    f"{self._venue}: the futures account is in hedge mode (dual side "
                    "position); quantbot sends one-way orders: switch the account to one-way"
                )
        maxima = await self._market_maxima(markets)
        for symbol in self._symbols:
            bound = leverage_bound(self._settings.max_leverage, maxima[symbol], symbol)
            reply = await self._call(self._exchange.set_leverage, bound, symbol)
            answered = reply.get("leverage") if isinstance(reply, dict) else None
            if answered is not None and str(answered) != str(bound):
                raise VenueSchemaError(
                    f"{symbol}: asked for {bound}x leverage, the venue answered {reply!r}"[:200],
                    venue=self._venue,
                )
            instruments[symbol] = attrs.evolve(instruments[symbol], max_leverage=Decimal(bound))
        return instruments

    async def _market_maxima(self, markets: dict[str, Any]) -> dict[str, Any]:
        """Each symbol's most leverage: from its leverage tiers where the exchange lists
        them (Binance: the notional brackets), else from the market's limits."""
        if not self._exchange.has.get("fetchLeverageTiers"):
            return {
                s: ((markets[s].get("limits") or {}).get("leverage") or {}).get("max")
                for s in self._symbols
            }
        tiers = await self._call(self._exchange.fetch_leverage_tiers, self._symbols)
        return {
            s: max((t["maxLeverage"] for t in tiers.get(s) or () if t.get("maxLeverage")),
                   default=None)
            for s in self._symbols
        }  # fmt: skip

    async def positions(self) -> dict[str, Position]:
        """Non-zero positions of the configured symbols, short ones negative."""
        raws = await self._call(self._exchange.fetch_positions, self._symbols)
        return convert.futures_positions(raws, self._venue)

    async def account(self) -> Account:
        """The settle currency's wallet, with unrealised PnL, and its available margin."""
        balance = await self._call(self._exchange.fetch_balance)
        wallet, unrealized, available = convert.margin_balances(balance, self.currency, self._venue)
        return Account(
            cash=wallet, equity=wallet + unrealized, buying_power=available,
            currency=self.currency,
        )  # fmt: skip

    async def best_bid_ask(self, symbol: str) -> dict[str, Any]:
        """The book ticker (a futures 24h ticker has no bid or ask)."""
        tickers = await self._call(self._exchange.fetch_bids_asks, [symbol])
        ticker = tickers.get(symbol)
        if ticker is None:
            raise VenueSchemaError(f"{symbol}: no book ticker in the reply", venue=self._venue)
        return dict(ticker)

    def trade_windows(
        self, since_ms: int | None, now_ms: int
    ) -> list[tuple[int | None, int | None]]:
        """7-day ``(start, end)`` ranges from ``since_ms`` to now; the last one open-ended
        (the venue reads 7 days from its start). Without a start: the venue's last 7 days."""
        if since_ms is None:
            return [(None, None)]
        windows: list[tuple[int | None, int | None]] = []
        start = since_ms
        while start + WEEK_MS <= now_ms:
            windows.append((start, start + WEEK_MS - 1))
            start += WEEK_MS
        windows.append((start, None))
        return windows
