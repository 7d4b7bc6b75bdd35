"""The margin account behind the loopback Binance USD-M futures server: the spot book's price
path, orders and trades (``binance_book``), settled into a USDT wallet and signed positions
instead of asset balances.

One-way position mode and cross margin, as a fresh Binance account has them. Each symbol has
a leverage (set through ``POST /fapi/v1/leverage``, at most its ``max_leverage``); the
initial margin of a position is its notional at the mark price divided by that leverage. An
order may add only as much exposure as the available balance (wallet + unrealised PnL −
initial margin of positions and resting orders) carries at that leverage, else Binance's
-2019 "Margin is insufficient."; the part of an order that reduces a position needs no
margin. Fills realise PnL on the part that closes, and pay commission in USDT from the wallet.

Conditional orders live in the Algo Service, as on Binance since December 2025 (``POST
/fapi/v1/algoOrder``; ``/fapi/v1/order`` refuses their types): STOP_MARKET,
TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT and TRAILING_STOP_MARKET wait in ``algo_orders``
(their own id space) until a candle triggers them (``binance_trigger``); the trigger places
an order in the matching engine under the same client id (its ``actualOrderId``), with no
margin checked before. A reduce-only order never adds to a position: refused (-2022) when
placed against no position or the wrong side, and when it executes it fills at most what
the position holds, the rest expires.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import attrs

from quantbot.testing import binance_trigger as trig
from quantbot.testing.binance_book import (
    DEFAULT_START_MS,
    BinanceApiError,
    BinanceBook,
    BookOrder,
    Kline,
    Market,
    NewOrder,
    Trade,
    q8,
)

ZERO = Decimal(0)


def _usdm(base: str, tick: str, step: str, min_notional: int, price: int) -> Market:
    return Market(f"{base}USDT", base, "USDT", Decimal(tick), Decimal(step),
                  Decimal(min_notional), Decimal(price))  # fmt: skip


# Binance's own increments and minimum notionals for these perpetuals.
FUTURES_MARKETS = (
    _usdm("BTC", "0.10", "0.001", 100, 42000),
    _usdm("ETH", "0.01", "0.001", 20, 2300),
    _usdm("SOL", "0.0100", "1", 5, 100),
)
# The most leverage each symbol allows (its first notional bracket); others get the default.
MAX_LEVERAGE = {"BTCUSDT": 20}
DEFAULT_MAX_LEVERAGE = 10


@attrs.define
class FuturesPosition:
    qty: Decimal = ZERO  # signed: below zero is short
    entry: Decimal = ZERO
    update_ms: int = 0


class FuturesBook(BinanceBook):
    """A USDT-margined futures account; Binance ids (``BTCUSDT``) throughout."""

    def __init__(
        self,
        *,
        markets: tuple[Market, ...] = FUTURES_MARKETS,
        seed: int = 7,
        start_ms: int = DEFAULT_START_MS,
        history_minutes: int = 1000,
        wallet: Decimal = Decimal(100_000),
        fee_rate: Decimal = Decimal("0.0004"),
        max_leverage: dict[str, int] | None = None,
    ) -> None:
        super().__init__(
            markets=markets, seed=seed, start_ms=start_ms, history_minutes=history_minutes,
            fee_rate=fee_rate,
        )  # fmt: skip
        self.wallet = Decimal(wallet)
        limits = MAX_LEVERAGE if max_leverage is None else max_leverage
        self.max_leverage = {s: limits.get(s, DEFAULT_MAX_LEVERAGE) for s in self.markets}
        # A new account starts at 20x where the symbol allows it (Binance's default).
        self.leverage = {s: min(20, cap) for s, cap in self.max_leverage.items()}
        self.positions: dict[str, FuturesPosition] = {}
        self.dual_side = False  # hedge mode: what the adapter refuses to trade in
        self.algo_orders: dict[int, BookOrder] = {}  # algoId -> conditional order
        self._next_algo_id = 1_000_000_000_001  # an id space of its own, as Binance's

    # ------------------------------------------------------------ the Algo Service

    def new_algo(self, req: NewOrder) -> BookOrder:
        """Take a conditional order; refused (-2021) when the market has reached its stop
        (or a trailing order's activation price) already."""
        market = self.market(req.symbol)
        last = self.price(market.symbol)
        cid = req.cid or f"srv-algo-{self._next_algo_id}"
        self._check_filters(market, req.qty, req.price or req.stop or req.activation or last)
        if any(o.cid == cid for o in self.open_algos(market.symbol)):
            raise self._duplicate_error()
        if req.stop is not None and trig.crossed(req.type, req.side, req.stop, last, last):
            raise self._would_trigger()
        if req.activation is not None and (
            req.activation <= last if req.side == "SELL" else req.activation >= last
        ):
            raise self._would_trigger()
        now = self._event_ms()
        algo = BookOrder(
            self._next_algo_id, market.symbol, cid, req.side, req.type, req.tif or "GTC",
            req.qty, req.price, now, update_ms=now, stop=req.stop, working=False,
            reduce_only=req.reduce_only, callback=req.callback, activation=req.activation,
            best=last if req.type == trig.TRAILING and req.activation is None else None,
        )  # fmt: skip
        self._next_algo_id += 1
        self.algo_orders[algo.order_id] = algo
        return algo

    def open_algos(self, symbol: str | None = None) -> list[BookOrder]:
        return [o for o in self.algo_orders.values()
                if o.status == "NEW" and symbol in (None, o.symbol)]  # fmt: skip

    def find_algo(self, algo_id: str | None, cid: str | None) -> BookOrder | None:
        if algo_id:
            return self.algo_orders.get(int(algo_id)) if algo_id.isdigit() else None
        matches = [o for o in self.algo_orders.values() if o.cid == cid]
        return matches[-1] if matches else None

    def cancel_algo(self, algo: BookOrder) -> BookOrder:
        algo.status, algo.update_ms = "CANCELED", self._event_ms()
        return algo

    def algo_status(self, algo: BookOrder) -> str:
        """TRIGGERED while the order it placed works, FINISHED once that is over."""
        child = self.orders.get(algo.actual_order_id or 0)
        if (
            algo.status == "TRIGGERED"
            and child is not None
            and child.status not in ("NEW", "PARTIALLY_FILLED")
        ):
            return "FINISHED"
        return algo.status

    def _resting(self, symbol: str) -> list[BookOrder]:
        return [*self.open_algos(symbol), *self.open_orders(symbol)]

    def _triggered(
        self, order: BookOrder, at: Decimal, candle: Kline, stamp: Callable[[], int]
    ) -> Trade | None:
        """An algo order triggered: it places its order in the matching engine (a LIMIT for
        STOP / TAKE_PROFIT, else a MARKET filled at the stop or the gap)."""
        if self.algo_orders.get(order.order_id) is not order:
            return super()._triggered(order, at, candle, stamp)
        market = self.markets[order.symbol]
        limit = order.type in trig.LIMIT_ON_TRIGGER
        price = order.price if limit else trig.fill_price(order.type, order.side, at, candle.open)
        order.status, order.update_ms = "TRIGGERED", order.trigger_ms
        try:
            need = self._reserve(market, order.side, order.qty, price or at, dry_run=True)
        except BinanceApiError:  # margin is checked only now
            order.status = "REJECTED"
            return None
        child = BookOrder(
            self._next_order_id, order.symbol, order.cid, order.side,
            "LIMIT" if limit else "MARKET", "GTC" if limit else "", order.qty,
            order.price if limit else None, order.trigger_ms, update_ms=order.trigger_ms,
            reduce_only=order.reduce_only, orig_type=order.type,
        )  # fmt: skip
        self._next_order_id += 1
        self.orders[child.order_id] = child
        order.actual_order_id = child.order_id
        if limit and not (candle.low <= child.price if child.side == "BUY"
                          else candle.high >= child.price):  # fmt: skip
            child.locked = need
            return None
        return self._execute(child, price or at, stamp(), is_maker=limit)

    def _would_trigger(self) -> BinanceApiError:
        return BinanceApiError(400, -2021, "Order would immediately trigger.")

    # ------------------------------------------------------------ reduce-only

    def _check_new(self, market: Market, req: NewOrder, cid: str) -> None:
        super()._check_new(market, req, cid)
        if req.reduce_only and not self._reducible(market.symbol, req.side):
            raise BinanceApiError(400, -2022, "ReduceOnly Order is rejected.")

    def _reducible(self, symbol: str, side: str) -> Decimal:
        """How much an order on ``side`` can reduce ``symbol``'s position."""
        held = self.position(symbol).qty
        return max(-held, ZERO) if side == "BUY" else max(held, ZERO)

    def _fill_qty(self, order: BookOrder) -> Decimal:
        if not order.reduce_only:
            return order.qty
        return min(order.qty, self._reducible(order.symbol, order.side))

    def latest_ms(self) -> int:
        """The book's now, or the latest event if one was stamped after it (events in the
        same millisecond get consecutive stamps)."""
        return max(self.now_ms, self._last_event_ms)

    # ------------------------------------------------------------ margin

    def set_leverage(self, symbol: str, leverage: int) -> int:
        """Set ``symbol``'s leverage; returns the largest notional it allows."""
        symbol = self.market(symbol).symbol
        if not 1 <= leverage <= self.max_leverage[symbol]:
            raise BinanceApiError(400, -4028, f"Leverage {leverage} is not valid")
        self.leverage[symbol] = leverage
        return 50_000_000 // leverage

    def position(self, symbol: str) -> FuturesPosition:
        return self.positions.get(symbol) or FuturesPosition()

    def unrealized(self, symbol: str) -> Decimal:
        pos = self.position(symbol)
        return q8((self.price(symbol) - pos.entry) * pos.qty)

    def position_margin(self, symbol: str) -> Decimal:
        """Initial margin of ``symbol``'s position: its notional at the mark / leverage."""
        return q8(abs(self.position(symbol).qty) * self.price(symbol) / self.leverage[symbol])

    def order_margin(self, symbol: str | None = None) -> Decimal:
        return sum((o.locked for o in self.open_orders(symbol)), ZERO)

    def available(self) -> Decimal:
        """What new exposure may use: margin balance less every initial margin."""
        used = sum((self.position_margin(s) for s in self.markets), ZERO) + self.order_margin()
        return max(self.margin_balance() - used, ZERO)

    def margin_balance(self) -> Decimal:
        return self.wallet + sum((self.unrealized(s) for s in self.markets), ZERO)

    # ------------------------------------------------------------ hooks of BinanceBook

    def _reserve(
        self, market: Market, side: str, qty: Decimal, price: Decimal, *, dry_run: bool
    ) -> Decimal:
        """The initial margin the order's opening part needs (a resting order holds it in
        ``locked``; nothing moves in the wallet, so ``dry_run`` changes nothing here)."""
        held = self.position(market.symbol).qty
        signed = qty if side == "BUY" else -qty
        opening = max(abs(held + signed) - abs(held), ZERO)
        need = q8(opening * price / self.leverage[market.symbol])
        if need > self.available():
            raise BinanceApiError(400, -2019, "Margin is insufficient.")
        return need

    def _settle(
        self, order: BookOrder, price: Decimal, quote_qty: Decimal, fee: Decimal
    ) -> Decimal:
        """Move the position by the fill; the closing part realises PnL into the wallet."""
        pos = self.positions.setdefault(order.symbol, FuturesPosition())
        qty = order.executed
        signed = qty if order.side == "BUY" else -qty
        realized = ZERO
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            total = pos.qty + signed
            pos.entry = q8((pos.entry * abs(pos.qty) + price * qty) / abs(total))
        else:
            closing = min(qty, abs(pos.qty))
            realized = q8((price - pos.entry) * closing * (1 if pos.qty > 0 else -1))
            total = pos.qty + signed
            if total == 0:
                pos.entry = ZERO
            elif (total > 0) != (pos.qty > 0):  # flipped: the rest opened at this price
                pos.entry = price
        pos.qty = total
        pos.update_ms = order.update_ms
        self.wallet += realized - fee
        if pos.qty == 0:
            del self.positions[order.symbol]
        return realized

    def _release(self, order: BookOrder) -> None:
        """A cancelled order's margin is free again by dropping ``locked`` (the caller)."""

    def _check_filters(self, market: Market, qty: Decimal, price: Decimal) -> None:
        if price % market.tick:
            raise BinanceApiError(400, -4014, "Price not increased by tick size.")
        if qty % market.step or qty < market.step:
            raise BinanceApiError(
                400, -1111, "Precision is over the maximum defined for this asset."
            )
        if qty * price < market.min_notional:
            raise BinanceApiError(
                400, -4164, f"Order's notional must be no smaller than {market.min_notional} "
                "(unless you choose reduce only).",
            )  # fmt: skip

    def _duplicate_error(self) -> BinanceApiError:
        return BinanceApiError(400, -4116, "ClientOrderId is duplicated.")
