"""A long order journal written fast: the history start-up benches and compaction tests need.

``write_history(path, orders)`` writes ``orders`` orders the way the daemon journals them (a
BASELINE, then per order an INTENT with its exit parameters, an ACK and a FILL; every fourth
a resting LIMIT that is canceled after a partial fill, with an EXIT plan armed and done), one
order every ``spacing_s`` seconds of journal time, and leaves the last few open: one working
LIMIT, one UNKNOWN, one LOST. About 4.5 events and 1.3 KB per order, as a replay's journal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from quantbot.fsutil import write_private

START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
SYMBOLS = ("AAPL", "MSFT", "IBM")
EXITS = {
    "policy": "SCALPER",
    "stop_loss_pct": 0.003,
    "take_profit_pct": 0.004,
    "trailing_stop_pct": None,
    "max_hold_bars": 30,
    "sleeve": "trend",
}


def history_events(orders: int, *, spacing_s: float = 86.4) -> Iterator[dict[str, Any]]:
    """The events of ``orders`` orders, seq and ts_ns included (see the module doc)."""
    seq = 0
    fill_seq = 0

    def event(ts: int, kind: str, **fields: Any) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        return {"seq": seq, "ts_ns": ts, "type": kind, **fields}

    yield event(START_NS, "BASELINE", fill_seq=0, positions={})
    step = int(spacing_s * 1e9)
    for i in range(orders):
        ts = START_NS + (i + 1) * step
        symbol = SYMBOLS[i % len(SYMBOLS)]
        side = "BUY" if (i // len(SYMBOLS)) % 2 == 0 else "SELL"
        cid = f"qb{i:030x}"
        price = f"{100 + (i % 97) * 0.37:.8f}"
        limit = i % 4 == 3 or i >= orders - 3
        yield event(
            ts,
            "INTENT",
            client_order_id=cid,
            decision_id=f"{symbol}@{ts - step}",
            symbol=symbol,
            side=side,
            qty="10",
            order_type="LIMIT" if limit else "MARKET",
            limit_price=price if limit else None,
            stop_price=None,
            bar_ts_ns=ts - step,
            arrival_price=price,
            exits=EXITS,
        )
        if i == orders - 2:
            yield event(ts, "UNKNOWN", client_order_id=cid, reason="ORDER_UNKNOWN_PENDING")
            continue
        if i == orders - 1:
            yield event(ts, "UNKNOWN", client_order_id=cid, reason="ORDER_UNKNOWN_PENDING")
            yield event(ts + 1, "LOST", client_order_id=cid, reason="ORDER_LOST")
            continue
        yield event(ts, "ACK", client_order_id=cid, venue_order_id=f"sim-{i + 1}")
        if i == orders - 3:
            continue  # a LIMIT still working
        fill_seq += 1
        qty = "4" if limit else "10"
        yield event(
            ts + 1,
            "FILL",
            fill_id=f"sim-f-{fill_seq}",
            client_order_id=cid,
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            fee="0.01",
            fill_ts_ns=ts + 1,
            venue_order_id=f"sim-{i + 1}",
            fill_seq=fill_seq,
        )
        if limit:
            yield event(ts + 2, "CANCEL_REQUESTED", client_order_id=cid)
            yield event(ts + 2, "CANCELED", client_order_id=cid, venue_order_id=f"sim-{i + 1}")
            yield event(ts + 2, "EXIT", symbol=symbol, action="ARMED", plan_id=cid, side=side,
                        qty=qty, entry_price=price, params=EXITS, legs={})  # fmt: skip
            yield event(ts + 3, "EXIT", symbol=symbol, action="DONE", plan_id=cid, side=side,
                        lock_until_ns=ts + step)  # fmt: skip


def write_history(path: Path, orders: int, *, spacing_s: float = 86.4) -> int:
    """Write the journal of ``orders`` orders at ``path`` (owner-only); its size in bytes."""
    data = b"".join(
        orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE)
        for e in history_events(orders, spacing_s=spacing_s)
    )
    write_private(path, data)
    return len(data)


def write_book(path: Path, orders: int, *, spacing_s: float = 86.4) -> None:
    """The paper venue's book (``sim_venue.json``) those orders leave: every order and fill
    ever (the venue keeps them all), positions and cash to match."""
    from decimal import Decimal  # noqa: PLC0415 (only the bench and tests build books)

    from quantbot.domain.values import Fill, Order, OrderStatus, OrderType, Side  # noqa: PLC0415
    from quantbot.venues.sim.book import write_snapshot  # noqa: PLC0415
    from quantbot.venues.sim.state import SimBook  # noqa: PLC0415

    book = SimBook(cash=Decimal("1000000"))
    intents: dict[str, dict[str, Any]] = {}
    for e in history_events(orders, spacing_s=spacing_s):
        if e["type"] == "INTENT":
            intents[e["client_order_id"]] = e
        elif e["type"] in ("ACK", "FILL", "CANCELED"):
            i = intents[e["client_order_id"]]
            status = {"ACK": OrderStatus.ACCEPTED, "FILL": OrderStatus.FILLED}.get(
                e["type"], OrderStatus.CANCELED
            )
            filled = Decimal(e.get("qty", "0")) if e["type"] == "FILL" else None
            if filled is not None:
                book.apply_fill(Fill(e["fill_id"], i["client_order_id"], i["symbol"],
                                     Side(i["side"]), filled, Decimal(e["price"]),
                                     Decimal(e["fee"]), e["fill_ts_ns"], e["venue_order_id"],
                                     e["fill_seq"]))  # fmt: skip
                if filled < Decimal(i["qty"]):
                    status = OrderStatus.PARTIALLY_FILLED
            before = book.orders.get(i["client_order_id"])
            book.put_order(Order(i["client_order_id"], i["symbol"], Side(i["side"]),
                                 Decimal(i["qty"]), OrderType(i["order_type"]), status,
                                 limit_price=None if i["limit_price"] is None
                                 else Decimal(i["limit_price"]),
                                 venue_order_id=f"sim-{int(i['client_order_id'][2:], 16) + 1}",
                                 filled_qty=filled or (before.filled_qty if before else Decimal(0)),
                                 created_ts_ns=i["ts_ns"]))  # fmt: skip
            book.seen_client_ids.add(i["client_order_id"])
    write_snapshot(book, path)
