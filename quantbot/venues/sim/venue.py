"""``SimVenue``: the embedded paper venue, an ``OrderVenue`` like any broker adapter.

Orders are checked and acknowledged at ``submit`` and fill in ``on_bar``, which the daemon
calls when a bar arrives and before deciding on it, so an order decided on bar t fills on bar
t+1 (see ``matching.py`` for the fill rules). The one exception is the ``close`` fill model: a
market order fills at ``submit``, at the close of the bar it was decided on.

It takes every order type, OCO pairs and reduce-only orders, with these rules of its own:

- Orders with the same ``oco_group`` are one-cancels-other: when one leg triggers (a stop
  leg) or fills, even partly, the venue cancels the others in the same ``on_bar`` step, and
  cancelling one by client id cancels the others too (as Binance and Alpaca do for an order
  list). When one bar reaches both legs (its low through the stop, its high through the
  take-profit), the stop-loss leg wins: within a bar, OCO take-profit (LIMIT) legs are
  matched after every other order, so the stop leg fills and its sibling is cancelled first.
  ``submit_oco`` books both legs or neither.
- A ``reduce_only`` order never increases the position: at fill time its fill is capped at
  the position it reduces (and what is left of it then cancelled); with nothing to reduce
  (flat, or a position on its own side) it is cancelled with the reason instead of filling.

When
``state_path`` is set, each call that changes orders or fills returns only once its change is
on disk (``book.py``: a snapshot plus an append-only log); ``state_path=None`` keeps
everything in memory. With a ``state_path``, memory stays flat in the number of orders: past
``keep_in_memory`` ended orders (or fills), the oldest half of them moves to the archive
(``archive.py``) and leaves the book, which still refuses their client ids as duplicates and
answers for them (``order_by_client_id``, ``cancel``, ``fills_since``) from the archive.
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
    Side,
    SubmitOutcome,
)
from quantbot.venues.base import Account, CancelFailure, Capabilities, EmbeddedVenue, SubmitResult
from quantbot.venues.sim.admission import admission
from quantbot.venues.sim.archive import ARCHIVE_FILE, BookArchive
from quantbot.venues.sim.book import BookFiles, SimBook
from quantbot.venues.sim.fold import ARCHIVE_DIR
from quantbot.venues.sim.matching import (
    FillModel,
    Match,
    MatchParams,
    beyond_protection,
    checked_param,
    match,
    ratchet,
    stop_triggered,
    trailing_stop,
)
from quantbot.venues.sim.orders import oco_problem, order_from
from quantbot.venues.sim.session import MarketClock, Sessions

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
        session: Sessions | None = None,
        fill_model: FillModel | str = FillModel.NEXT_OPEN,
        proxy_spread_bps: float = 0.0,
        range_spread_coef: float = 0.0,
        impact_coef: float = 0.0,
        sync_each_change: bool = True,
        keep_history_ns: int | None = None,
        keep_in_memory: int = 2000,
    ) -> None:
        self.name = "sim"
        self.seed = seed  # reserved: today's fill rules need no randomness
        self._clock = clock
        self._instruments = dict(instruments)
        self._files = (
            BookFiles(state_path, sync_each=sync_each_change, keep_ns=keep_history_ns)
            if state_path is not None
            else None
        )
        self._archive = (
            BookArchive(state_path.parent / ARCHIVE_DIR / ARCHIVE_FILE, sync=sync_each_change)
            if state_path is not None
            else None
        )
        if keep_in_memory < 2:
            raise ValueError(f"SimVenue keep_in_memory must be >= 2, got {keep_in_memory!r}")
        self._keep = keep_in_memory
        # orders in memory (working ones included) past which ended ones are shed: raised
        # after each shed, so thousands of working orders do not shed on every change
        self._orders_cap = keep_in_memory
        self._fee_rate = checked_param("fee_bps", fee_bps, low=0) / _BPS
        self._multiple = checked_param(
            "buying_power_multiple", buying_power_multiple, low=0, strict=True
        )
        self._params = MatchParams.checked(
            slippage_bps=slippage_bps,
            participation_cap=participation_cap,
            fill_model=fill_model,
            proxy_spread_bps=proxy_spread_bps,
            range_spread_coef=range_spread_coef,
            impact_coef=impact_coef,
        )
        self.capabilities = Capabilities(
            order_types=frozenset(OrderType),  # every type, matched on bars (matching.py)
            time_in_force=frozenset({"GTC", "DAY"}),
            max_leverage=self._multiple,
            batch_cancel=True,
            has_sessions=session is not None,
            in_process=True,
            order_lists=frozenset({"OCO"}),
            reduce_only=True,
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
        # the last account() answer and the book's (equity, gross) it was made from
        self._account: tuple[tuple[Decimal, Decimal], Account] | None = None
        self._loaded = self._load()

    @property
    def fill_model(self) -> FillModel:
        return self._params.fill_model

    def fill_cost_bps(self, bar: Bar, qty: Decimal) -> Decimal:
        """How far beyond the bar's own price a taker fill of ``qty`` may lie: the flat
        slippage plus half the proxy spread, plus the market-scaled part (``matching``)
        when the slippage model is "market" (what a replay's fill-range check allows)."""
        return self._params.cost_bps(bar, qty)

    def fill_model_record(self) -> dict[str, str]:
        """The fill model and its parameters, for a replay's summary."""
        p = self._params
        model = "market" if (p.range_spread_coef or p.impact_coef) else "fixed"
        return {
            "slippage_model": model,
            "fill_model": p.fill_model.value,
            "slippage_bps": str(p.slippage_bps),
            "proxy_spread_bps": str(p.proxy_spread_bps),
            "range_spread_coef": str(p.range_spread_coef),
            "impact_coef": str(p.impact_coef),
            "participation_cap": str(p.participation_cap),
        }

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
        self._shed_ids()
        return True

    def _persist(self) -> None:
        """Append what this call changed to the log (marks alone wait for a later change);
        then shed history past ``keep_in_memory``."""
        if self._files is not None and self._files.commit(self._book):
            self._loaded = True  # the file is now ours; connect() must not reload over us
            book = self._book
            if len(book.orders) > self._orders_cap or len(book.fills) > self._keep:
                self._shed()

    def _shed(self) -> None:
        """Archive the oldest half of the kept ended orders and fills, then drop them."""
        assert self._archive is not None  # a book with files has an archive
        book, half = self._book, self._keep // 2
        orders = [o for o in book.orders.values() if not o.status.is_open]
        fills = book.fills
        old_orders = orders[: max(0, len(orders) - half)]
        old_fills = fills[: max(0, len(fills) - half)]
        self._archive.put(old_orders, old_fills)  # on disk before it leaves memory
        book.take_ended(len(old_orders))
        book.take_fills(len(old_fills))
        self._orders_cap = max(self._keep, len(book.orders) + half)
        self._shed_ids()

    def _shed_ids(self) -> None:
        """Archive the client ids the book holds without their order (folded out at a start,
        ``fold.py``) once they outnumber ``keep_in_memory``: still refused, from disk."""
        book = self._book
        if self._archive is None or len(book.seen_client_ids) <= len(book.orders) + self._keep:
            return
        orphans = [cid for cid in book.seen_client_ids if cid not in book.orders]
        self._archive.put((), (), orphans)  # on disk before it leaves memory
        book.seen_client_ids.difference_update(orphans)

    def _order(self, client_order_id: str) -> Order | None:
        """The order by client id, from memory or (ended long ago) from the archive."""
        order = self._book.orders.get(client_order_id)
        if order is None and self._archive is not None:
            return self._archive.order(client_order_id)
        return order

    async def connect(self) -> None:
        if not self._loaded:
            self._loaded = self._load()

    async def close(self) -> None:
        if self._files is not None:  # compact: marks move every bar and are written here
            self._files.close(self._book)
            self._loaded = True
        if self._archive is not None:
            self._archive.close()

    def compact_history(self) -> int:
        """Fold old orders and fills out of the book on disk (``sim.fold``): 0 when kept
        whole (a replay, compaction off, nothing old enough)."""
        return self._files.fold_now(self._book) if self._files is not None else 0

    async def market_clock(self) -> MarketClock:
        """Open/closed now and the next transitions; always open without a session."""
        now = self._clock.now_ns()
        if self._session is None:
            return MarketClock(True, None, None)
        return self._session.clock(now, self.bar_interval_s)

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
        bid, ask = float(mark - half), float(mark + half)
        return Quote(symbol, self._clock.now_ns(), bid, ask, last=float(mark))

    # ------------------------------------------------------------ orders

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        cid = intent.client_order_id
        duplicate = self._duplicate(cid)
        if duplicate is not None:
            return SubmitResult(SubmitOutcome.REJECTED, None, duplicate)
        order = order_from(intent, self._clock.now_ns())
        why = self._admission(order)
        order = self._book_order(order, why)
        if why is None and self._params.fill_model is FillModel.CLOSE:
            self._fill_on_decision_bar(order)
        self._persist()
        return _result(self._book.orders[cid], why)

    async def submit_oco(
        self, take_profit: OrderIntent, stop_loss: OrderIntent
    ) -> tuple[SubmitResult, SubmitResult]:
        """Both legs booked, one-cancels-other by their ``oco_group``, or both refused (a leg
        refused for its sibling's reason says so: check=oco, sibling=...)."""
        pair = oco_problem(take_profit, stop_loss)
        now = self._clock.now_ns()
        legs: list[tuple[str, Order | None, Reason | None]] = []
        for intent in (take_profit, stop_loss):
            cid = intent.client_order_id
            duplicate = self._duplicate(cid) if pair is None else None
            if duplicate is not None:
                legs.append((cid, None, duplicate))
                continue
            order = order_from(intent, now)
            legs.append((cid, order, pair or self._admission(order)))
        refused = next((cid for cid, _, why in legs if why is not None), None)
        results: list[SubmitResult] = []
        for cid, order, own in legs:
            why = own
            if why is None and refused is not None:
                why = reason(
                    ReasonCode.VENUE_REJECTED,
                    check="oco",
                    sibling=refused,
                    detail="its sibling in the order list was refused",
                )
            if order is None:
                results.append(SubmitResult(SubmitOutcome.REJECTED, None, why))
                continue
            self._book.seen_client_ids.add(cid)  # a refused pair's legs are spent ids too
            results.append(_result(self._book_order(order, why), why))
        self._persist()
        return results[0], results[1]

    def _duplicate(self, cid: str) -> Reason | None:
        """Why ``cid`` cannot be used again (the venue has seen it), else marks it seen."""
        seen = self._book.seen_client_ids
        if cid not in seen and (self._archive is None or not self._archive.has(cid)):
            seen.add(cid)
            return None
        existing = self._order(cid)
        return reason(
            ReasonCode.VENUE_DUPLICATE_CLIENT_ID,
            client_order_id=cid,
            existing_status=existing.status.value if existing else "UNKNOWN",
        )

    def _book_order(self, order: Order, why: Reason | None) -> Order:
        """Put ``order`` in the book: accepted (a venue id, a trailing stop's first stop) when
        ``why`` is None, else rejected with it."""
        if why is not None:
            order = attrs.evolve(order, status=OrderStatus.REJECTED, reason=str(why))
            self._book.put_order(order)
            return order
        order = attrs.evolve(order, venue_order_id=f"sim-{self._book.next_order_no}")
        self._book.next_order_no += 1
        mark = self._book.mark_price(order.symbol)
        if order.order_type is OrderType.TRAILING_STOP and order.trail_pct and mark is not None:
            instrument = self._instruments[order.symbol]
            stop = trailing_stop(order.side, mark, order.trail_pct, instrument)
            order = attrs.evolve(order, stop_price=stop)
            self._book.set_trail_best(order.client_order_id, mark)
        self._book.put_order(order)
        return order

    def _fill_on_decision_bar(self, order: Order) -> None:
        """``close`` model: a market order fills now at the close of the last bar seen for its
        symbol, the bar it was decided on. What that bar's volume cannot cover keeps working
        and fills at the close of later bars."""
        recent = self._recent.get(order.symbol)
        if order.order_type is not OrderType.MARKET or not recent:
            return
        bar = recent[-1]
        if self._session is not None and not self._session.bar_open(bar.ts_ns, bar.interval_s):
            return
        instrument = self._instruments[order.symbol]
        result = match(order, bar, instrument, self._params, stop_armed=False)
        if result is not None:
            self._take(order, result)

    def _admission(self, order: Order) -> Reason | None:
        return admission(
            order, self.capabilities.order_types, self._instruments, self._book, self._multiple
        )

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> Order | None:
        """The order cancelled, and with it the other legs of its OCO group."""
        order = self._order(client_order_id)
        if order is None or not order.status.is_open:
            return order
        canceled = self._cancel(order, None)
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
        return self._order(client_order_id)

    async def open_orders(self) -> list[Order]:
        return self._book.working()

    # ------------------------------------------------------------ bars and fills

    def on_bar(self, bar: Bar) -> list[Fill]:
        """Fill what ``bar`` allows, in submission order (OCO take-profit legs last: the
        stop-loss leg wins a bar that reaches both); then mark to its close.

        With nothing working for the symbol (most bars) there is nothing to match and
        nothing to persist: the bar is kept and the mark moves (marks alone wait for a later
        change to be written, ``book.py``)."""
        symbol = bar.symbol
        instrument = self._instruments.get(symbol)
        if instrument is None:
            return []
        recent = self._recent.get(symbol)
        if recent is None:
            recent = self._recent[symbol] = deque(maxlen=_RECENT_BARS)
        recent.append(bar)
        self.bar_interval_s = bar.interval_s
        book = self._book
        if not book.working_ids.get(symbol) or (
            self._session is not None and not self._session.bar_open(bar.ts_ns, bar.interval_s)
        ):  # nothing to fill; outside the session working orders wait
            book.set_close(symbol, bar.close)
            return []
        fills = self._match_bar(bar, instrument)
        book.set_close(symbol, bar.close)
        self._persist()
        return fills

    def _match_bar(self, bar: Bar, instrument: Instrument) -> list[Fill]:
        fills: list[Fill] = []
        working = self._book.working(bar.symbol)
        if len(working) > 1:
            working.sort(key=_oco_take_profit)  # stable: submission order otherwise
        for queued in working:
            order = self._book.orders[queued.client_order_id]  # a sibling may have ended it
            if order.status.is_open:
                fill = self._match_one(order, bar, instrument)
                if fill is not None:
                    fills.append(fill)
        return fills

    def _match_one(self, order: Order, bar: Bar, instrument: Instrument) -> Fill | None:
        cid = order.client_order_id
        armed = cid in self._book.armed_stops
        triggered = not armed and stop_triggered(order, bar)
        if triggered:
            self._book.arm_stop(cid)
            self._cancel_siblings(order, f"oco: sibling {cid} triggered")
        result = match(order, bar, instrument, self._params, stop_armed=armed)
        if result is not None:
            return self._take(order, result)
        if not (armed or triggered):
            self._trail(order, bar, instrument)  # after the check: never on its own new high
        return None

    def _trail(self, order: Order, bar: Bar, instrument: Instrument) -> None:
        """Ratchet a working trailing stop with ``bar`` for the bars after it."""
        moved = ratchet(order, self._book.trail_best.get(order.client_order_id), bar, instrument)
        if moved is None:
            return
        best, stop = moved
        self._book.set_trail_best(order.client_order_id, best)
        if stop != order.stop_price:
            self._book.put_order(attrs.evolve(order, stop_price=stop))

    def _take(self, order: Order, result: Match) -> Fill | None:
        """Fill ``order`` as ``result`` says, unless its protection price or its reduce-only
        flag says otherwise; a fill cancels its OCO siblings."""
        if beyond_protection(order, result.price):
            self._expire(order, result.price)
            return None
        capped = result
        if order.reduce_only:
            held = self._held(order.symbol)
            reducible = held if order.side is Side.SELL else -held
            if reducible <= 0:
                self._cancel(order, f"reduce_only: nothing to reduce (position {held})")
                return None
            if result.qty > reducible:
                capped = Match(price=result.price, qty=reducible)
        fill = self._execute(order, capped)
        self._cancel_siblings(order, f"oco: sibling {order.client_order_id} filled")
        if capped is not result:
            filled = self._book.orders[order.client_order_id]
            self._cancel(filled, f"reduce_only: capped at the position it reduced ({capped.qty})")
        return fill

    def _held(self, symbol: str) -> Decimal:
        position = self._book.positions.get(symbol)
        return position.qty if position is not None else ZERO

    def _cancel(self, order: Order, why: str | None) -> Order:
        """Cancel ``order`` (with ``why``, when the venue and not the owner ends it) and the
        other legs of its OCO group."""
        canceled = attrs.evolve(order, status=OrderStatus.CANCELED, reason=why or order.reason)
        self._book.put_order(canceled)
        self._cancel_siblings(order, f"oco: sibling {order.client_order_id} canceled")
        return canceled

    def _cancel_siblings(self, order: Order, why: str) -> None:
        group = order.oco_group
        if group is None:
            return
        for other in self._book.working(order.symbol):
            if other.oco_group == group and other.client_order_id != order.client_order_id:
                self._book.put_order(attrs.evolve(other, status=OrderStatus.CANCELED, reason=why))

    def _expire(self, order: Order, price: Decimal) -> None:
        """A protected MARKET order whose fill would pass its protection price: like the
        marketable LIMIT IOC a broker would send, what is left of it is cancelled, unfilled."""
        why = f"protection price {order.limit_price} passed: the market was at {price}"
        self._cancel(order, why)

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
        if seq + 1 < fills[0].seq and self._archive is not None:  # older ones left memory
            return [*self._archive.fills_between(seq, fills[0].seq), *fills]
        return fills[bisect_right(fills, seq, key=lambda f: f.seq) :]

    def known_equity(self) -> Decimal | None:
        return self._book.equity()  # what account() says its equity is, without the rest

    def may_hold_fills_after(self, seq: int) -> bool:
        fills = self._book.fills  # its own book, ascending seq: exact, never a guess
        return fills[-1].seq > seq if fills else False  # no bool() call: every bar, twice

    # ------------------------------------------------------------ account

    async def positions(self) -> dict[str, Position]:
        return {s: p for s, p in self._book.positions.items() if p.qty}

    async def account(self) -> Account:
        pair = self._book.equity_and_gross()  # cached by the book until something changes
        cached = self._account
        if cached is not None and cached[0] is pair:
            return cached[1]
        equity, gross = pair
        buying_power = self._multiple * equity - gross
        account = Account(cash=self._book.cash, equity=equity, buying_power=buying_power)
        self._account = (pair, account)
        return account

    def marks(self) -> dict[str, Decimal]:
        return dict(self._book.marks)

    def equity(self) -> Decimal:
        return self._book.equity()


def _result(order: Order, why: Reason | None) -> SubmitResult:
    outcome = SubmitOutcome.ACCEPTED if why is None else SubmitOutcome.REJECTED
    return SubmitResult(outcome, order, why)


def _oco_take_profit(order: Order) -> bool:
    """Sort key: OCO take-profit legs after everything else on a bar."""
    return order.oco_group is not None and order.order_type is OrderType.LIMIT
