"""Per-sleeve PnL: the one definition the TCA report and a replay's summary (and its HTML
report) both use.

A position belongs to the sleeve whose order opened it. Orders are taken in decision order,
each at its fill VWAP; per symbol, a fill first closes the open lots against it (oldest
first), and the PnL a closed lot realises goes to the sleeve that opened the lot; what is
left of the fill opens a lot of its own order's sleeve. Lots still open at the end are
marked at ``marks`` and their PnL goes to their sleeve too. Each order's fees go to its own
sleeve. So the sleeves' PnL adds up to the trading PnL of the orders, exactly.

``net`` is that, at the fill prices, less fees; ``gross`` the same at each order's arrival
price with no fees (what the sleeves made before execution costs).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

ZERO = Decimal(0)
METHOD = (
    "a position belongs to the sleeve whose order opened it: fills close the oldest open lots "
    "first, realised PnL goes to the lot's sleeve, open lots are marked at the last close; "
    "fees to each order's sleeve (net); gross is the same at arrival prices, no fees"
)


def _dec(value: Any) -> Decimal:
    return ZERO if value in (None, "") else Decimal(str(value))


class OrderRow(NamedTuple):
    """What attribution reads of an order's final TCA record: a reader of a long run's
    records keeps one of these per order until the end, not the whole record."""

    decision_ts: Any
    client_order_id: Any
    symbol: Any
    side: Any
    sleeve: Any
    filled_qty: Any
    notional: Any
    fees: Any
    arrival_price: Any

    @classmethod
    def of(cls, record: dict[str, Any]) -> OrderRow:
        return cls(*(record.get(field) for field in cls._fields))


def sleeve_pnl(rows: Iterable[OrderRow], marks: dict[str, Decimal]) -> dict[str, dict]:
    """``{sleeve: {"gross": Decimal, "net": Decimal}}`` over the orders' final TCA records
    ``rows``, their open lots marked at ``marks``."""
    ordered = sorted(rows, key=lambda r: (r.decision_ts, r.client_order_id))
    gross, net = _Books(), _Books()
    for row in ordered:
        qty = _dec(row.filled_qty)
        if qty <= 0:
            continue
        signed = qty if row.side == "BUY" else -qty
        sleeve, symbol = str(row.sleeve), row.symbol
        gross.fill(symbol, sleeve, signed, _dec(row.arrival_price))
        net.fill(symbol, sleeve, signed, _dec(row.notional) / qty)
        net.pnl[sleeve] -= _dec(row.fees)
    gross.mark(marks)
    net.mark(marks)
    sleeves = sorted(set(gross.pnl) | set(net.pnl))
    return {s: {"gross": gross.pnl[s], "net": net.pnl[s]} for s in sleeves}


class _Books:
    """Open lots per symbol (``[signed qty, price, sleeve]``, oldest first) and PnL."""

    def __init__(self) -> None:
        self.lots: defaultdict[str, deque[list[Any]]] = defaultdict(deque)
        self.pnl: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)

    def fill(self, symbol: str, sleeve: str, signed: Decimal, price: Decimal) -> None:
        lots = self.lots[symbol]
        while signed and lots and (lots[0][0] > 0) != (signed > 0):
            lot = lots[0]
            closed = min(abs(signed), abs(lot[0]))
            direction = 1 if lot[0] > 0 else -1
            self.pnl[lot[2]] += (price - lot[1]) * closed * direction
            lot[0] -= closed * direction
            signed += closed * direction
            if lot[0] == 0:
                lots.popleft()
        if signed:
            lots.append([signed, price, sleeve])
        self.pnl[sleeve] += ZERO  # a sleeve that only traded still shows

    def mark(self, marks: dict[str, Decimal]) -> None:
        for symbol, lots in self.lots.items():
            mark = marks.get(symbol)
            if mark is None:
                continue
            for qty, price, sleeve in lots:
                self.pnl[sleeve] += (mark - price) * qty
