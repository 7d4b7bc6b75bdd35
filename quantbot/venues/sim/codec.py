"""The book as bytes: a whole-book snapshot document and one log record per persisted change.

Both are orjson with Decimals as exact strings and enums as their values. Orders, fills and
positions are encoded by hand (``*_doc``) rather than with ``attrs.asdict``: it is the hot path
of every persisted change, and a unit test keeps the field lists in step with the classes.

Snapshot (``FORMAT_VERSION`` 3; version 1, the whole-book file before the log existed, is read
as a snapshot with ``log_n`` 0; version 2 has no order-type fields beyond STOP and no
``trail_best``, read with their defaults)::

    {"version": 3, "log_n": N, "cash", "next_seq", "next_order_no", "marks": {sym: price},
     "positions": [...], "orders": [...], "fills": [...], "seen_client_ids": [...],
     "armed_stops": [...], "trail_best": {client_order_id: price}}

Log record (one line per persisted change; absolute values, so applying one is a set;
``trail_best`` absent in lines written before trailing stops existed)::

    {"n": N, "cash", "next_seq", "next_order_no", "orders": [...], "fills": [...],
     "positions": [...], "marks": {...}, "armed": [...], "trail_best": {...}}

Orders carry ``trail_pct``, ``oco_group`` and ``reduce_only``; an order written before they
existed reads with their defaults (None, None, False).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from quantbot.domain.values import Fill, Order, OrderStatus, OrderType, Position, Side
from quantbot.venues.sim.state import BookChanges, SimBook

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)

_T = TypeVar("_T")


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_doc(o: Order) -> dict[str, Any]:
    return {
        "client_order_id": o.client_order_id,
        "symbol": o.symbol,
        "side": o.side.value,
        "qty": str(o.qty),
        "order_type": o.order_type.value,
        "status": o.status.value,
        "limit_price": _s(o.limit_price),
        "stop_price": _s(o.stop_price),
        "venue_order_id": o.venue_order_id,
        "filled_qty": str(o.filled_qty),
        "avg_fill_price": _s(o.avg_fill_price),
        "created_ts_ns": o.created_ts_ns,
        "reason": o.reason,
        "trail_pct": _s(o.trail_pct),
        "oco_group": o.oco_group,
        "reduce_only": o.reduce_only,
    }


def fill_doc(f: Fill) -> dict[str, Any]:
    return {
        "fill_id": f.fill_id,
        "client_order_id": f.client_order_id,
        "symbol": f.symbol,
        "side": f.side.value,
        "qty": str(f.qty),
        "price": str(f.price),
        "fee": str(f.fee),
        "ts_ns": f.ts_ns,
        "venue_order_id": f.venue_order_id,
        "seq": f.seq,
    }


def position_doc(p: Position) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "qty": str(p.qty),
        "avg_price": str(p.avg_price),
        "realized_pnl": str(p.realized_pnl),
    }


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


_Converters = dict[str, Callable[[Any], Any]]
_ORDER: _Converters = {
    "side": Side,
    "order_type": OrderType,
    "status": OrderStatus,
    **dict.fromkeys(
        ("qty", "limit_price", "stop_price", "filled_qty", "avg_fill_price", "trail_pct"), _dec
    ),
}
_FILL: _Converters = {"side": Side, **dict.fromkeys(("qty", "price", "fee"), _dec)}
_POSITION: _Converters = dict.fromkeys(("qty", "avg_price", "realized_pnl"), _dec)


def _decode(cls: type[_T], raw: dict[str, Any], converters: _Converters) -> _T:
    return cls(**{k: converters[k](v) if k in converters else v for k, v in raw.items()})


def decode_order(raw: dict[str, Any]) -> Order:
    return _decode(Order, raw, _ORDER)


def decode_fill(raw: dict[str, Any]) -> Fill:
    return _decode(Fill, raw, _FILL)


def decode_position(raw: dict[str, Any]) -> Position:
    return _decode(Position, raw, _POSITION)


# ---------------------------------------------------------------- snapshot


def book_chunks(book: SimBook, log_n: int = 0, per_chunk: int = 1000) -> Iterator[bytes]:
    """The whole book as of log record ``log_n`` (records up to it are already in it), as
    one compact JSON document in pieces of at most ``per_chunk`` orders or fills, so a long
    history is written without its whole document in memory at once."""
    head = {
        "version": FORMAT_VERSION,
        "log_n": log_n,
        "cash": str(book.cash),
        "next_seq": book.next_seq,
        "next_order_no": book.next_order_no,
        "marks": {s: str(m) for s, m in book.marks.items()},
        "positions": [position_doc(p) for p in book.positions.values()],
    }
    yield orjson.dumps(head)[:-1]  # the object left open: the long lists follow
    for key, items, doc in (
        ("orders", list(book.orders.values()), order_doc),
        ("fills", book.fills, fill_doc),
    ):
        yield b',"' + key.encode() + b'":['
        for start in range(0, len(items), per_chunk):
            part = b",".join(orjson.dumps(doc(item)) for item in items[start : start + per_chunk])
            yield part if start == 0 else b"," + part
        yield b"]"
    tail = {
        "seen_client_ids": sorted(book.seen_client_ids),
        "armed_stops": sorted(book.armed_stops),
        "trail_best": {c: str(p) for c, p in sorted(book.trail_best.items())},
    }
    yield b"," + orjson.dumps(tail)[1:]


def loads_book(raw: bytes) -> tuple[SimBook, int]:
    """The book in a snapshot and the last log record it includes."""
    doc = orjson.loads(raw)
    if doc.get("version") not in READABLE_VERSIONS:
        raise ValueError(f"unsupported format version {doc.get('version')!r}")
    positions = [decode_position(p) for p in doc["positions"]]
    orders = [decode_order(o) for o in doc["orders"]]
    book = SimBook(
        cash=Decimal(doc["cash"]),
        positions={p.symbol: p for p in positions},
        orders={o.client_order_id: o for o in orders},
        fills=[decode_fill(f) for f in doc["fills"]],
        next_seq=int(doc["next_seq"]),
        next_order_no=int(doc["next_order_no"]),
        marks={s: Decimal(m) for s, m in doc["marks"].items()},
        seen_client_ids=set(doc["seen_client_ids"]),
        armed_stops=set(doc["armed_stops"]),
        trail_best={c: Decimal(p) for c, p in doc.get("trail_best", {}).items()},
    )
    return book, int(doc.get("log_n", 0))


# ---------------------------------------------------------------- log records


def dumps_record(book: SimBook, changes: BookChanges, n: int) -> bytes:
    """One log line (newline included) for ``changes``: its size follows the change, not the
    history."""
    record = {
        "n": n,
        "cash": str(book.cash),
        "next_seq": book.next_seq,
        "next_order_no": book.next_order_no,
        "orders": [order_doc(o) for o in changes.orders],
        "fills": [fill_doc(f) for f in changes.fills],
        "positions": [position_doc(p) for p in changes.positions],
        "marks": {s: str(m) for s, m in changes.marks.items()},
        "armed": changes.armed,
        "trail_best": {c: str(p) for c, p in changes.trail_best.items()},
    }
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def apply_record(book: SimBook, record: dict[str, Any]) -> None:
    """Replay one log record onto ``book``. Orders come before armed stops and trailing best
    prices: those in a record are still working at its end (``SimBook.changes`` leaves out
    those that went terminal), and putting a terminal order drops them."""
    for raw in record["orders"]:
        order = decode_order(raw)
        book.put_order(order)
        book.seen_client_ids.add(order.client_order_id)
    for raw in record["fills"]:
        fill = decode_fill(raw)
        if fill.seq < book.next_seq:
            raise ValueError(f"fill seq {fill.seq} is below the book's next seq {book.next_seq}")
        book.fills.append(fill)
        book.next_seq = fill.seq + 1
    for raw in record["positions"]:
        position = decode_position(raw)
        book.positions[position.symbol] = position
    book.marks.update((s, Decimal(m)) for s, m in record["marks"].items())
    book.armed_stops.update(record["armed"])
    book.trail_best.update((c, Decimal(p)) for c, p in record.get("trail_best", {}).items())
    book.cash = Decimal(record["cash"])
    book.next_seq = int(record["next_seq"])
    book.next_order_no = int(record["next_order_no"])
    book.changed()
