"""Round trips from a hand-made journal: FIFO lots, scaling in and out, a flip, the exit
reason of the closing order, fees, and the trades.csv a user opens."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantbot.research.trades import COLUMNS, RoundTrips, write_trades_csv

DAY = 86_400 * 10**9
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00Z


def intent(cid: str, role: str | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"type": "INTENT", "client_order_id": cid, "symbol": "X"}
    if role:
        e["exit_role"] = role
    return e


def fill(cid: str, symbol: str, trade: str, fee: str, day: float) -> dict[str, Any]:
    """``trade``: "BUY 2 @100"."""
    side, qty, price = trade.replace("@", "").split()
    return {"type": "FILL", "client_order_id": cid, "symbol": symbol, "side": side,
            "qty": qty, "price": price, "fee": fee, "fill_ts_ns": T0 + int(day * DAY)}  # fmt: skip


JOURNAL = [
    intent("a1"), fill("a1", "AAA", "BUY 2 @100", "0.2", 0),  # long 2 @100
    intent("a2"), fill("a2", "AAA", "BUY 1 @103", "0.1", 1),  # scale in: 1 @103
    intent("b1"), fill("b1", "BBB", "SELL 1 @50", "0.05", 1),  # short 1 @50
    intent("a3"), fill("a3", "AAA", "SELL 1 @110", "0.1", 2),  # scale out the 1st lot
    intent("b2", "take_profit"), fill("b2", "BBB", "BUY 1 @45", "0.05", 2),
    intent("a4", "stop_loss"), fill("a4", "AAA", "SELL 2 @95", "0.2", 3.5),  # flat
    intent("a5"), fill("a5", "AAA", "SELL 3 @100", "0.3", 4),  # short 3 @100
    intent("a6"), fill("a6", "AAA", "BUY 5 @90", "0.5", 5),  # flip: long 2 @90 stays
]  # fmt: skip


def trips() -> RoundTrips:
    rt = RoundTrips()
    for e in JOURNAL:
        rt.on_event(e)
    return rt


def test_round_trips_match_fifo_and_carry_fees_and_the_closing_orders_reason() -> None:
    closed = trips().closed
    assert [(t.symbol, t.side, t.qty, t.exit_reason) for t in closed] == [
        ("BBB", "short", 1, "take_profit"),
        ("AAA", "long", 3, "stop_loss"),
        ("AAA", "short", 3, "signal"),
    ]
    bbb, long_, short = closed
    assert bbb.pnl == Decimal("4.9")  # (50 - 45) - 0.05 - 0.05
    # Long 2 @100 + 1 @103 (entry 101); out 1 @110 (the first lot: +10), then 2 @95 against
    # the rest of the 100 lot (-5) and the 103 lot (-8): -3, less 0.6 of fees.
    assert long_.entry_price == 101 and long_.exit_price == 100
    assert long_.pnl == Decimal("-3.6")
    assert (long_.entry_ts_ns, long_.exit_ts_ns, long_.holding_days) == (T0, T0 + 3.5 * DAY, 3.5)
    # Short 3 @100 closed by 3 of the 5 bought @90: +30, less 0.3 and 3/5 of 0.5.
    assert short.pnl == Decimal("29.4") and short.exit_price == 90


def test_trades_csv_lists_round_trips_then_what_is_still_open(tmp_path: Path) -> None:
    rt = trips()
    assert rt.traded_notional == 200 + 103 + 110 + 190 + 50 + 45 + 300 + 450
    write_trades_csv(tmp_path / "trades.csv", rt)
    with (tmp_path / "trades.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1:] == [
        ["BBB", "short", "1", "2026-01-02T00:00:00Z", "50", "2026-01-03T00:00:00Z", "45",
         "4.9", "1.00", "take_profit"],
        ["AAA", "long", "3", "2026-01-01T00:00:00Z", "101", "2026-01-04T12:00:00Z", "100",
         "-3.6", "3.50", "stop_loss"],
        ["AAA", "short", "3", "2026-01-05T00:00:00Z", "100", "2026-01-06T00:00:00Z", "90",
         "29.4", "1.00", "signal"],
        # the flip's rest: long 2 @90, open at the end (no exit, no PnL yet)
        ["AAA", "long", "2", "2026-01-06T00:00:00Z", "90", "", "", "", "", "open"],
    ]  # fmt: skip
