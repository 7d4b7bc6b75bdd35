"""The state behind the Alpaca loopback server: one paper account, its orders, positions and
fills, and a seeded price path per symbol, on a clock that moves only when told to.

Time moves in whole minutes (``tick``). While the market is open each symbol has a forming
bar for the current minute; a tick closes it, fills what that bar allows, and starts the next
one. Orders submitted at minute t therefore fill when bar t closes: market orders at its open,
limit orders when its range reaches the limit (at the limit or the open, whichever is better
for the order); stop, stop-limit and trailing-stop orders and OCO pairs as
``alpaca_orders`` says (an OCO's stop-loss leg is ``held`` until elected, the first leg to
fill cancels the other, canceling one cancels both; ``trade_through`` makes a minute trade a
chosen range). Everything is a pure function of the seed, the start time and the calls made,
so tests get the same prices and fills on every run.

An IOC order (``time_in_force: "ioc"``, Alpaca's immediate-or-cancel) never waits for a bar:
at the submit it takes what is marketable at the touch (a buy at the ask, a sell at the bid,
the quote the data API serves: ``touch``), a market one at any price, a limit one only at or
better than its limit, up to ``fill_cap`` shares; the rest is canceled at once, status
``"canceled"`` as Alpaca reports an IOC's unfilled part (its docs: "Any unfilled portion of
the order is canceled"), so one that finds nothing is ``canceled`` with ``filled_qty`` 0. An
IOC submitted while the market is closed is queued (``accepted``) and meets the touch at the
next open. Real Alpaca answers the POST before the order is routed (``pending_new``) and
executes it a moment later; ``pending_replies`` makes the POST reply show that, while every
later read shows the outcome.

Requests the real Alpaca refuses are refused with its status, code and message
(``BookError``); the HTTP layer (``quantbot.testing.alpaca``) only renders them.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs

from quantbot.testing import alpaca_orders as types
from quantbot.testing.alpaca_orders import CENT, BookError
from quantbot.venues.calendar import ExchangeCalendar, build_calendar

__all__ = ["CENT", "AlpacaBook", "BarRow", "BookError", "BookOrder", "PositionRow", "make_id"]

NS_PER_MIN = 60 * 1_000_000_000
DEFAULT_SYMBOLS = ("AAPL", "MSFT", "IBM")
_START_PRICES = {"AAPL": Decimal("190.00"), "MSFT": Decimal("370.00"), "IBM": Decimal("160.00")}
_IDS = uuid.UUID("8d0c5a4e-2f1b-4c8e-9a77-5b1f0e3c2d19")  # namespace of every id it makes
# "held": the passive (stop-loss) leg of an OCO, working at Alpaca until it is elected.
OPEN_STATUSES = frozenset({"new", "accepted", "partially_filled", "held"})
_SESSION_NS = 390 * NS_PER_MIN  # 6.5 hours, 09:30-16:00 ET
_DAY_NS = 1440 * NS_PER_MIN


def make_id(kind: str, n: object) -> str:
    """A UUID (the SDK insists on them) that depends only on what it names."""
    return str(uuid.uuid5(_IDS, f"{kind}-{n}"))


@attrs.frozen(slots=True)
class BarRow:
    t: int  # open time, ns
    o: Decimal
    h: Decimal
    low: Decimal
    c: Decimal
    v: int


@attrs.define
class BookOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    type: str  # "market" | "limit" | "stop" | "stop_limit" | "trailing_stop"
    time_in_force: str
    limit_price: Decimal | None
    created_ns: int
    status: str
    updated_ns: int
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    filled_ns: int | None = None
    canceled_ns: int | None = None
    # A trailing stop's is the current one, moved with ``hwm`` (its high-water mark).
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    hwm: Decimal | None = None
    order_class: str = ""  # "" (simple) | "oco"
    legs: list[str] = attrs.field(factory=list)  # an OCO parent's: its stop-loss leg's id
    parent_id: str | None = None  # an OCO leg's: its parent (the take-profit)
    elected: bool = False  # a stop-limit whose stop traded: a limit from then on

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@attrs.define
class PositionRow:
    qty: Decimal = Decimal(0)
    avg: Decimal = Decimal(0)


class AlpacaBook:
    """A paper account at a simulated Alpaca. Not thread-safe; the server runs it on one loop."""

    def __init__(
        self,
        *,
        start_ns: int,
        symbols: tuple[str, ...] = DEFAULT_SYMBOLS,
        seed: int = 0,
        cash: Decimal = Decimal(100_000),
        multiplier: Decimal = Decimal(2),
        history_minutes: int = 120,
        fill_cap: Decimal | None = None,
        calendar: ExchangeCalendar | None = None,
    ) -> None:
        self.now_ns = start_ns - start_ns % NS_PER_MIN
        # The sessions the clock rolls through and GET /v2/calendar serves: New York's.
        self.calendar = calendar or build_calendar("XNYS", "America/New_York")
        self.symbols = tuple(symbols)
        self.cash = cash
        self.multiplier = multiplier
        self.fill_cap = fill_cap  # most shares one order fills per bar (None: all of it)
        # The POST /v2/orders reply shows the order as Alpaca first acknowledges it
        # ("pending_new", nothing filled) instead of its state after the submit.
        self.pending_replies = False
        # It starts open (tests begin mid-session); the session it is in, if any, closes as
        # the calendar says, and the next open is the calendar's.
        self.is_open = True
        upcoming = self.calendar.clock(self.now_ns)
        self.next_close_ns = (
            upcoming.next_close_ns
            if self.calendar.is_open(self.now_ns) and upcoming.next_close_ns
            else self.now_ns + _SESSION_NS
        )
        self.next_open_ns = upcoming.next_open_ns or self.now_ns + _DAY_NS
        self.orders: dict[str, BookOrder] = {}  # by id, in submission order
        self.by_client_id: dict[str, str] = {}
        self.positions: dict[str, PositionRow] = {}
        self.activities: list[dict[str, str]] = []
        self.refused_cancels: set[str] = set()  # client ids whose cancel the venue refuses
        self.bars: dict[str, list[BarRow]] = {s: [] for s in self.symbols}
        self.forming: dict[str, BarRow] = {}
        self._rng = {s: random.Random(f"{seed}:{s}") for s in self.symbols}
        self._last = {s: _START_PRICES.get(s, Decimal(100)) for s in self.symbols}
        for k in range(history_minutes, 0, -1):
            for s in self.symbols:
                self.bars[s].append(self._next_bar(s, self.now_ns - k * NS_PER_MIN))
        self._open_bars()

    # ------------------------------------------------------------ prices and time

    def _next_bar(self, symbol: str, ts: int) -> BarRow:
        rng = self._rng[symbol]
        o = self._last[symbol]
        c = max(CENT, _cents(o * Decimal(1 + rng.gauss(0, 0.0015))))
        h = _cents(max(o, c) * Decimal(1 + abs(rng.gauss(0, 0.0005))))
        low = max(CENT, _cents(min(o, c) * Decimal(1 - abs(rng.gauss(0, 0.0005)))))
        self._last[symbol] = c
        return BarRow(ts, o, h, low, c, rng.randint(1_000, 5_000))

    def _open_bars(self) -> None:
        if self.is_open:
            self.forming = {s: self._next_bar(s, self.now_ns) for s in self.symbols}

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move ``symbol`` to ``price`` now: the forming bar restarts there (tests use this to
        make a limit cross, or not, for certain)."""
        self._last[symbol] = price
        if self.is_open:
            self.forming[symbol] = self._next_bar(symbol, self.now_ns)

    def price(self, symbol: str) -> Decimal:
        """The last trade price: the forming bar's open, or the last close when closed."""
        bar = self.forming.get(symbol)
        return bar.o if bar is not None else self.bars[symbol][-1].c

    def touch(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(bid, ask): a cent either side of the last price (the latest quote's prices)."""
        price = self.price(symbol)
        return price - CENT, price + CENT

    def tick(self, minutes: int = 1) -> None:
        """Move the clock ``minutes`` forward, closing bars and filling what they allow."""
        for _ in range(minutes):
            closed = self.forming
            self.forming = {}
            for symbol, bar in closed.items():
                self.bars[symbol].append(bar)
            self.now_ns += NS_PER_MIN
            if closed:
                self._match(closed)
            self._roll_session()
            self._open_bars()
            self._sweep_queued_ioc()

    def _roll_session(self) -> None:
        """At the close or the open; the next ones from the calendar (weekends, holidays,
        early closes and daylight-saving time as New York keeps them)."""
        if self.is_open and self.now_ns >= self.next_close_ns:
            self.is_open = False
            upcoming = self.calendar.clock(self.now_ns)
            self.next_open_ns = upcoming.next_open_ns or self.now_ns + _DAY_NS
            self.next_close_ns = upcoming.next_close_ns or self.next_open_ns + _SESSION_NS
            for order in self.orders.values():  # DAY orders end with the session
                if order.is_open and order.time_in_force == "day":
                    order.status, order.updated_ns = "expired", self.now_ns
        elif not self.is_open and self.now_ns >= self.next_open_ns:
            self.is_open = True
            upcoming = self.calendar.clock(self.now_ns)
            self.next_close_ns = upcoming.next_close_ns or self.now_ns + _SESSION_NS
            self.next_open_ns = upcoming.next_open_ns or self.now_ns + _DAY_NS

    def set_clock(
        self, is_open: bool, next_open_ns: int | None = None, next_close_ns: int | None = None
    ) -> None:
        """Open or close the market now; the next transitions default to a regular day."""
        self.is_open = is_open
        if is_open:
            self.next_close_ns = next_close_ns or self.now_ns + _SESSION_NS
            self.next_open_ns = next_open_ns or self.now_ns + _DAY_NS
        else:
            self.next_open_ns = next_open_ns or self.now_ns + 60 * NS_PER_MIN
            self.next_close_ns = next_close_ns or self.next_open_ns + _SESSION_NS
        self.forming = {}
        self._open_bars()
        self._sweep_queued_ioc()

    # ------------------------------------------------------------ orders

    def submit(self, body: dict[str, Any]) -> BookOrder:
        """Accept an order (POST /v2/orders) or raise the ``BookError`` Alpaca would answer.
        An OCO answers with its parent (the take-profit); its stop-loss leg is in ``legs``."""
        cid = str(body.get("client_order_id") or make_id("cid", len(self.orders)))
        if cid in self.by_client_id:
            raise BookError(422, 40010001, "client_order_id must be unique")
        symbol = str(body.get("symbol", ""))
        if symbol not in self._rng:
            raise BookError(422, 40010001, f'asset "{symbol}" not found')
        side, kind, tif = body.get("side"), body.get("type"), body.get("time_in_force")
        if side not in ("buy", "sell"):
            raise BookError(422, 40010001, "side must be buy or sell")
        if tif not in ("day", "gtc", "ioc"):
            raise BookError(422, 40010001, "invalid time_in_force")
        order_class = str(body.get("order_class") or "simple")
        if order_class not in ("simple", "oco"):
            raise BookError(422, 40010001, f"order_class {order_class} is not supported here")
        qty = types.number(body.get("qty"), "qty")
        if qty <= 0 or qty != qty.to_integral_value():
            raise BookError(422, 40010001, "qty must be a positive whole number of shares")
        qty = qty.quantize(Decimal(1))  # alpaca-py sends 10.0; Alpaca shows "10"
        base = {"client_order_id": cid, "symbol": symbol, "side": side, "qty": qty}
        base["time_in_force"] = tif
        if order_class == "oco":
            return self._submit_oco(body, base)
        terms = types.terms(body, str(kind), str(tif))
        reserve = terms.limit_price or terms.stop_price or self.price(symbol)
        if side == "buy" and qty * reserve > self.buying_power():
            raise BookError(403, 40310000, "insufficient buying power")
        order = self._new_order(base, str(kind), terms)
        if order.type == "trailing_stop":
            order.hwm = self.price(symbol)
            self._trail(order)
        if order.time_in_force == "ioc" and self.is_open:
            self._immediate_or_cancel(order)
        return order

    def _new_order(
        self, base: dict[str, Any], kind: str, terms: types.Terms, **extra: object
    ) -> BookOrder:
        """A new working order from ``base`` (client id, symbol, side, qty, time in force)."""
        order = BookOrder(
            id=make_id("order", len(self.orders)),
            **base,
            type=kind,
            limit_price=terms.limit_price,
            created_ns=self.now_ns,
            status="new" if self.is_open else "accepted",
            updated_ns=self.now_ns,
            stop_price=terms.stop_price,
            trail_percent=terms.trail_percent,
            trail_price=terms.trail_price,
            **extra,  # type: ignore[arg-type]
        )
        self.orders[order.id] = order
        self.by_client_id[order.client_order_id] = order.id
        return order

    def _submit_oco(self, body: dict[str, Any], base: dict[str, Any]) -> BookOrder:
        """Two exit legs: the take-profit limit (the parent, working) and the stop-loss (its
        leg, ``held`` until elected), whose client id Alpaca makes up."""
        symbol, side, qty = base["symbol"], base["side"], base["qty"]
        oco = types.oco_terms(body, side, base["time_in_force"], self.price(symbol))
        available = self._closable(symbol, side)
        if qty > available:
            raise BookError(
                403,
                40310000,
                f"insufficient qty available for order (requested: {qty}, available: {available})",
            )
        tp_terms = types.Terms(limit_price=oco.take_profit)
        parent = self._new_order(base, "limit", tp_terms, order_class="oco")
        leg_terms = types.Terms(limit_price=oco.stop_limit, stop_price=oco.stop_price)
        kind = "stop" if oco.stop_limit is None else "stop_limit"
        leg_base = {**base, "client_order_id": make_id("leg", parent.id)}
        leg = self._new_order(leg_base, kind, leg_terms, order_class="oco", parent_id=parent.id)
        leg.status = "held"
        parent.legs.append(leg.id)
        return parent

    def _closable(self, symbol: str, side: str) -> Decimal:
        """Shares an exit on ``side`` may still close: the position less what other working
        exits on that side already hold (an OCO's two legs hold it once)."""
        held = self.positions.get(symbol, PositionRow()).qty
        position = held if side == "sell" else -held
        working = sum(
            (
                o.qty - o.filled_qty
                for o in self.orders.values()
                if o.is_open and o.symbol == symbol and o.side == side and o.parent_id is None
            ),
            Decimal(0),
        )
        return max(Decimal(0), position - working)

    def group(self, order: BookOrder) -> list[BookOrder]:
        """The other orders of ``order``'s OCO (empty for a simple order)."""
        parent = self.orders[order.parent_id] if order.parent_id else order
        members = [parent, *(self.orders[i] for i in parent.legs)]
        return [o for o in members if o.id != order.id]

    def _immediate_or_cancel(self, order: BookOrder) -> None:
        """An IOC meets the touch now: what is marketable within its limit fills, at the touch
        (up to ``fill_cap``), and the rest is canceled (Alpaca's status for it: "canceled")."""
        bid, ask = self.touch(order.symbol)
        price = ask if order.side == "buy" else bid
        limit = order.limit_price
        within = limit is None or (price <= limit if order.side == "buy" else price >= limit)
        qty = order.qty - order.filled_qty
        if self.fill_cap is not None:
            qty = min(qty, self.fill_cap)
        if within and qty > 0:
            self._fill(order, qty, price, self._next_fill_ns())
        if order.is_open:
            order.status = "canceled"
            order.canceled_ns = order.updated_ns = max(self.now_ns, order.updated_ns)

    def _next_fill_ns(self) -> int:
        """Now, a microsecond past the last execution when that was now too: every execution
        gets its own transaction time, later than the one before (as at the real venue)."""
        last = int(self.activities[-1]["ts"]) if self.activities else 0
        return max(self.now_ns, last + 1_000)

    def _sweep_queued_ioc(self) -> None:
        """IOC orders queued while the market was closed meet the touch at the open."""
        if not self.is_open:
            return
        for order in [o for o in self.orders.values() if o.is_open and o.time_in_force == "ioc"]:
            self._immediate_or_cancel(order)

    def order(self, order_id: str) -> BookOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise BookError(404, 40410000, "order not found")
        return order

    def order_by_client_id(self, cid: str) -> BookOrder:
        order = self.orders.get(self.by_client_id.get(cid, ""))
        if order is None:
            raise BookError(404, 40410000, f"order not found for {cid}")
        return order

    def cancel(self, order_id: str) -> BookOrder:
        """Cancel one order (DELETE /v2/orders/{id}) or raise what Alpaca would answer."""
        order = self.order(order_id)
        if not order.is_open or order.client_order_id in self.refused_cancels:
            raise BookError(422, 42210000, f'order is not cancelable (status "{order.status}")')
        self._end(order, "canceled")
        for sibling in self.group(order):  # Alpaca: canceling one cancels the whole group
            if sibling.is_open:
                self._end(sibling, "canceled")
        return order

    def _end(self, order: BookOrder, status: str) -> None:
        order.status = status
        order.updated_ns = max(self.now_ns, order.updated_ns)
        if status == "canceled":
            order.canceled_ns = order.updated_ns

    def cancel_all(self) -> list[tuple[BookOrder, BookError | None]]:
        """DELETE /v2/orders: every open order with what its cancel did (None: canceled)."""
        results: list[tuple[BookOrder, BookError | None]] = []
        for order in [o for o in self.orders.values() if o.is_open]:
            if order.status == "canceled":  # with its OCO sibling, a moment ago
                results.append((order, None))
                continue
            try:
                results.append((self.cancel(order.id), None))
            except BookError as e:
                results.append((order, e))
        return results

    # ------------------------------------------------------------ fills and account

    def _match(self, closed: dict[str, BarRow]) -> None:
        n = 0
        working = [o for o in self.orders.values() if o.is_open and o.symbol in closed]
        # An OCO's stop-loss leg is matched before its take-profit: when one bar reaches
        # both, the stop wins (the rule that never books a profit on a guess).
        working.sort(key=lambda o: o.parent_id is None)
        for order in working:
            if not order.is_open:
                continue  # canceled with its OCO sibling on this bar
            bar = closed[order.symbol]
            price = self._fill_price(order, bar)
            if price is None:
                if order.type == "trailing_stop":
                    order.hwm = types.ratchet(order.side, order.hwm or bar.o, bar)
                    self._trail(order)
                continue
            qty = order.qty - order.filled_qty
            if self.fill_cap is not None:
                qty = min(qty, self.fill_cap)
            # Distinct microseconds per fill, as separate executions have at the real venue.
            self._fill(order, qty, price, self.now_ns + n * 1_000)
            n += 1

    def _fill_price(self, order: BookOrder, bar: BarRow) -> Decimal | None:
        if order.created_ns > bar.t:
            return None  # submitted after this bar opened: the next bar decides
        kind, side = order.type, order.side
        if kind == "market":
            return bar.o
        if kind == "limit" or (kind == "stop_limit" and order.elected):
            return types.limit_fill(side, order.limit_price, bar)  # type: ignore[arg-type]
        if order.stop_price is None:
            return None
        if kind == "stop_limit":
            limit = order.limit_price
            price, order.elected = types.stop_limit_fill(side, order.stop_price, limit, bar)  # type: ignore[arg-type]
            return price
        return types.stop_trigger(side, order.stop_price, bar)

    def _trail(self, order: BookOrder) -> None:
        if order.hwm is not None:
            order.stop_price = types.trail_stop(
                order.side, order.hwm, order.trail_percent, order.trail_price
            )

    def trade_through(self, symbol: str, low: Decimal, high: Decimal, close: Decimal) -> None:
        """The current minute of ``symbol`` trades every price in [low, high] and closes at
        ``close``; it opens at the last price moved into that range (a gap opens at its
        edge). Then the minute closes (``tick``): resting orders meet that bar."""
        if not self.is_open:
            raise ValueError("the market is closed: nothing trades")
        if not low <= close <= high or low <= 0:
            raise ValueError(f"a bar needs 0 < low <= close <= high, got {low} {close} {high}")
        low, high, close = types.cents(low), types.cents(high), types.cents(close)
        opening = min(max(self.price(symbol), low), high)
        self.forming[symbol] = BarRow(self.now_ns, opening, high, low, close, 1_000)
        self._last[symbol] = close
        self.tick(1)

    def _fill(self, order: BookOrder, qty: Decimal, price: Decimal, ts: int) -> None:
        sign = 1 if order.side == "buy" else -1
        self.cash -= sign * qty * price
        pos = self.positions.setdefault(order.symbol, PositionRow())
        new_qty = pos.qty + sign * qty
        if pos.qty == 0 or (pos.qty > 0) == (sign > 0):
            pos.avg = (pos.avg * abs(pos.qty) + price * qty) / abs(new_qty)
        elif new_qty != 0 and (new_qty > 0) != (pos.qty > 0):
            pos.avg = price  # flipped through zero
        pos.qty = new_qty
        done = order.filled_qty + qty
        order.filled_avg_price = (
            (order.filled_avg_price or 0) * order.filled_qty + price * qty
        ) / done
        order.filled_qty = done
        order.status = "filled" if done == order.qty else "partially_filled"
        order.updated_ns = ts
        if order.status == "filled":
            order.filled_ns = ts
        for sibling in (s for s in self.group(order) if s.is_open):
            if order.status == "filled":
                self._end(sibling, "canceled")  # one cancels the other
            else:  # Alpaca shrinks the other leg to what is left to close
                sibling.qty = sibling.filled_qty + order.qty - done
        self.activities.append(
            {
                "id": f"{_compact(ts)}::{make_id('fill', len(self.activities))}",
                "order_id": order.id,
                "ts": str(ts),
                "type": "fill" if order.status == "filled" else "partial_fill",
                "price": str(price),
                "qty": str(qty),
                "side": order.side,
                "symbol": order.symbol,
                "leaves_qty": str(order.qty - done),
                "cum_qty": str(done),
                "order_status": order.status,
            }
        )

    def market_value(self) -> tuple[Decimal, Decimal]:
        """(long market value, short market value) at current prices."""
        long_mv = short_mv = Decimal(0)
        for symbol, pos in self.positions.items():
            value = pos.qty * self.price(symbol)
            long_mv, short_mv = (
                (long_mv + value, short_mv) if value > 0 else (long_mv, short_mv + value)
            )
        return long_mv, short_mv

    def equity(self) -> Decimal:
        long_mv, short_mv = self.market_value()
        return self.cash + long_mv + short_mv

    def buying_power(self) -> Decimal:
        long_mv, short_mv = self.market_value()
        pending = sum(
            (o.qty - o.filled_qty) * (o.limit_price or self.price(o.symbol))
            for o in self.orders.values()
            if o.is_open and o.side == "buy" and o.parent_id is None  # a leg holds none
        )
        return max(Decimal(0), self.equity() * self.multiplier - long_mv + short_mv - pending)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_EVEN)


def iso(ts_ns: int) -> str:
    """RFC 3339 UTC with nanoseconds, as Alpaca writes timestamps."""
    seconds, frac = divmod(ts_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _compact(ts_ns: int) -> str:
    """Alpaca's activity id prefix: the UTC time as YYYYMMDDHHMMSSmmm."""
    seconds, frac = divmod(ts_ns, 1_000_000_000)
    return (
        datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d%H%M%S") + f"{frac // 1_000_000:03d}"
    )
