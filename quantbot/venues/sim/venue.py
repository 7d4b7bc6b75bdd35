"""``SimVenue``: the embedded paper venue, an ``OrderVenue`` like any broker adapter.

Orders are checked and acknowledged at ``submit`` and fill in ``on_bar``, which the daemon
calls when a bar arrives and before deciding on it, so an order decided on bar t fills on bar
t+1 (see ``matching.py`` for the fill rules). The one exception is the ``close`` fill model: a
market order fills at ``submit``, at the close of the bar it was decided on. When
``state_path`` is set, each call that changes orders or fills returns only once its change is
on disk (``book.py``: a snapshot plus an append-only log); ``state_path=None`` keeps
everything in memory (bench, replay).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import attrs

from quantbot.clock import Clock
from quantbot.domain.errors import InvariantViolation, VenueRejected
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import (
    ZERO,
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
from quantbot.venues.base import Account, CancelFailure, Capabilities, EmbeddedVenue, SubmitResult
from quantbot.venues.sim.book import BookFiles, SimBook, order_price
from quantbot.venues.sim.matching import (
    FillModel,
    Match,
    MatchParams,
    beyond_protection,
    checked_param,
    match,
    stop_triggered,
)
from quantbot.venues.sim.session import MarketClock, SessionCalendar

_BPS = Decimal(10_000)
_RECENT_BARS = 500
_FEE_QUANTUM = Decimal("1e-8")


class SimVenue:
    """Deterministic paper venue: same inputs give the same fills, ids and file.

    ``fill_model`` is ``"next_open"``, ``"next_vwap"`` or ``"close"`` (``matching.FillModel``);
    ``proxy_spread_bps`` is an assumed bid/ask spread, half of which every market fill pays
    (a proxy: bars carry no spread).
    """

    def __init__(
        self,
        *,
        clock: Clock,
        instruments: dict[str, Instrument],
        state_path: Path | None,
        initial_cash: Decimal,
        fee_bps: float,
        slippage_bps: float,
        participation_cap: float,
        buying_power_multiple: float = 2.0,
        seed: int = 0,
        session: SessionCalendar | None = None,
        fill_model: FillModel | str = FillModel.NEXT_OPEN,
        proxy_spread_bps: float = 0.0,
        sync_each_change: bool = True,
    ) -> None:
        self.name = "sim"
        self.seed = seed  # reserved: today's fill rules need no randomness
        self._clock = clock
        self._instruments = dict(instruments)
        self._files = (
            BookFiles(state_path, sync_each=sync_each_change) if state_path is not None else None
        )
        self._fee_rate = checked_param("fee_bps", fee_bps, low=0) / _BPS
        self._multiple = checked_param(
            "buying_power_multiple", buying_power_multiple, low=0, strict=True
        )
        self._params = MatchParams.checked(
            slippage_bps=slippage_bps,
            participation_cap=participation_cap,
            fill_model=fill_model,
            proxy_spread_bps=proxy_spread_bps,
        )
        self.capabilities = Capabilities(
            order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP}),
            time_in_force=frozenset({"GTC", "DAY"}),
            max_leverage=self._multiple,
            batch_cancel=True,
            has_sessions=session is not None,
            in_process=True,
            # market_protection stays off: a MARKET order's limit_price is honoured
            # (matching.beyond_protection), but the cancel comes on a later bar and
            # the OMS would count the order working until its next reconcile.
        )
        self._session = session
        self.embedded: EmbeddedVenue | None = self  # bars, marks and equity (venues/base.py)
        self.cancel_failures: tuple[CancelFailure, ...] = ()  # its cancel_all cancels every one
        # The market-data side of the protocol: the bars this venue has matched against.
        self._recent: dict[str, deque[Bar]] = {}
        self.bar_interval_s = 0.0  # set by the first bar seen
        # A book on disk wins over initial_cash: it is the account, initial_cash only seeds it.
        self._book = SimBook(cash=checked_param("initial_cash", initial_cash, low=0))
        self._loaded = self._load()

    @property
    def fill_model(self) -> FillModel:
        return self._params.fill_model

    @property
    def proxy_spread_bps(self) -> Decimal:
        """The assumed spread in every market fill's price: a proxy, never an observed spread
        (0: none assumed). Records that use these fills should say so."""
        return self._params.proxy_spread_bps

    # ------------------------------------------------------------ lifecycle

    def _load(self) -> bool:
        if self._files is None or not self._files.exists():
            return False
        self._book = self._files.load()
        return True

    def _persist(self) -> None:
        """Append what this call changed to the log (marks alone wait for a later change)."""
        if self._files is not None and self._files.commit(self._book):
            self._loaded = True  # the file is now ours; connect() must not reload over us

    async def connect(self) -> None:
        if not self._loaded:
            self._loaded = self._load()

    async def close(self) -> None:
        if self._files is not None:  # compact: marks move every bar and are written here
            self._files.close(self._book)
            self._loaded = True

    async def market_clock(self) -> MarketClock:
        """Open/closed now and the next transitions; always open without a session."""
        now = self._clock.now_ns()
        if self._session is None:
            return MarketClock(True, None, None)
        return self._session.clock(now)

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    # ------------------------------------------------------------ market data

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        """The bars this venue matched against (the last few hundred), oldest first."""
        recent = [
            b for b in self._recent.get(symbol, ()) if since_ns is None or b.ts_ns >= since_ns
        ]
        return recent[-limit:]

    async def quote(self, symbol: str) -> Quote:
        """Bid and ask around the mark, as far out as a market order pays (slippage plus half
        the proxy spread): a synthetic quote, not an observed one."""
        mark = self._book.mark_price(symbol)
        if mark is None:
            raise VenueRejected(f"no price for {symbol} yet", venue=self.name)
        half = mark * self._params.taker_cost_bps / _BPS
        return Quote(symbol, self._clock.now_ns(), float(mark - half), float(mark + half))

    # ------------------------------------------------------------ orders

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        cid = intent.client_order_id
        existing = self._book.orders.get(cid)
        if cid in self._book.seen_client_ids:
            why = reason(
                ReasonCode.VENUE_DUPLICATE_CLIENT_ID,
                client_order_id=cid,
                existing_status=existing.status.value if existing else "UNKNOWN",
            )
            return SubmitResult(SubmitOutcome.REJECTED, None, why)
        self._book.seen_client_ids.add(cid)
        order = _order_from(intent, self._clock.now_ns())
        why = self._admission(order)
        if why is None:
            order = attrs.evolve(order, venue_order_id=f"sim-{self._book.next_order_no}")
            self._book.next_order_no += 1
            outcome = SubmitOutcome.ACCEPTED
        else:
            order = attrs.evolve(order, status=OrderStatus.REJECTED, reason=str(why))
            outcome = SubmitOutcome.REJECTED
        self._book.put_order(order)
        if why is None and self._params.fill_model is FillModel.CLOSE:
            self._fill_on_decision_bar(order)
        self._persist()
        return SubmitResult(outcome, self._book.orders[cid], why)

    def _fill_on_decision_bar(self, order: Order) -> None:
        """``close`` model: a market order fills now at the close of the last bar seen for its
        symbol, the bar it was decided on. What that bar's volume cannot cover keeps working
        and fills at the close of later bars."""
        recent = self._recent.get(order.symbol)
        if order.order_type is not OrderType.MARKET or not recent:
            return
        bar = recent[-1]
        if self._session is not None and not self._session.is_open(bar.ts_ns):
            return
        instrument = self._instruments[order.symbol]
        result = match(order, bar, instrument, self._params, stop_armed=False)
        if result is not None and beyond_protection(order, result.price):
            self._expire(order, result.price)
        elif result is not None:
            self._execute(order, result)

    def _admission(self, order: Order) -> Reason | None:
        instrument = self._instruments.get(order.symbol)
        if instrument is None:
            return reason(ReasonCode.VENUE_UNKNOWN_SYMBOL, symbol=order.symbol)
        return self._check_increments(order, instrument) or self._check_funds(order)

    def _check_increments(self, order: Order, instrument: Instrument) -> Reason | None:
        if order.qty <= 0 or order.qty % instrument.lot_size:
            return reason(
                ReasonCode.VENUE_REJECTED,
                check="lot_size",
                qty=str(order.qty),
                lot_size=str(instrument.lot_size),
            )
        # A MARKET order's limit_price is a protection cap, not a resting price: off tick is fine.
        limit = order.limit_price if order.order_type is OrderType.LIMIT else None
        for name, price in (("limit_price", limit), ("stop_price", order.stop_price)):
            if price is not None and (price <= 0 or price % instrument.tick_size):
                return reason(
                    ReasonCode.VENUE_REJECTED,
                    check="tick_size",
                    **{name: str(price)},
                    tick_size=str(instrument.tick_size),
                )
        price = order_price(order, self._book.mark_price(order.symbol))
        if price is not None and order.qty * price < instrument.min_notional:
            return reason(
                ReasonCode.VENUE_REJECTED,
                check="min_notional",
                notional=str(order.qty * price),
                min_notional=str(instrument.min_notional),
            )
        return None

    def _check_funds(self, order: Order) -> Reason | None:
        # An order that does not add exposure (closing or reducing) always passes, so a fully
        # used account can still get out of its positions.
        before = self._book.gross_exposure()
        after = self._book.gross_exposure(order)
        equity = self._book.equity()
        limit = self._multiple * equity
        if after > limit and after > before:
            return reason(
                ReasonCode.VENUE_INSUFFICIENT_FUNDS,
                gross_exposure=str(after),
                limit=str(limit),
                equity=str(equity),
                buying_power_multiple=str(self._multiple),
            )
        return None

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> Order | None:
        order = self._book.orders.get(client_order_id)
        if order is None or not order.status.is_open:
            return order
        canceled = attrs.evolve(order, status=OrderStatus.CANCELED)
        self._book.put_order(canceled)
        self._persist()
        return canceled

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        canceled = [
            attrs.evolve(o, status=OrderStatus.CANCELED) for o in self._book.working(symbol)
        ]
        for order in canceled:
            self._book.put_order(order)
        self._persist()
        return canceled

    async def order_by_client_id(self, client_order_id: str) -> Order | None:
        return self._book.orders.get(client_order_id)

    async def open_orders(self) -> list[Order]:
        return self._book.working()

    # ------------------------------------------------------------ bars and fills

    def on_bar(self, bar: Bar) -> list[Fill]:
        """Fill what ``bar`` allows, in submission order; then mark to its close."""
        instrument = self._instruments.get(bar.symbol)
        if instrument is None:
            return []
        recent = self._recent.get(bar.symbol)
        if recent is None:
            recent = self._recent[bar.symbol] = deque(maxlen=_RECENT_BARS)
        recent.append(bar)
        self.bar_interval_s = bar.interval_s
        fills: list[Fill] = []
        if self._session is not None and not self._session.is_open(bar.ts_ns):
            self._book.set_mark(bar.symbol, to_decimal(bar.close))
            return fills  # outside the session nothing fills; working orders wait
        for order in self._book.working(bar.symbol):
            armed = order.client_order_id in self._book.armed_stops
            if not armed and stop_triggered(order, bar):
                self._book.arm_stop(order.client_order_id)
            result = match(order, bar, instrument, self._params, stop_armed=armed)
            if result is not None and beyond_protection(order, result.price):
                self._expire(order, result.price)
            elif result is not None:
                fills.append(self._execute(order, result))
        self._book.set_mark(bar.symbol, to_decimal(bar.close))
        self._persist()
        return fills

    def _expire(self, order: Order, price: Decimal) -> None:
        """A protected MARKET order whose fill would pass its protection price: like the
        marketable LIMIT IOC a broker would send, what is left of it is cancelled, unfilled."""
        why = f"protection price {order.limit_price} passed: the market was at {price}"
        self._book.put_order(attrs.evolve(order, status=OrderStatus.CANCELED, reason=why))

    def _execute(self, order: Order, result: Match) -> Fill:
        seq = self._book.next_seq
        notional = result.qty * result.price
        fill = Fill(
            fill_id=f"sim-f-{seq}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=result.qty,
            price=result.price,
            fee=(notional * self._fee_rate).quantize(_FEE_QUANTUM, ROUND_HALF_EVEN),
            ts_ns=self._clock.now_ns(),
            venue_order_id=order.venue_order_id,
            seq=seq,
        )
        filled = order.filled_qty + result.qty
        if filled > order.qty:
            raise InvariantViolation(f"sim overfill of {order.client_order_id}: {filled}")
        avg = ((order.avg_fill_price or ZERO) * order.filled_qty + notional) / filled
        status = OrderStatus.FILLED if filled == order.qty else OrderStatus.PARTIALLY_FILLED
        self._book.apply_fill(fill)
        self._book.put_order(
            attrs.evolve(order, filled_qty=filled, avg_fill_price=avg, status=status)
        )
        return fill

    async def fills_since(self, seq: int) -> list[Fill]:
        fills = self._book.fills
        if not fills or fills[-1].seq <= seq:
            return []  # the common case, every bar: nothing new
        return fills[bisect_right(fills, seq, key=lambda f: f.seq) :]

    # ------------------------------------------------------------ account

    async def positions(self) -> dict[str, Position]:
        return {s: p for s, p in self._book.positions.items() if p.qty}

    async def account(self) -> Account:
        equity = self._book.equity()
        buying_power = self._multiple * equity - self._book.gross_exposure()
        return Account(cash=self._book.cash, equity=equity, buying_power=buying_power)

    def marks(self) -> dict[str, Decimal]:
        return dict(self._book.marks)

    def equity(self) -> Decimal:
        return self._book.equity()


def _order_from(intent: OrderIntent, now_ns: int) -> Order:
    """The venue's order for ``intent``: only the price fields its type uses are kept."""
    is_limit = intent.order_type is OrderType.LIMIT
    # A MARKET order's limit_price is its protection price (venues/base.py): kept as a cap.
    keeps_limit = is_limit or intent.order_type is OrderType.MARKET
    is_stop = intent.order_type is OrderType.STOP
    return Order(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        order_type=intent.order_type,
        status=OrderStatus.ACCEPTED,
        limit_price=intent.limit_price if keeps_limit else None,
        stop_price=intent.stop_price if is_stop else None,
        created_ts_ns=now_ns,
    )
