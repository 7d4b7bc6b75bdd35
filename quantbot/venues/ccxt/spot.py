"""What ``CcxtVenue`` does differently on spot markets: positions are the base-asset balances
of the configured symbols (no average price: balances do not carry one), cash is the common
quote currency's balance, and equity marks the positions at the last trade price."""

from __future__ import annotations

from typing import Any

from quantbot.domain.errors import VenueSchemaError
from quantbot.domain.values import Instrument, Position, to_decimal
from quantbot.venues.base import Account
from quantbot.venues.ccxt import convert, ordertypes
from quantbot.venues.ccxt.instruments import load_instruments
from quantbot.venues.ccxt.side import MarketSide, one_currency


class SpotSide(MarketSide):
    """Spot instruments (1x, not shortable), balances as positions."""

    market_type = "spot"
    order_types = ordertypes.SPOT_TYPES
    order_lists = frozenset({"OCO"})
    cancel_all_names_orders = True  # Binance's DELETE openOrders answers with the orders

    async def connect(self, markets: dict[str, Any]) -> dict[str, Instrument]:
        """Instruments of the spot markets; reads the balance once, so bad credentials fail
        at start."""
        instruments = load_instruments(
            markets, self._symbols, self._exchange.precisionMode, self._venue
        )
        self.currency = one_currency(markets, self._symbols, "quote", self._venue)
        await self._call(self._exchange.fetch_balance)
        return instruments

    async def positions(self) -> dict[str, Position]:
        """Non-zero base-asset balances of the configured symbols."""
        balance = await self._call(self._exchange.fetch_balance)
        return convert.spot_positions(balance, self._bases(), self._venue)

    def _bases(self) -> dict[str, str]:
        return {s: self._exchange.markets[s]["base"] for s in self._symbols}

    async def account(self) -> Account:
        """Cash and buying power in the quote currency; equity marks positions at last."""
        balance = await self._call(self._exchange.fetch_balance)
        cash = convert.balance_of(balance, self.currency, "total", self._venue)
        equity = cash
        for symbol, position in convert.spot_positions(balance, self._bases(), self._venue).items():
            ticker = await self._call(self._exchange.fetch_ticker, symbol)
            last = ticker.get("last") or ticker.get("close")
            if last is None:
                raise VenueSchemaError(f"{symbol}: ticker without a last price", venue=self._venue)
            equity += position.qty * to_decimal(last)
        free = convert.balance_of(balance, self.currency, "free", self._venue)
        return Account(cash=cash, equity=equity, buying_power=free, currency=self.currency)

    async def best_bid_ask(self, symbol: str) -> dict[str, Any]:
        """A ticker with ``bid`` and ``ask`` (spot's 24h ticker has them)."""
        return dict(await self._call(self._exchange.fetch_ticker, symbol))
