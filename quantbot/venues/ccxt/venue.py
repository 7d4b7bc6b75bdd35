"""``CcxtVenue``: a crypto exchange through ccxt's asyncio client, spot markets only.

One adapter for order entry and market data (``OrderVenue`` + ``MarketDataVenue``). Design
choices, each for a reason the OMS relies on:

- ccxt's own rate limiter is off (``enableRateLimit=False``): it would delay a submit
  silently inside the call, outside quantbot's rate gates, breakers and timing; a venue
  429/418 surfaces as ``VenueRateLimited`` with its ``Retry-After`` instead. ccxt does not
  retry requests; every call has ccxt's per-request timeout (``timeout_s``) and an outer
  deadline of twice that.
- Binance needs the symbol to find an order, the OMS asks by client id only: the adapter
  remembers the symbol of every client id it submitted or saw, and after a restart tries the
  configured symbols in turn (one request each, at most).
- ``Fill.seq`` is derived from the venue's trade time and trade id (``convert.ranked``), so it
  is the same after a restart; ``fill_id`` is ``<exchange>:<symbol>:<trade id>``.
- Spot positions are the base-asset balances of the configured symbols (no average price:
  balances do not carry one); cash is the common quote currency's balance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from quantbot.clock import Clock
from quantbot.config_venues import CcxtConfig
from quantbot.domain.errors import ConfigError, VenueSchemaError
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import (
    Bar,
    Fill,
    Instrument,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    SubmitOutcome,
    to_decimal,
)
from quantbot.venues.base import Account, Capabilities, MarketClock, SubmitResult
from quantbot.venues.ccxt import convert
from quantbot.venues.ccxt.client import make_exchange
from quantbot.venues.ccxt.errors import (
    CCXT_ERRORS,
    VenueDuplicateOrder,
    VenueOrderNotFound,
    translate,
)
from quantbot.venues.ccxt.instruments import SPOT_LEVERAGE, load_instruments

T = TypeVar("T")
_TRADES_PAGE = 1000
_ORDER_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT})


class CcxtVenue:
    """A ccxt exchange (``settings.exchange_id``) as a quantbot venue, spot only."""

    def __init__(
        self,
        settings: CcxtConfig,
        *,
        api_key: str,
        secret: str,
        clock: Clock,
        sandbox: bool,
        symbols: list[str],
    ) -> None:
        if settings.market_type != "spot":
            raise ConfigError(f"ccxt market_type {settings.market_type!r}: only spot is supported")
        self.name = settings.exchange_id
        self._settings = settings
        self._clock = clock
        self._symbols = list(symbols)
        self._sandbox = sandbox
        self._exchange = make_exchange(settings, api_key=api_key, secret=secret, sandbox=sandbox)
        self.bar_interval_s = float(self._exchange.parse_timeframe(settings.timeframe))
        self.capabilities = Capabilities(
            order_types=_ORDER_TYPES,
            time_in_force=frozenset({"GTC"}),
            max_leverage=SPOT_LEVERAGE,
            batch_cancel=bool(self._exchange.has.get("cancelAllOrders")),
            has_sessions=False,
        )
        self._deadline_s = 2 * settings.timeout_s
        self._instruments: dict[str, Instrument] = {}
        self._quote = ""
        self._symbol_of: dict[str, str] = {}  # client order id -> symbol
        self._cid_of: dict[str, str] = {}  # venue order id -> client order id

    def __repr__(self) -> str:
        url = self._settings.base_url or ("sandbox" if self._sandbox else "live")
        return f"CcxtVenue(exchange={self.name!r}, endpoint={url!r}, symbols={self._symbols!r})"

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """One SDK call under the deadline, its errors translated (cancellation propagates)."""
        try:
            async with asyncio.timeout(self._deadline_s):
                return await fn(*args)
        except CCXT_ERRORS as e:
            headers = self._exchange.last_response_headers
            raise translate(e, venue=self.name, headers=headers) from e

    # ------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Load markets (instruments) and read the account once, so bad credentials fail
        here (``VenueAuthError``) rather than at the first order."""
        markets = await self._call(self._exchange.load_markets)
        self._instruments = load_instruments(
            markets, self._symbols, self._exchange.precisionMode, self.name
        )
        quotes = {markets[s]["quote"] for s in self._symbols}
        if len(quotes) > 1:
            raise ConfigError(f"{self.name}: symbols must share one quote currency, got {quotes}")
        self._quote = quotes.pop() if quotes else ""
        await self._call(self._exchange.fetch_balance)

    async def close(self) -> None:
        await self._exchange.close()

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    # ------------------------------------------------------------ orders

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        """Send ``intent`` with its client id as ``newClientOrderId``. Unknown symbols and
        unsupported order types are refused here, without a request; a duplicate client id
        is answered by looking the order up. Failures raise the taxonomy's errors."""
        cid, symbol = intent.client_order_id, intent.symbol
        if symbol not in self._instruments:
            why = reason(ReasonCode.VENUE_UNKNOWN_SYMBOL, symbol=symbol)
            return SubmitResult(SubmitOutcome.REJECTED, None, why)
        if intent.order_type not in _ORDER_TYPES:
            why = reason(
                ReasonCode.VENUE_REJECTED,
                check="order_type",
                order_type=intent.order_type.value,
                supported=sorted(t.value for t in _ORDER_TYPES),
            )
            return SubmitResult(SubmitOutcome.REJECTED, None, why)
        amount = self._precise(self._exchange.amount_to_precision, symbol, intent.qty)
        price = None
        if intent.order_type is OrderType.LIMIT and intent.limit_price is not None:
            price = self._precise(self._exchange.price_to_precision, symbol, intent.limit_price)
        self._symbol_of[cid] = symbol
        try:
            raw = await self._call(
                self._exchange.create_order,
                symbol,
                intent.order_type.value.lower(),
                intent.side.value.lower(),
                float(amount),
                float(price) if price is not None else None,
                {"newClientOrderId": cid},
            )
        except VenueDuplicateOrder:
            return await self._resolve_duplicate(cid, symbol)
        order = self._order(raw, cid)
        if order.status is OrderStatus.REJECTED:
            why = reason(ReasonCode.VENUE_REJECTED, client_order_id=cid, status="REJECTED")
            return SubmitResult(SubmitOutcome.REJECTED, order, why)
        return SubmitResult(SubmitOutcome.ACCEPTED, order, None)

    def _precise(self, fn: Callable[[str, str], str], symbol: str, value: Decimal) -> Decimal:
        """``value`` rounded by the exchange's own rules (amounts truncate, prices round)."""
        try:
            return Decimal(fn(symbol, f"{value:f}"))
        except CCXT_ERRORS as e:  # e.g. an amount that truncates to zero: refused, not sent
            raise translate(e, venue=self.name) from e

    async def _resolve_duplicate(self, cid: str, symbol: str) -> SubmitResult:
        """The venue already holds ``cid``: look it up, never send it again."""
        found = await self._fetch_by_cid(cid, symbol)
        if found is None:
            raise VenueSchemaError(
                f"duplicate client order id {cid} reported, but no such order found",
                venue=self.name,
            )
        why = reason(ReasonCode.VENUE_DUPLICATE_CLIENT_ID, client_order_id=cid, resolved="lookup")
        return SubmitResult(SubmitOutcome.ACCEPTED, found, why)

    def _order(self, raw: dict[str, Any], cid: str | None = None) -> Order:
        return self._remember(convert.order_from_ccxt(raw, venue=self.name, client_order_id=cid))

    def _remember(self, order: Order) -> Order:
        self._symbol_of[order.client_order_id] = order.symbol
        if order.venue_order_id is not None:
            self._cid_of[order.venue_order_id] = order.client_order_id
        return order

    async def _fetch_by_cid(self, cid: str, symbol: str) -> Order | None:
        try:
            raw = await self._call(
                self._exchange.fetch_order, None, symbol, {"origClientOrderId": cid}
            )
        except VenueOrderNotFound:
            return None
        return self._order(raw, cid)

    async def order_by_client_id(self, client_order_id: str) -> Order | None:
        """The venue's order for ``client_order_id`` (the latest, if Binance reused it)."""
        known = self._symbol_of.get(client_order_id)
        for symbol in [known] if known else self._symbols:
            found = await self._fetch_by_cid(client_order_id, symbol)
            if found is not None:
                return found
        return None

    async def cancel(self, client_order_id: str) -> Order | None:
        """The order after the cancel; a finished order comes back unchanged, None if the
        venue never had it."""
        symbol = self._symbol_of.get(client_order_id)
        if symbol is None:
            found = await self.order_by_client_id(client_order_id)
            if found is None:
                return None
            symbol = found.symbol
        try:
            raw = await self._call(
                self._exchange.cancel_order, None, symbol, {"origClientOrderId": client_order_id}
            )
        except VenueOrderNotFound:  # Binance answers a finished order's cancel like this
            return await self._fetch_by_cid(client_order_id, symbol)
        return self._order(raw)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel the working orders of ``symbol`` (every configured symbol when None)."""
        canceled: list[Order] = []
        for each in [symbol] if symbol else self._symbols:
            try:
                raws = await self._call(self._exchange.cancel_all_orders, each)
            except VenueOrderNotFound:  # nothing was open there
                continue
            canceled.extend(self._order(r) for r in raws)
        return canceled

    async def open_orders(self) -> list[Order]:
        """Working orders of the configured symbols, ours or not."""
        orders: list[Order] = []
        for symbol in self._symbols:
            raws = await self._call(self._exchange.fetch_open_orders, symbol)
            orders.extend(self._order(r) for r in raws)
        return orders

    # ------------------------------------------------------------ account and fills

    async def positions(self) -> dict[str, Position]:
        """Non-zero base-asset balances of the configured symbols."""
        balance = await self._call(self._exchange.fetch_balance)
        return convert.spot_positions(balance, self._bases(), self.name)

    def _bases(self) -> dict[str, str]:
        return {s: self._exchange.markets[s]["base"] for s in self._symbols}

    async def account(self) -> Account:
        """Cash and buying power in the quote currency; equity marks positions at last."""
        balance = await self._call(self._exchange.fetch_balance)
        cash = convert.balance_of(balance, self._quote, "total", self.name)
        equity = cash
        for symbol, position in convert.spot_positions(balance, self._bases(), self.name).items():
            ticker = await self._call(self._exchange.fetch_ticker, symbol)
            last = ticker.get("last") or ticker.get("close")
            if last is None:
                raise VenueSchemaError(f"{symbol}: ticker without a last price", venue=self.name)
            equity += position.qty * to_decimal(last)
        free = convert.balance_of(balance, self._quote, "free", self.name)
        return Account(cash=cash, equity=equity, buying_power=free, currency=self._quote)

    async def fills_since(self, seq: int) -> list[Fill]:
        """Trades of the configured symbols with ``seq`` above ``seq``, ascending."""
        since_ms = seq // convert.SEQ_PER_MS if seq > 0 else None
        trades: list[dict[str, Any]] = []
        for symbol in self._symbols:
            trades.extend(await self._trades(symbol, since_ms))
        fills = []
        for trade_seq, trade in convert.ranked(trades):
            if trade_seq > seq:
                cid = await self._client_id_of(trade)
                fills.append(
                    convert.fill_from_trade(
                        trade, seq=trade_seq, client_order_id=cid, quote=self._quote,
                        venue=self.name,
                    )
                )  # fmt: skip
        return fills

    async def _trades(self, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
        """Every trade of ``symbol`` from ``since_ms`` (inclusive), paging by time."""
        seen: dict[str, dict[str, Any]] = {}
        while True:
            page = await self._call(self._exchange.fetch_my_trades, symbol, since_ms, _TRADES_PAGE)
            fresh = [t for t in page if str(t.get("id")) not in seen]
            seen.update((str(t.get("id")), t) for t in fresh)
            if len(page) < _TRADES_PAGE or not fresh:
                return list(seen.values())
            since_ms = max(int(t["timestamp"]) for t in page)

    async def _client_id_of(self, trade: dict[str, Any]) -> str:
        """Binance trades name the order, not the client id: look the order up once."""
        order_id = str(trade.get("order"))
        if order_id not in self._cid_of:
            try:
                raw = await self._call(self._exchange.fetch_order, order_id, trade["symbol"])
            except VenueOrderNotFound:
                return f"{self.name}-order-{order_id}"
            self._order(raw)
        return self._cid_of[order_id]

    # ------------------------------------------------------------ market data

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        """Closed candles only: one whose interval has not ended by our clock is dropped."""
        since_ms = -(-since_ns // convert.NS_PER_MS) if since_ns is not None else None
        rows = await self._call(
            self._exchange.fetch_ohlcv, symbol, self._settings.timeframe, since_ms, limit
        )
        interval_ns = round(self.bar_interval_s * 1e9)
        now_ns = self._clock.now_ns()
        bars = [convert.bar_from_ohlcv(symbol, r, self.bar_interval_s, self.name) for r in rows]
        return sorted(
            (b for b in bars if b.ts_ns + interval_ns <= now_ns and b.ts_ns >= (since_ns or 0)),
            key=lambda b: b.ts_ns,
        )

    async def quote(self, symbol: str) -> Quote:
        """Best bid and ask from the exchange's ticker."""
        ticker = await self._call(self._exchange.fetch_ticker, symbol)
        return convert.quote_from_ticker(symbol, ticker, self._clock.now_ns(), self.name)

    async def market_clock(self) -> MarketClock:
        """Crypto never closes."""
        return MarketClock(is_open=True)
