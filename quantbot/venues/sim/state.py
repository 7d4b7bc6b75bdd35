"""The paper venue's book in memory, and a note of what changed since it was last persisted.

The book is what a broker would hold: cash, positions, the orders accepted or rejected
(terminal ones included) and their client ids, fills with their sequence numbers,
the last marks, the stop orders already triggered and each working trailing stop's best price
since it was placed. Ended orders and old fills may leave memory (``take_ended``,
``take_fills``) once the venue has archived them (``archive.py``). Mutations go through
methods that note what they touched, so ``book.py`` can append just the change to its log
(``changes``, then ``mark_clean`` once it is on disk) instead of rewriting the whole history.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from quantbot.domain.values import ZERO, Fill, Order, OrderType, Position, Side, to_decimal

_INF = float("inf")


@attrs.frozen
class BookChanges:
    """What changed since the book was last persisted, as absolute values (replay is a set)."""

    orders: list[Order]  # latest version of each touched order, in first-touched order
    fills: list[Fill]  # new fills, ascending seq
    positions: list[Position]  # positions of the symbols that filled
    marks: dict[str, Decimal]
    armed: list[str]  # stops triggered since, still working
    trail_best: dict[str, Decimal] = attrs.field(factory=dict)  # moved since, still working


@attrs.define
class SimBook:
    """Mutable venue state. Change it through its methods so the indexes and change log follow."""

    cash: Decimal
    positions: dict[str, Position] = attrs.field(factory=dict)
    orders: dict[str, Order] = attrs.field(factory=dict)  # submission order, terminal included
    fills: list[Fill] = attrs.field(factory=list)  # ascending seq
    next_seq: int = 1
    next_order_no: int = 1
    # the last marks (``marks``): Decimals, and the bars' closes not yet made Decimal
    _marks: dict[str, Decimal] = attrs.field(factory=dict, alias="marks")
    _closes: dict[str, float] = attrs.field(factory=dict, init=False)
    seen_client_ids: set[str] = attrs.field(factory=set)
    armed_stops: set[str] = attrs.field(factory=set)  # stop orders already triggered
    # working TRAILING_STOP orders -> best price since placement (sell: high, buy: low)
    trail_best: dict[str, Decimal] = attrs.field(factory=dict)
    # symbol -> working client ids in submission order (a dict used as an ordered set); read
    # it (the venue asks it every bar), change it only through put_order
    working_ids: dict[str, dict[str, None]] = attrs.field(factory=dict, init=False)
    _n_working: int = attrs.field(default=0, init=False)  # over every symbol
    # not yet persisted: touched order ids (ordered set), marks, armed stops, fills[_clean_fills:]
    _dirty_orders: dict[str, None] = attrs.field(factory=dict, init=False)
    _dirty_marks: set[str] = attrs.field(factory=set, init=False)
    _dirty_armed: set[str] = attrs.field(factory=set, init=False)
    _dirty_trail: set[str] = attrs.field(factory=set, init=False)
    _clean_fills: int = attrs.field(default=0, init=False)
    # equity and (equity, gross) as last computed, until cash, a position, a mark or an
    # order changes (``_changed``): the account is read once or twice per batch
    _equity: Decimal | None = attrs.field(default=None, init=False)
    _equity_gross: tuple[Decimal, Decimal] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        for order in self.orders.values():
            self._index(order)
        self._clean_fills = len(self.fills)

    # ------------------------------------------------------------ mutations

    def put_order(self, order: Order) -> None:
        self.orders[order.client_order_id] = order
        self._index(order)
        self._dirty_orders[order.client_order_id] = None
        self._equity_gross = None  # working orders count in the gross exposure

    def _index(self, order: Order) -> None:
        ids = self.working_ids.setdefault(order.symbol, {})
        cid = order.client_order_id
        if order.status.is_open:
            if cid not in ids:  # an update keeps the original queue position
                ids[cid] = None
                self._n_working += 1
        else:
            if cid in ids:
                del ids[cid]
                self._n_working -= 1
            self.armed_stops.discard(cid)
            self.trail_best.pop(cid, None)

    def apply_fill(self, fill: Fill) -> None:
        """Cash, position and fill history; the caller updates the order itself."""
        position = self.positions.get(fill.symbol) or Position(fill.symbol)
        self.positions[fill.symbol] = position.apply_fill(fill)
        notional = fill.qty * fill.price
        if fill.side is Side.BUY:
            self.cash -= notional + fill.fee
        else:
            self.cash += notional - fill.fee
        self.fills.append(fill)
        self.next_seq = max(self.next_seq, fill.seq + 1)
        self.changed()

    @property
    def marks(self) -> dict[str, Decimal]:
        """Each symbol's last mark as a Decimal (a bar's close is made one when first read)."""
        closes = self._closes
        if closes:
            self._decimal_closes(closes)
        return self._marks

    def _decimal_closes(self, closes: dict[str, float]) -> None:
        marks = self._marks
        for symbol, close in closes.items():
            marks[symbol] = Decimal(repr(close))  # what to_decimal makes of it
        closes.clear()

    def set_mark(self, symbol: str, price: Decimal) -> None:
        self.marks[symbol] = price  # after the closes before it (the marks keep their order)
        self._dirty_marks.add(symbol)
        self._equity = self._equity_gross = None

    def set_close(self, symbol: str, close: float) -> None:
        """``set_mark`` with a bar's close, kept as the float until a Decimal is read (every
        bar sets one; most bars read none, or only the equity, which converts it then). A
        non-finite close is refused here, as ``to_decimal`` refuses it."""
        if not -_INF < close < _INF:  # NaN fails the compare too
            to_decimal(close)  # raises ValueError, naming it
        self._closes[symbol] = close
        self._dirty_marks.add(symbol)
        self._equity = self._equity_gross = None

    def changed(self) -> None:
        """Cash, positions or marks were set directly (a log record replayed): the account
        is computed again on its next read."""
        self._equity = self._equity_gross = None

    def arm_stop(self, client_order_id: str) -> None:
        self.armed_stops.add(client_order_id)
        self._dirty_armed.add(client_order_id)

    def set_trail_best(self, client_order_id: str, price: Decimal) -> None:
        self.trail_best[client_order_id] = price
        self._dirty_trail.add(client_order_id)

    def take_ended(self, count: int) -> list[Order]:
        """Remove up to ``count`` of the oldest ended orders (submission order) from memory,
        with their client ids, and return them: the caller has archived nothing yet and must
        (``archive.py``). Only a book with nothing left to persist."""
        assert not self.has_changes(), "persist the book before it sheds history"
        ended: list[Order] = []
        for order in self.orders.values():
            if len(ended) >= count:
                break
            if not order.status.is_open:
                ended.append(order)
        for order in ended:
            del self.orders[order.client_order_id]
            self.seen_client_ids.discard(order.client_order_id)
        return ended

    def take_fills(self, count: int) -> list[Fill]:
        """Remove up to ``count`` of the oldest fills, never the newest (the fill cursor a
        new journal's baseline takes), and return them (see ``take_ended``)."""
        assert not self.has_changes(), "persist the book before it sheds history"
        cut = max(0, min(count, len(self.fills) - 1))
        taken = self.fills[:cut]
        del self.fills[:cut]
        self._clean_fills -= cut
        return taken

    # ------------------------------------------------------------ change tracking

    def has_changes(self) -> bool:
        """Orders, fills, armed stops or trailing best prices to persist. Marks alone wait for
        one of these (or a snapshot): they move on every bar, and writing each would cost a
        sync per bar."""
        return bool(
            self._dirty_orders
            or self._dirty_armed
            or self._dirty_trail
            or len(self.fills) > self._clean_fills
        )

    def changes(self) -> BookChanges:
        fills = self.fills[self._clean_fills :]
        symbols = dict.fromkeys(f.symbol for f in fills)
        return BookChanges(
            orders=[self.orders[cid] for cid in self._dirty_orders],
            fills=fills,
            positions=[self.positions[s] for s in symbols],
            marks={s: self.marks[s] for s in sorted(self._dirty_marks)},
            armed=sorted(c for c in self._dirty_armed if c in self.armed_stops),
            trail_best={
                c: self.trail_best[c] for c in sorted(self._dirty_trail) if c in self.trail_best
            },
        )

    def mark_clean(self) -> None:
        """Everything so far is on disk."""
        self._dirty_orders.clear()
        self._dirty_marks.clear()
        self._dirty_armed.clear()
        self._dirty_trail.clear()
        self._clean_fills = len(self.fills)

    # ------------------------------------------------------------ queries

    def working(self, symbol: str | None = None) -> list[Order]:
        """Open orders (of ``symbol``) in submission order."""
        if symbol is None:
            return [o for o in self.orders.values() if o.status.is_open]
        return [self.orders[cid] for cid in self.working_ids.get(symbol, ())]

    def mark_price(self, symbol: str) -> Decimal | None:
        """Last close, else the position's entry price, else None (never traded, no bar yet)."""
        mark = self.marks.get(symbol)
        if mark is not None:
            return mark
        position = self.positions.get(symbol)
        return position.avg_price if position is not None and position.qty else None

    def equity(self) -> Decimal:
        """Cash plus every position at its mark (cached until one of them changes)."""
        value = self._equity
        if value is not None:
            return value
        # Computed here rather than in helpers (it runs on every bar a position is held):
        # ``mark_price`` of each position, inline, a pending close made Decimal as it is
        # needed (a symbol already marked keeps its place in ``marks``; a new one waits for
        # the others, ``_decimal_closes``, so the marks keep the order they arrived in).
        marks = self._marks
        closes = self._closes
        value = self.cash
        for symbol, position in self.positions.items():
            qty = position.qty
            if qty:
                if symbol in closes:
                    if symbol in marks:
                        mark = marks[symbol] = Decimal(repr(closes[symbol]))  # to_decimal's
                        del closes[symbol]
                    else:
                        self._decimal_closes(closes)
                        mark = marks[symbol]
                elif symbol in marks:
                    mark = marks[symbol]
                else:  # never marked: the entry price (mark_price)
                    mark = position.avg_price
                value += qty * (mark or ZERO)
        self._equity = value
        return value

    def equity_and_gross(self) -> tuple[Decimal, Decimal]:
        """``equity()`` and ``gross_exposure()`` together, as the account read every batch
        needs them: with nothing working (most bars), one pass over the positions instead of
        two, with the same Decimal operations in the same order, so the same values. Cached
        until cash, a position, a mark or an order changes."""
        cached = self._equity_gross
        if cached is None:
            cached = self._equity_gross = self._equity_and_gross()
        return cached

    def _equity_and_gross(self) -> tuple[Decimal, Decimal]:
        if self._n_working:
            return self.equity(), self.gross_exposure()
        value, held = self.cash, []
        marks = self.marks
        for symbol, position in self.positions.items():
            qty = position.qty
            if qty:
                mark = marks.get(symbol)
                if mark is None:
                    mark = self.mark_price(symbol)
                amount = qty * (mark or ZERO)
                value += amount
                if mark is None:  # gross_exposure values an unmarked position at zero
                    held.append((symbol, ZERO))
                else:
                    held.append((symbol, abs(amount if mark else qty * mark)))
        self._equity = value
        if len(held) == 1:  # one symbol held (sum() below would add it to ZERO too)
            return value, ZERO + held[0][1]
        held.sort()  # gross_exposure sums in symbol order
        return value, sum((h for _, h in held), ZERO)

    def gross_exposure(self, extra: Order | None = None) -> Decimal:
        """Worst-case gross notional if every working order (and ``extra``) fills.

        Per symbol: the larger of |position + all buys| and |position - all sells|, the
        position at its mark and orders at their limit/stop price (an OCO group at its
        largest leg, since only one leg fills; market orders at the mark;
        with no mark at all they count as zero until the first bar). Netting per symbol is what
        lets an order that closes a position pass even when the account is fully used.
        """
        symbols = {s for s, p in self.positions.items() if p.qty}
        symbols.update(s for s, ids in self.working_ids.items() if ids)
        if extra is not None:
            symbols.add(extra.symbol)
        return sum((self._symbol_exposure(s, extra) for s in sorted(symbols)), ZERO)

    def _symbol_exposure(self, symbol: str, extra: Order | None) -> Decimal:
        mark = self.mark_price(symbol)
        position = self.positions.get(symbol)
        held = position.qty * mark if position is not None and mark is not None else ZERO
        with_extra = extra is not None and extra.symbol == symbol
        if not with_extra and not self.working_ids.get(symbol):
            return abs(held)  # nothing working: the position alone (every bar, most symbols)
        orders = self.working(symbol)
        if with_extra:
            orders.append(extra)
        buys = sells = ZERO
        oco: dict[tuple[str, Side], Decimal] = {}  # only one leg of an OCO group can fill
        for order in orders:
            notional = order.remaining_qty * (order_price(order, mark) or ZERO)
            if order.oco_group is not None:
                key = (order.oco_group, order.side)
                notional -= oco.get(key, ZERO)
                if notional <= 0:
                    continue
                oco[key] = oco.get(key, ZERO) + notional  # the group counts at its largest leg
            if order.side is Side.BUY:
                buys += notional
            else:
                sells += notional
        return max(abs(held + buys), abs(held - sells))


def order_price(order: Order, mark: Decimal | None) -> Decimal | None:
    """The price an order is valued at before it fills: its limit (a STOP_LIMIT's too), its
    stop (a trailing stop's current one), or the mark (a trailing stop with no stop yet)."""
    if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return order.limit_price
    if order.order_type in (OrderType.STOP, OrderType.TRAILING_STOP):
        return order.stop_price or mark
    return mark
