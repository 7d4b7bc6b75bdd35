"""The stateful book behind the Binance loopback server: markets, a seeded price path,
balances, orders and trades, with Binance's own error codes.

Prices move only when the book is told to (``advance_to``/``tick``, or ``trade_through`` for
a candle of a given range), one 1m candle at a time, so tests are deterministic: a market
order fills at once at the current ask or bid, a resting LIMIT fills at its price when a
closed candle crosses it; orders fill whole, never partially. Conditional orders
(STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT, ...) wait for a candle that reaches their stop
(``binance_trigger``), then work as a LIMIT at their price; one that would trigger at once
is refused, as Binance refuses it. The legs of an order list (OCO: ``new_order_list``)
share one reservation; when one triggers or fills the other expires. Commission is charged in
the quote asset on both sides (as if paid from quote), so base balances equal the sum of the
fills' quantities and position reconciliation stays exact.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs

from quantbot.testing import binance_trigger as trig

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
    stop: Decimal | None = None  # stopPrice / triggerPrice of a conditional order
    working: bool = True  # False until a conditional order triggers (Binance's isWorking)
    list_id: int = -1  # the order list (OCO) it is a leg of
    reduce_only: bool = False  # futures
    orig_type: str = ""  # futures: the conditional type a triggered order was placed by
    callback: Decimal | None = None  # TRAILING_STOP_MARKET: percent
    activation: Decimal | None = None  # TRAILING_STOP_MARKET: price it starts trailing at
    best: Decimal | None = None  # trailing: best price since active; None: not active yet
    actual_order_id: int | None = None  # futures algo order: the order its trigger placed
    trigger_ms: int = 0


@attrs.frozen(slots=True)
class NewOrder:
    """A parsed ``POST /api/v3/order``."""

    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT | LIMIT_MAKER | STOP_LOSS_LIMIT | ... (``binance_trigger``)
    qty: Decimal
    price: Decimal | None  # the limit kinds only
    tif: str  # GTC | IOC | FOK for LIMIT, "" for MARKET
    cid: str | None
    stop: Decimal | None = None  # the conditional kinds
    reduce_only: bool = False  # futures
    callback: Decimal | None = None  # TRAILING_STOP_MARKET
    activation: Decimal | None = None  # TRAILING_STOP_MARKET


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
        self.lists: dict[int, tuple[str, list[int]]] = {}  # orderListId -> (list cid, legs)
        self._next_list_id = 1
        # The next candle of a symbol, as a test asked for it (``trade_through``).
        self._scripted: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
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

    def trade_through(
        self, symbol: str, low: Decimal, high: Decimal, close: Decimal
    ) -> list[Trade]:
        """Close the next candle of ``symbol`` over ``low..high``, ending at ``close``; it
        opens at the last price, or at the nearer end of the range when the market gaps.
        Resting and conditional orders match against it."""
        symbol = self.market(symbol).symbol
        self._scripted[symbol] = (Decimal(low), Decimal(high), Decimal(close))
        return self.tick(1)

    def _close_candle(self, symbol: str, open_ms: int) -> Kline:
        market, rng = self.markets[symbol], self._rngs[symbol]
        open_ = self.price(symbol)
        if symbol in self._scripted:
            low, high, close = self._scripted.pop(symbol)
            open_ = min(max(open_, low), high)  # a gap opens at the nearer end
            candle = Kline(open_ms, open_, high, low, close, Decimal(1))
            self.klines[symbol].append(candle)
            return candle
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
        last_ms = candle.open_ms + MINUTE_MS - 1

        def stamp() -> int:
            # All fills of one candle share its last millisecond, like one matching event.
            return trades[0].time_ms if trades else self._event_ms(last_ms)

        # Conditional orders first: when one candle reaches both legs of an OCO, the stop
        # wins (the venue cannot tell the order within a candle; the cautious reading).
        for order in sorted(self._resting(symbol), key=lambda o: (o.working, o.order_id)):
            if order.status in ("NEW", "PARTIALLY_FILLED"):
                trade = self._match_one(order, candle, stamp)
                if trade is not None:
                    trades.append(trade)
        return trades

    def _resting(self, symbol: str) -> list[BookOrder]:
        """The orders a closed candle of ``symbol`` may trigger or fill."""
        return self.open_orders(symbol)

    def _match_one(self, order: BookOrder, candle: Kline, stamp: Callable[[], int]) -> Trade | None:
        if not order.working:
            at = self._trigger_at(order, candle)
            if at is None:
                return None
            self._siblings_done(order)
            order.trigger_ms = stamp()
            return self._triggered(order, at, candle, stamp)
        price = order.price or Decimal(0)  # a working order that rests is a limit
        if candle.low <= price if order.side == "BUY" else candle.high >= price:
            self._siblings_done(order)
            return self._execute(order, price, stamp(), is_maker=True)
        return None

    def _trigger_at(self, order: BookOrder, candle: Kline) -> Decimal | None:
        """The stop ``order`` triggered at on ``candle``, None if it did not."""
        if order.type == trig.TRAILING:
            return self._trail(order, candle)
        stop = order.stop or Decimal(0)
        return stop if trig.crossed(order.type, order.side, stop, candle.low, candle.high) else None

    def _trail(self, order: BookOrder, candle: Kline) -> Decimal | None:
        tick, rate = self.markets[order.symbol].tick, order.callback or Decimal(0)
        if order.best is None:  # waiting for its activation price to trade
            act = order.activation or Decimal(0)
            if not (candle.high >= act if order.side == "SELL" else candle.low <= act):
                return None
            order.best = act
        else:
            stop = trig.trailing_stop(order.side, order.best, rate, tick)
            if trig.crossed(trig.TRAILING, order.side, stop, candle.low, candle.high):
                return stop
        order.best = trig.better(order.side, order.best, candle.low, candle.high)
        stop = trig.trailing_stop(order.side, order.best, rate, tick)
        return (
            stop
            if trig.crossed(trig.TRAILING, order.side, stop, candle.close, candle.close)
            else None
        )

    def _triggered(
        self, order: BookOrder, at: Decimal, candle: Kline, stamp: Callable[[], int]
    ) -> Trade | None:
        """``order`` triggered at ``at``: a limit kind now rests at its price (and fills if
        the candle crossed it), a market kind fills."""
        order.working = True
        if order.type in trig.LIMIT_ON_TRIGGER:
            price = order.price or Decimal(0)
            if candle.low <= price if order.side == "BUY" else candle.high >= price:
                return self._execute(order, price, stamp(), is_maker=True)
            return None
        price = trig.fill_price(order.type, order.side, at, candle.open)
        return self._execute(order, price, stamp(), is_maker=False)

    def _siblings_done(self, order: BookOrder) -> None:
        """One leg of an order list triggered or fills: the others expire, and their share
        of the list's reservation moves to it."""
        if order.list_id == -1:
            return
        for other_id in self.lists[order.list_id][1]:
            other = self.orders[other_id]
            if other is order or other.status not in ("NEW", "PARTIALLY_FILLED"):
                continue
            order.locked, other.locked = order.locked + other.locked, Decimal(0)
            other.status, other.update_ms = "EXPIRED", self._event_ms()

    def _event_ms(self, at_ms: int | None = None) -> int:
        """Event times never repeat or go back: a later event never shares an earlier's ms."""
        self._last_event_ms = max(self.now_ms if at_ms is None else at_ms, self._last_event_ms + 1)
        return self._last_event_ms

    # ------------------------------------------------------------ orders

    def new_order(
        self, req: NewOrder, *, list_id: int = -1, reserve_at: Decimal | None = None
    ) -> tuple[BookOrder, list[Trade]]:
        """Place ``req``: filled at once when marketable, else resting (GTC) or expired. A
        conditional order rests untriggered; one whose stop the market has reached already
        is refused. ``reserve_at``: the price its reservation is made at (an order list's
        first leg reserves for both); zero: it reserves nothing."""
        market, side, price = self.market(req.symbol), req.side, req.price
        qty, cid = req.qty, req.cid or f"srv-{self._next_order_id}"
        bid, ask = self.bid_ask(market.symbol)
        touch = ask if side == "BUY" else bid
        conditional = req.type in trig.CONDITIONAL
        at = price if price is not None else req.stop if req.stop is not None else touch
        self._check_filters(market, qty, at)
        self._check_new(market, req, cid)
        marketable = not conditional and (
            price is None or (price >= ask if side == "BUY" else price <= bid)
        )
        if marketable and req.type == "LIMIT_MAKER":
            raise BinanceApiError(400, -2010, "Order would immediately match and take.")
        fill_price = touch if marketable or price is None else price
        reserve = fill_price if reserve_at is None else reserve_at
        if reserve:
            self._reserve(market, side, qty, reserve, dry_run=True)
        now = self._event_ms()
        order = BookOrder(
            self._next_order_id, market.symbol, cid, side, req.type, req.tif, qty, price, now,
            update_ms=now, stop=req.stop, working=not conditional, list_id=list_id,
            reduce_only=req.reduce_only, callback=req.callback, activation=req.activation,
        )  # fmt: skip
        if req.type == trig.TRAILING and req.activation is None:
            order.best = self.price(market.symbol)  # trails from the price at placement
        self._next_order_id += 1
        self.orders[order.order_id] = order
        if marketable:
            trade = self._execute(order, fill_price, now, is_maker=False)
            return order, [trade] if trade is not None else []
        if req.tif not in ("GTC", ""):
            order.status = "EXPIRED"
            return order, []
        if reserve:
            order.locked = self._reserve(market, side, qty, reserve, dry_run=False)
        return order, []

    def _check_new(self, market: Market, req: NewOrder, cid: str) -> None:
        """Refuse a client id already open, and a conditional order the market has already
        triggered (Binance refuses it rather than fill it at once)."""
        if any(o.cid == cid for o in self.open_orders(market.symbol)):
            # Binance: a client id is unique among open orders (reusable once filled).
            raise self._duplicate_error()
        if req.stop is not None:
            last = self.price(market.symbol)
            if trig.crossed(req.type, req.side, req.stop, last, last):
                raise self._would_trigger()

    def _would_trigger(self) -> BinanceApiError:
        return BinanceApiError(400, -2010, "Order would trigger immediately.")

    def new_order_list(
        self, list_cid: str | None, above: NewOrder, below: NewOrder
    ) -> tuple[int, list[BookOrder]]:
        """An OCO (``POST /api/v3/orderList/oco``): a LIMIT_MAKER and a STOP_LOSS(_LIMIT),
        above and below the last price as the side wants (SELL: the limit above, the stop
        below; BUY the other way round), one reservation for both."""
        market, side, qty = self.market(above.symbol), above.side, above.qty
        limit, stop = (above, below) if side == "SELL" else (below, above)
        if limit.type != "LIMIT_MAKER" or stop.type not in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
            raise BinanceApiError(400, -1116, "Invalid orderType.")
        last = self.price(market.symbol)
        limit_price, stop_price = limit.price or Decimal(0), stop.stop or Decimal(0)
        if not (
            limit_price > last > stop_price if side == "SELL" else limit_price < last < stop_price
        ):
            raise BinanceApiError(
                400, -2010, "The relationship of the prices for the orders is not correct."
            )
        for leg in (above, below):
            self._check_filters(market, qty, leg.price or leg.stop or last)
            self._check_new(market, leg, leg.cid or "")
        if above.cid is not None and above.cid == below.cid:
            raise self._duplicate_error()
        worst = max(limit_price, stop.price or stop_price)
        self._reserve(market, side, qty, worst, dry_run=True)
        list_id = self._next_list_id
        self._next_list_id += 1
        legs = [self.new_order(above, list_id=list_id, reserve_at=worst)[0],
                self.new_order(below, list_id=list_id, reserve_at=Decimal(0))[0]]  # fmt: skip
        self.lists[list_id] = (list_cid or f"srv-list-{list_id}", [o.order_id for o in legs])
        return list_id, legs

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

    def _execute(
        self, order: BookOrder, price: Decimal, when: int, *, is_maker: bool
    ) -> Trade | None:
        """Fill ``order`` (as much as ``_fill_qty`` allows; what is left expires)."""
        market = self.markets[order.symbol]
        qty = self._fill_qty(order)
        if not qty:
            self._release(order)
            order.locked = Decimal(0)
            order.status, order.update_ms = "EXPIRED", when
            return None
        quote_qty = q8(qty * price)
        fee = q8(quote_qty * self.fee_rate)
        order.executed, order.cum_quote = qty, quote_qty
        order.status, order.update_ms = "FILLED" if qty == order.qty else "EXPIRED", when
        realized = self._settle(order, price, quote_qty, fee)
        order.locked = Decimal(0)
        trade_id = self._next_trade_id[order.symbol]
        self._next_trade_id[order.symbol] += 1
        trade = Trade(
            trade_id, order.order_id, order.symbol, order.side, price, qty, fee,
            market.quote, when, is_maker, realized,
        )  # fmt: skip
        self.trades.append(trade)
        return trade

    def _fill_qty(self, order: BookOrder) -> Decimal:
        """How much of ``order`` may fill now (spot: all of it)."""
        return order.qty

    def _settle(
        self, order: BookOrder, price: Decimal, quote_qty: Decimal, fee: Decimal
    ) -> Decimal:
        """Move the balances the fill of ``order`` (``executed``) changes, releasing what it
        had ``locked``; returns the PnL it realised (spot: none, the assets change hands)."""
        market = self.markets[order.symbol]
        base, quote = self.balances[market.base], self.balances[market.quote]
        if order.side == "BUY":
            quote[1] -= order.locked
            quote[0] += order.locked - quote_qty - fee
            base[0] += order.executed
        else:
            base[1] -= order.locked
            base[0] += order.locked - order.executed
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
        """Cancel ``order``; a leg of an order list cancels the whole list (as Binance)."""
        legs = self.lists[order.list_id][1] if order.list_id != -1 else [order.order_id]
        now = self._event_ms()
        for leg in (self.orders[i] for i in legs):
            if leg is order or leg.status in ("NEW", "PARTIALLY_FILLED"):
                self._release(leg)
                leg.locked = Decimal(0)
                leg.status, leg.update_ms = "CANCELED", now
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
