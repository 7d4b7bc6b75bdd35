"""The paper venue's book (cash, positions, orders, fills, marks) and its file in ``state/``.

The book is what a broker would hold, so a restarted daemon reconciles against it exactly as it
would against a real one: every order ever accepted or rejected (terminal ones included), every
client order id ever seen (duplicates stay rejected across restarts), fills with their sequence
numbers, and the last marks.

The file is orjson with Decimals as strings, written atomically (temp file in the same
directory, fsync, ``os.replace``, directory fsync) with mode 0o600. It is rewritten whole on each
mutation batch: simple and crash-safe, at a cost that grows with the fill history.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import attrs
import orjson

from quantbot.domain.errors import StartupError
from quantbot.domain.values import ZERO, Fill, Order, OrderStatus, OrderType, Position, Side

FORMAT_VERSION = 1
FILE_MODE = 0o600

_T = TypeVar("_T")


@attrs.define
class SimBook:
    """Mutable venue state. Change orders through ``put_order`` so the working index follows."""

    cash: Decimal
    positions: dict[str, Position] = attrs.field(factory=dict)
    orders: dict[str, Order] = attrs.field(factory=dict)  # submission order, terminal included
    fills: list[Fill] = attrs.field(factory=list)  # ascending seq
    next_seq: int = 1
    next_order_no: int = 1
    marks: dict[str, Decimal] = attrs.field(factory=dict)
    seen_client_ids: set[str] = attrs.field(factory=set)
    armed_stops: set[str] = attrs.field(factory=set)  # STOP orders already triggered
    # symbol -> working client ids in submission order (a dict used as an ordered set)
    _working: dict[str, dict[str, None]] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        for order in self.orders.values():
            self._index(order)

    def put_order(self, order: Order) -> None:
        self.orders[order.client_order_id] = order
        self._index(order)

    def _index(self, order: Order) -> None:
        ids = self._working.setdefault(order.symbol, {})
        if order.status.is_open:
            ids[order.client_order_id] = None  # an update keeps the original queue position
        else:
            ids.pop(order.client_order_id, None)
            self.armed_stops.discard(order.client_order_id)

    def working(self, symbol: str | None = None) -> list[Order]:
        """Open orders (of ``symbol``) in submission order."""
        if symbol is None:
            return [o for o in self.orders.values() if o.status.is_open]
        return [self.orders[cid] for cid in self._working.get(symbol, ())]

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

    def mark_price(self, symbol: str) -> Decimal | None:
        """Last close, else the position's entry price, else None (never traded, no bar yet)."""
        mark = self.marks.get(symbol)
        if mark is not None:
            return mark
        position = self.positions.get(symbol)
        return position.avg_price if position is not None and position.qty else None

    def equity(self) -> Decimal:
        value = self.cash
        for symbol, position in self.positions.items():
            if position.qty:
                value += position.qty * (self.mark_price(symbol) or ZERO)
        return value

    def gross_exposure(self, extra: Order | None = None) -> Decimal:
        """Worst-case gross notional if every working order (and ``extra``) fills.

        Per symbol: the larger of |position + all buys| and |position - all sells|, the
        position at its mark and orders at their limit/stop price (market orders at the mark;
        with no mark at all they count as zero until the first bar). Netting per symbol is what
        lets an order that closes a position pass even when the account is fully used.
        """
        symbols = {s for s, p in self.positions.items() if p.qty}
        symbols.update(s for s, ids in self._working.items() if ids)
        if extra is not None:
            symbols.add(extra.symbol)
        return sum((self._symbol_exposure(s, extra) for s in sorted(symbols)), ZERO)

    def _symbol_exposure(self, symbol: str, extra: Order | None) -> Decimal:
        orders = self.working(symbol)
        if extra is not None and extra.symbol == symbol:
            orders.append(extra)
        mark = self.mark_price(symbol)
        position = self.positions.get(symbol)
        held = position.qty * mark if position is not None and mark is not None else ZERO
        buys = sells = ZERO
        for order in orders:
            notional = order.remaining_qty * (order_price(order, mark) or ZERO)
            if order.side is Side.BUY:
                buys += notional
            else:
                sells += notional
        return max(abs(held + buys), abs(held - sells))


def order_price(order: Order, mark: Decimal | None) -> Decimal | None:
    """The price an order is valued at before it fills: its limit, its stop, or the mark."""
    if order.order_type is OrderType.LIMIT:
        return order.limit_price
    if order.order_type is OrderType.STOP:
        return order.stop_price
    return mark


# ---------------------------------------------------------------- persistence


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


_Converters = dict[str, Callable[[Any], Any]]
_ORDER: _Converters = {
    "side": Side,
    "order_type": OrderType,
    "status": OrderStatus,
    **dict.fromkeys(("qty", "limit_price", "stop_price", "filled_qty", "avg_fill_price"), _dec),
}
_FILL: _Converters = {"side": Side, **dict.fromkeys(("qty", "price", "fee"), _dec)}
_POSITION: _Converters = dict.fromkeys(("qty", "avg_price", "realized_pnl"), _dec)


def _decode(cls: type[_T], raw: dict[str, Any], converters: _Converters) -> _T:
    return cls(**{k: converters[k](v) if k in converters else v for k, v in raw.items()})


def _encode(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [attrs.asdict(item, recurse=False) for item in items]


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps_book(book: SimBook) -> bytes:
    document = {
        "version": FORMAT_VERSION,
        "cash": book.cash,
        "next_seq": book.next_seq,
        "next_order_no": book.next_order_no,
        "marks": book.marks,
        "positions": _encode(book.positions.values()),
        "orders": _encode(book.orders.values()),
        "fills": _encode(book.fills),
        "seen_client_ids": sorted(book.seen_client_ids),
        "armed_stops": sorted(book.armed_stops),
    }
    return orjson.dumps(document, default=_default)


def loads_book(raw: bytes) -> SimBook:
    doc = orjson.loads(raw)
    if doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported format version {doc.get('version')!r}")
    positions = [_decode(Position, p, _POSITION) for p in doc["positions"]]
    orders = [_decode(Order, o, _ORDER) for o in doc["orders"]]
    return SimBook(
        cash=Decimal(doc["cash"]),
        positions={p.symbol: p for p in positions},
        orders={o.client_order_id: o for o in orders},
        fills=[_decode(Fill, f, _FILL) for f in doc["fills"]],
        next_seq=int(doc["next_seq"]),
        next_order_no=int(doc["next_order_no"]),
        marks={s: Decimal(m) for s, m in doc["marks"].items()},
        seen_client_ids=set(doc["seen_client_ids"]),
        armed_stops=set(doc["armed_stops"]),
    )


def load_book(path: Path) -> SimBook:
    """Read the book at ``path``; an unreadable book refuses to start rather than guess."""
    try:
        return loads_book(path.read_bytes())
    except (OSError, KeyError, TypeError, ValueError, InvalidOperation) as e:
        raise StartupError(f"sim venue book {path} cannot be read: {e}") from e


def save_book(book: SimBook, path: Path) -> None:
    """Replace ``path`` with ``book`` atomically and durably, mode 0o600."""
    data = dumps_book(book)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as f:
        os.fchmod(f.fileno(), FILE_MODE)  # a leftover temp file may carry another mode
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself survive a crash
    finally:
        os.close(dir_fd)
