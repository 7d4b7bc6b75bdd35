"""The stateful book behind the Binance loopback server: markets, a seeded price path,
balances, orders and trades, with Binance's own error codes.

Prices move only when the book is told to (``advance_to``/``tick``), one 1m candle at a time,
so tests are deterministic: a market order fills at once at the current ask or bid, a
resting LIMIT fills at its price when a closed candle crosses it; orders fill whole, never
partially. Commission is charged in
the quote asset on both sides (as if paid from quote), so base balances equal the sum of the
fills' quantities and position reconciliation stays exact.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs

MINUTE_MS = 60_000
DEFAULT_START_MS = 1_704_153_600_000  # 2024-01-02T00:00:00Z
_Q8 = Decimal("1e-8")


class BinanceApiError(Exception):
    """A refusal in Binance's shape: HTTP status plus ``{"code": ..., "msg": ...}``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg = status, code, msg

    def payload(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceApiError:
    return BinanceApiError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


@attrs.frozen(slots=True)
class Market:
    symbol: str  # Binance id, e.g. BTCUSDT
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_notional: Decimal
    start_price: Decimal


def _usdt(base: str, step: str, price: int) -> Market:
    return Market(f"{base}USDT", base, "USDT", Decimal("0.01"), Decimal(step), Decimal(5),
                  Decimal(price))  # fmt: skip


DEFAULT_MARKETS = (_usdt("BTC", "0.00001", 42000), _usdt("ETH", "0.0001", 2300),
                   _usdt("SOL", "0.001", 100))  # fmt: skip


@attrs.define
class Kline:
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@attrs.define
class BookOrder:
    order_id: int
    symbol: str
    cid: str
    side: str
    type: str
    tif: str
    qty: Decimal
    price: Decimal | None
    time_ms: int
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    update_ms: int = 0
    locked: Decimal = Decimal(0)  # in the asset the order reserves (quote for BUY, base for SELL)


@attrs.frozen(slots=True)
class NewOrder:
    """A parsed ``POST /api/v3/order``."""

    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT
    qty: Decimal
    price: Decimal | None  # LIMIT only
    tif: str  # GTC | IOC | FOK for LIMIT, "" for MARKET
    cid: str | None


@attrs.frozen(slots=True)
class HiddenOrder:
    """An order the venue took but shows nobody yet (eventual consistency): no look-up,
    cancel, open-orders list or trade list knows it until it is revealed."""

    request: NewOrder
    taken_ms: int  # book time when it was taken
    reveal_at_wall_ms: int
    backdated: bool  # True: it executed when taken (its trades carry that old time)


@attrs.frozen(slots=True)
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool
    realized_pnl: Decimal = Decimal(0)  # futures: what closing part of a position realised


class BinanceBook:
    """Everything the server knows; Binance ids (``BTCUSDT``) throughout."""

    def __init__(
        self,
        *,
        markets: tuple[Market, ...] = DEFAULT_MARKETS,
        seed: int = 7,
        start_ms: int = DEFAULT_START_MS,
        history_minutes: int = 1000,
        balances: dict[str, Decimal] | None = None,
        fee_rate: Decimal = Decimal("0.001"),
    ) -> None:
        self.markets = {m.symbol: m for m in markets}
        self.fee_rate = fee_rate
        self.now_ms = start_ms
        self._forming_ms = start_ms - start_ms % MINUTE_MS
        self._rngs = {s: random.Random(f"{seed}:{s}") for s in self.markets}
        self.klines: dict[str, list[Kline]] = {s: [] for s in self.markets}
        self.balances: dict[str, list[Decimal]] = {}
        for m in markets:
            self.balances.setdefault(m.base, [Decimal(0), Decimal(0)])
            self.balances.setdefault(m.quote, [Decimal(0), Decimal(0)])
        for asset, amount in (balances or {"USDT": Decimal(100_000)}).items():
            self.balances[asset] = [Decimal(amount), Decimal(0)]
        self.orders: dict[int, BookOrder] = {}
        # Test knobs for the quote: a (bid, ask) served instead of the touch (crossed or
        # locked), and how many ms the 24h ticker's time lags the book (a stale quote).
        self.touch_override: dict[str, tuple[Decimal, Decimal]] = {}
        self.ticker_lag_ms: dict[str, int] = {}
        self.trades: list[Trade] = []
        # Orders taken but not yet visible (``hide``): placed when ``reveal`` is told to.
        self.hidden: list[HiddenOrder] = []
        self.refused_hidden: list[tuple[NewOrder, BinanceApiError]] = []
        self._next_order_id = 1
        self._next_trade_id: dict[str, int] = dict.fromkeys(self.markets, 1)
        self._last_event_ms = 0
        first = self._forming_ms - history_minutes * MINUTE_MS
        for symbol in self.markets:
            for i in range(history_minutes):
                self._close_candle(symbol, first + i * MINUTE_MS)

    # ------------------------------------------------------------ prices

    def market(self, symbol: str | None) -> Market:
        if not symbol:
            raise mandatory("symbol")
        if symbol not in self.markets:
            raise BinanceApiError(400, -1121, "Invalid symbol.")
        return self.markets[symbol]

    def price(self, symbol: str) -> Decimal:
        """The last close: what the market trades at during the forming minute."""
        candles = self.klines[symbol]
        return candles[-1].close if candles else self.markets[symbol].start_price

    def bid_ask(self, symbol: str) -> tuple[Decimal, Decimal]:
        if symbol in self.touch_override:
            return self.touch_override[symbol]
        tick = self.markets[symbol].tick
        price = self.price(symbol)
        return max(price - tick, tick), price + tick

    def forming(self, symbol: str) -> Kline:
        """The candle still forming now (Binance lists it last in /klines)."""
        price = self.price(symbol)
        return Kline(self._forming_ms, price, price, price, price, Decimal(0))

    def _close_candle(self, symbol: str, open_ms: int) -> Kline:
        market, rng = self.markets[symbol], self._rngs[symbol]
        open_ = self.price(symbol)
        close = _to_tick(open_ * Decimal(repr(math.exp(rng.gauss(0.0, 0.001)))), market.tick)
        wiggle_up = Decimal(repr(1 + abs(rng.gauss(0.0, 0.0005))))
        wiggle_down = Decimal(repr(1 - abs(rng.gauss(0.0, 0.0005))))
        high = _to_tick(max(open_, close) * wiggle_up, market.tick, ROUND_CEILING)
        low = max(_to_tick(min(open_, close) * wiggle_down, market.tick, ROUND_FLOOR), market.tick)
        volume = (Decimal(repr(rng.uniform(1.0, 20.0))) / market.step).to_integral() * market.step
        candle = Kline(open_ms, open_, high, low, max(close, market.tick), volume)
        self.klines[symbol].append(candle)
        return candle

    def advance_to(self, now_ms: int) -> list[Trade]:
        """Move the clock; every candle that closes on the way fills the LIMITs it crosses."""
        trades: list[Trade] = []
        while self._forming_ms + MINUTE_MS <= now_ms:
            for symbol in self.markets:
                candle = self._close_candle(symbol, self._forming_ms)
                trades.extend(self._match_resting(symbol, candle))
            self._forming_ms += MINUTE_MS
        self.now_ms = max(self.now_ms, now_ms)
        return trades

    def tick(self, minutes: int = 1) -> list[Trade]:
        return self.advance_to(self._forming_ms + minutes * MINUTE_MS)

    def _match_resting(self, symbol: str, candle: Kline) -> list[Trade]:
        trades: list[Trade] = []
        for order in self.open_orders(symbol):
            price = order.price or Decimal(0)  # only LIMIT orders rest
            if candle.low <= price if order.side == "BUY" else candle.high >= price:
                # All fills of one candle share its last millisecond, like one matching event.
                last_ms = candle.open_ms + MINUTE_MS - 1
                when = trades[0].time_ms if trades else self._event_ms(last_ms)
                trades.append(self._execute(order, price, when, is_maker=True))
        return trades

    def _event_ms(self, at_ms: int | None = None) -> int:
        """Event times never repeat or go back: a later event never shares an earlier's ms."""
        self._last_event_ms = max(self.now_ms if at_ms is None else at_ms, self._last_event_ms + 1)
        return self._last_event_ms

    # ------------------------------------------------------------ orders

    def new_order(self, req: NewOrder) -> tuple[BookOrder, list[Trade]]:
        """Place ``req``: filled at once when marketable, else resting (GTC) or expired."""
        market, side, price = self.market(req.symbol), req.side, req.price
        qty, cid = req.qty, req.cid or f"srv-{self._next_order_id}"
        bid, ask = self.bid_ask(market.symbol)
        touch = ask if side == "BUY" else bid
        self._check_filters(market, qty, price if price is not None else touch)
        if any(o.cid == cid for o in self.open_orders(market.symbol)):
            # Binance: a client id is unique among open orders (reusable once filled).
            raise self._duplicate_error()
        marketable = price is None or (price >= ask if side == "BUY" else price <= bid)
        fill_price = touch if marketable or price is None else price
        self._reserve(market, side, qty, fill_price, dry_run=True)
        now = self._event_ms()
        order = BookOrder(
            self._next_order_id, market.symbol, cid, side, req.type, req.tif, qty, price, now,
            update_ms=now,
        )  # fmt: skip
        self._next_order_id += 1
        self.orders[order.order_id] = order
        if marketable:
            return order, [self._execute(order, fill_price, now, is_maker=False)]
        if req.tif != "GTC":
            order.status = "EXPIRED"
            return order, []
        order.locked = self._reserve(market, side, qty, fill_price, dry_run=False)
        return order, []

    def _reserve(
        self, market: Market, side: str, qty: Decimal, price: Decimal, *, dry_run: bool
    ) -> Decimal:
        """Move what the order needs from free to locked (check only when ``dry_run``)."""
        asset = market.quote if side == "BUY" else market.base
        need = q8(qty * price * (1 + self.fee_rate)) if side == "BUY" else qty
        balance = self.balances[asset]
        if balance[0] < need:
            raise BinanceApiError(
                400, -2010, "Account has insufficient balance for requested action."
            )
        if not dry_run:
            balance[0] -= need
            balance[1] += need
        return need

    def _execute(self, order: BookOrder, price: Decimal, when: int, *, is_maker: bool) -> Trade:
        market = self.markets[order.symbol]
        quote_qty = q8(order.qty * price)
        fee = q8(quote_qty * self.fee_rate)
        order.executed, order.cum_quote = order.qty, quote_qty
        order.status, order.update_ms = "FILLED", when
        realized = self._settle(order, price, quote_qty, fee)
        order.locked = Decimal(0)
        trade_id = self._next_trade_id[order.symbol]
        self._next_trade_id[order.symbol] += 1
        trade = Trade(
            trade_id, order.order_id, order.symbol, order.side, price, order.qty, fee,
            market.quote, when, is_maker, realized,
        )  # fmt: skip
        self.trades.append(trade)
        return trade

    def _settle(
        self, order: BookOrder, price: Decimal, quote_qty: Decimal, fee: Decimal
    ) -> Decimal:
        """Move the balances the (whole) fill of ``order`` changes, releasing what it had
        ``locked``; returns the PnL it realised (spot: none, the assets change hands)."""
        market = self.markets[order.symbol]
        base, quote = self.balances[market.base], self.balances[market.quote]
        if order.side == "BUY":
            quote[1] -= order.locked
            quote[0] += order.locked - quote_qty - fee
            base[0] += order.qty
        else:
            base[1] -= order.locked
            base[0] += order.locked - order.qty
            quote[0] += quote_qty - fee
        return Decimal(0)

    def hide(self, req: NewOrder, *, reveal_at_wall_ms: int, backdated: bool) -> None:
        """Take ``req`` (its filters checked) without showing it to anyone yet."""
        market = self.market(req.symbol)
        self._check_filters(market, req.qty, req.price or self.bid_ask(market.symbol)[1])
        self.hidden.append(HiddenOrder(req, self.now_ms, reveal_at_wall_ms, backdated))

    def reveal(self, wall_ms: int | None = None) -> list[BookOrder]:
        """Place the hidden orders due by ``wall_ms`` (all when None), as taken: a market
        order fills; a backdated one carries the time it was taken, older than trades the
        venue has shown since."""
        due = [h for h in self.hidden if wall_ms is None or h.reveal_at_wall_ms <= wall_ms]
        self.hidden = [h for h in self.hidden if h not in due]
        placed = []
        for hidden in due:
            first_trade = len(self.trades)
            try:
                order, _trades = self.new_order(hidden.request)
            except BinanceApiError as e:  # refused when it is placed: it never existed
                self.refused_hidden.append((hidden.request, e))
                continue
            if hidden.backdated:
                order.time_ms = order.update_ms = hidden.taken_ms
                self.trades[first_trade:] = [
                    attrs.evolve(t, time_ms=hidden.taken_ms) for t in self.trades[first_trade:]
                ]
            placed.append(order)
        return placed

    def find_order(self, symbol: str, order_id: str | None, cid: str | None) -> BookOrder | None:
        """By orderId, else the latest order with that client id (ids are reusable)."""
        if order_id:
            order = self.orders.get(int(order_id)) if order_id.isdigit() else None
            return order if order is not None and order.symbol == symbol else None
        matches = [o for o in self.orders.values() if o.symbol == symbol and o.cid == cid]
        return matches[-1] if matches else None

    def cancel(self, order: BookOrder) -> BookOrder:
        self._release(order)
        order.locked = Decimal(0)
        order.status, order.update_ms = "CANCELED", self._event_ms()
        return order

    def _release(self, order: BookOrder) -> None:
        """Give back what a resting order reserved (it is cancelled)."""
        market = self.markets[order.symbol]
        asset = market.quote if order.side == "BUY" else market.base
        self.balances[asset][1] -= order.locked
        self.balances[asset][0] += order.locked

    def open_orders(self, symbol: str | None = None) -> list[BookOrder]:
        return [
            o
            for o in self.orders.values()
            if o.status in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o.symbol)
        ]

    def _check_filters(self, market: Market, qty: Decimal, price: Decimal) -> None:
        """Refuse what the symbol's filters refuse, with the spot API's codes."""
        if price % market.tick:
            raise BinanceApiError(400, -1013, "Filter failure: PRICE_FILTER")
        if qty % market.step or qty < market.step:
            raise BinanceApiError(400, -1013, "Filter failure: LOT_SIZE")
        if qty * price < market.min_notional:
            raise BinanceApiError(400, -1013, "Filter failure: NOTIONAL")

    def _duplicate_error(self) -> BinanceApiError:
        return BinanceApiError(400, -2010, "Duplicate order sent.")


def _to_tick(value: Decimal, tick: Decimal, rounding: str = "ROUND_HALF_EVEN") -> Decimal:
    return (value / tick).quantize(Decimal(1), rounding) * tick


def q8(value: Decimal) -> Decimal:
    return value.quantize(_Q8)
