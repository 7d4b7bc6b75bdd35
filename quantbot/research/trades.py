"""Round trips from the journal's fills, for ``trades.csv`` and the summary's trade metrics.

Per symbol, fills are matched first in, first out against open lots. A trade opens when the
position leaves flat (or flips: the fill's part past flat opens the next trade) and closes
when the position is back at flat (or flips). Scaling in adds lots to the open trade, scaling
out closes the oldest lots first; the trade's prices are the volume-weighted entry and exit
prices, its PnL is realised price PnL less every fee paid on its fills (a flipping fill's fee
split by quantity), in the quote currency. Its exit reason is the closing fill's order's:
the INTENT's ``exit_role`` for a protective exit leg (``stop_loss``, ``take_profit``,
``trailing_stop``, ``max_hold``), else ``signal``. A position still open at the end of the
replay is listed last in ``trades.csv`` with exit reason ``open`` and no exit, price or PnL;
it is no round trip and the trade metrics leave it out.

Quantities and prices stay ``Decimal`` (as journaled), so a position returns exactly to flat.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from quantbot.clock import NS_PER_S, iso_utc
from quantbot.fsutil import write_private

ZERO = Decimal(0)
NS_PER_DAY = 86_400 * NS_PER_S
COLUMNS = (
    "symbol", "side", "qty", "entry_time", "entry_price", "exit_time", "exit_price", "pnl",
    "holding_days", "exit_reason",
)  # fmt: skip


@attrs.frozen
class RoundTrip:
    symbol: str
    side: str  # "long" | "short"
    qty: Decimal  # everything bought (long) or sold (short) to build the position
    entry_ts_ns: int  # the first entry fill
    entry_price: Decimal  # volume-weighted over the entry fills
    exit_ts_ns: int  # the fill that brought the position back to flat (or flipped it)
    exit_price: Decimal  # volume-weighted over the exit fills
    pnl: Decimal  # after fees
    exit_reason: str

    @property
    def holding_days(self) -> float:
        return (self.exit_ts_ns - self.entry_ts_ns) / NS_PER_DAY

    def row(self) -> list[str]:
        return [
            self.symbol,
            self.side,
            _num(self.qty),
            _time(self.entry_ts_ns),
            _num(self.entry_price, "0.00000001"),
            _time(self.exit_ts_ns),
            _num(self.exit_price, "0.00000001"),
            _num(self.pnl, "0.01"),
            f"{self.holding_days:.2f}",
            self.exit_reason,
        ]


def _num(value: Decimal, quantum: str | None = None) -> str:
    if quantum is not None:
        value = value.quantize(Decimal(quantum))
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _time(ts_ns: int) -> str:
    return iso_utc(ts_ns)[:19] + "Z"


class _Open:
    """The trade a symbol's position is in."""

    __slots__ = ("entry_qty", "entry_ts", "entry_value", "exit_qty", "exit_value", "lots",
                 "pnl", "sign")  # fmt: skip

    def __init__(self, sign: int, ts_ns: int) -> None:
        self.sign = sign  # +1 long, -1 short
        self.entry_ts = ts_ns
        self.lots: deque[list[Decimal]] = deque()  # [qty left, price]
        self.entry_qty = self.entry_value = self.exit_qty = self.exit_value = self.pnl = ZERO

    def add(self, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        self.lots.append([qty, price])
        self.entry_qty += qty
        self.entry_value += qty * price
        self.pnl -= fee

    def reduce(self, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        """Close ``qty`` against the oldest lots first."""
        self.exit_qty += qty
        self.exit_value += qty * price
        self.pnl -= fee
        left = qty
        while left > 0:
            lot = self.lots[0]
            used = min(lot[0], left)
            self.pnl += (price - lot[1]) * used * self.sign
            lot[0] -= used
            left -= used
            if lot[0] == 0:
                self.lots.popleft()

    @property
    def held(self) -> Decimal:
        return self.entry_qty - self.exit_qty


class RoundTrips:
    """Fed the journal's events in order (``on_event``); ``closed`` holds the round trips."""

    def __init__(self) -> None:
        self.closed: list[RoundTrip] = []
        self._roles: dict[str, str] = {}  # client id -> exit_role (protective legs only)
        self._open: dict[str, _Open] = {}
        self.traded_notional = 0.0  # every fill's |qty x price|: turnover's numerator

    def on_event(self, e: dict[str, Any]) -> None:
        kind = e.get("type")
        if kind == "INTENT" and e.get("exit_role"):
            self._roles[e["client_order_id"]] = e["exit_role"]
        elif kind == "FILL":
            self._fill(e)

    def still_open(self) -> dict[str, _Open]:
        return dict(self._open)

    def _fill(self, e: dict[str, Any]) -> None:
        symbol, qty, price = e["symbol"], Decimal(e["qty"]), Decimal(e["price"])
        if qty <= 0:
            return
        self.traded_notional += float(qty * price)
        sign = 1 if e["side"] == "BUY" else -1
        fee_per_unit = Decimal(e.get("fee") or 0) / qty
        ts = int(e["fill_ts_ns"])
        trade = self._open.get(symbol)
        if trade is not None and trade.sign != sign:  # reduces (or flips) the position
            closing = min(qty, trade.held)
            trade.reduce(closing, price, closing * fee_per_unit)
            qty -= closing
            if trade.held == 0:
                del self._open[symbol]
                reason = self._roles.get(e["client_order_id"], "signal")
                self.closed.append(_closed(symbol, trade, ts, reason))
            if qty == 0:
                return
            trade = self._open.get(symbol)
        if trade is None:
            trade = self._open[symbol] = _Open(sign, ts)
        trade.add(qty, price, qty * fee_per_unit)


def _closed(symbol: str, trade: _Open, ts_ns: int, reason: str) -> RoundTrip:
    return RoundTrip(
        symbol=symbol,
        side="long" if trade.sign > 0 else "short",
        qty=trade.entry_qty,
        entry_ts_ns=trade.entry_ts,
        entry_price=trade.entry_value / trade.entry_qty,
        exit_ts_ns=ts_ns,
        exit_price=trade.exit_value / trade.exit_qty,
        pnl=trade.pnl,
        exit_reason=reason,
    )


def write_trades_csv(path: Path, trips: RoundTrips) -> None:
    """``trades.csv``: one round trip a line, in the order they closed, then the positions
    still open (by symbol)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(t.row() for t in trips.closed)
    for symbol, trade in sorted(trips.still_open().items()):
        side = "long" if trade.sign > 0 else "short"
        entry = _num(trade.entry_value / trade.entry_qty, "0.00000001")
        writer.writerow([symbol, side, _num(trade.held), _time(trade.entry_ts), entry,
                         "", "", "", "", "open"])  # fmt: skip
    write_private(path, buffer.getvalue())
