"""The replay summary, on a four-bar run worked out by hand: trades, flips, shortfall, PnL,
drawdown and the per-sleeve attribution a user reads in summary.json and report.html."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from quantbot.domain.values import Bar
from quantbot.research.summary import ReplayTally, summarize

SYM = "SIM-AAA"
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00Z
MINUTE = 60 * 10**9


class FakeRun:
    """What the tally is told after a batch: the ledger's positions and event count (a fill
    is an event) and the venue's equity; and the bars played."""

    def __init__(self) -> None:
        self.positions: dict[str, Any] = {}
        self.ledger = SimpleNamespace(positions=self.positions, last_event_seq=0)
        self.bars = 0

    def after(self, tally: ReplayTally, i: int, close: float, qty: int, equity: int) -> None:
        if SYM not in self.positions or self.positions[SYM].qty != qty:
            self.ledger.last_event_seq += 1  # the fill that moved it
        self.positions[SYM] = SimpleNamespace(qty=Decimal(qty))
        self.bars += 1
        bar = Bar(SYM, T0 + i * MINUTE, close, close, close, close, 1000.0, 60)
        tally.note_batch([bar], float(equity), self.ledger)  # type: ignore[arg-type]


def decision(i: int, code: str | None, shares: dict[str, float], **order: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "decision_id": f"{SYM}@{T0 + i * MINUTE}",
        "symbol": SYM,
        "net": {"contributions": shares},
        "reason": {"code": code} if code else None,
    }
    if order:
        record["intent"] = {"client_order_id": order["cid"], "side": order["side"]}
        record["arrival_price"] = order["arrival"]
    return record


def fill(cid: str, trade: str, fee: str, i: int) -> dict[str, Any]:
    """``trade``: "BUY 2 @101", filled at bar ``i``."""
    side, qty, price = trade.replace("@", "").split()
    return {"type": "FILL", "client_order_id": cid, "symbol": SYM, "side": side, "qty": qty,
            "price": price, "fee": fee, "fill_ts_ns": T0 + i * MINUTE}  # fmt: skip


@pytest.fixture
def run(tmp_path: Path) -> tuple[ReplayTally, FakeRun, Path]:
    tally, daemon = ReplayTally(), FakeRun()
    both = {"trend": 0.6, "mean_reversion": -0.2}
    # bar 0 (close 100): buy 2 at arrival 100; flat until it fills
    tally.note_record(decision(0, None, both, cid="c1", side="BUY", arrival="100"))
    tally.note_record({"event": "RECONCILE", "reason": {"code": "X"}})  # not a decision
    daemon.after(tally, 0, 100.0, 0, 1000)
    # bar 1 (close 102): filled at 101, long 2
    tally.note_record(decision(1, "NETTING_DEADBAND", both))
    daemon.after(tally, 1, 102.0, 2, 1004)
    # bar 2 (close 99): sell 4 (reverse) at arrival 99
    tally.note_record(decision(2, None, {"trend": -0.5}, cid="c2", side="SELL", arrival="99"))
    daemon.after(tally, 2, 99.0, 2, 998)
    # bar 3 (close 97): filled at 98.9, short 2
    tally.note_record(decision(3, "NETTING_DEADBAND", {"trend": -0.5}))
    daemon.after(tally, 3, 97.0, -2, 990)
    state = tmp_path / "state"
    state.mkdir()
    events = [
        {"type": "INTENT", "client_order_id": "c1", "bar_ts_ns": T0},
        fill("c1", "BUY 2 @101", "0.2", 1),
        {"type": "INTENT", "client_order_id": "c2", "bar_ts_ns": T0 + 2 * MINUTE},
        fill("c2", "SELL 1 @99.0", "0.1", 3),
        fill("c2", "SELL 3 @98.8666666666666667", "0.3", 3),
    ]
    (state / "journal.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    # The orders' final TCA records: c1 booked to trend, c2 (the reversal) to mean reversion.
    tca = [
        {"client_order_id": "c1", "decision_ts": "2026-01-01T00:00:00Z", "symbol": SYM,
         "side": "BUY", "filled_qty": "2", "notional": "202", "fees": "0.2",
         "arrival_price": "100", "sleeve": "trend"},
        {"client_order_id": "c2", "decision_ts": "2026-01-01T00:02:00Z", "symbol": SYM,
         "side": "SELL", "filled_qty": "4", "notional": "395.6", "fees": "0.4",
         "arrival_price": "99", "sleeve": "mean_reversion"},
    ]  # fmt: skip
    (tmp_path / "tca.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in tca))
    return tally, daemon, tmp_path


def test_the_summary_of_a_hand_worked_run(run: tuple[ReplayTally, FakeRun, Path]) -> None:
    tally, daemon, out = run
    summary = summarize("rp-test", out, tally, daemon.bars)
    assert summary["bars"] == summary["batches"] == 4
    orders = summary["orders"]
    assert (orders["sent"], orders["fills"], orders["flips"]) == (2, 3, 1)
    assert orders["trades_per_day"] == 2.0 and orders["flip_rate"] == 0.5
    assert orders["busiest_days"] == [("2026-01-01", 2)]
    reasons = summary["decisions_by_reason"]
    assert reasons == {
        "ORDER": {"count": 2, "share": 0.5},
        "NETTING_DEADBAND": {"count": 2, "share": 0.5},
    }
    # c1 bought at 101 against 100: 100 bps; c2 sold 4 at VWAP 98.9 against 99: 10.101 bps
    shortfall = summary["implementation_shortfall_bps"]
    assert shortfall == {"n": 2, "p10": 10.101, "p50": 100.0, "p90": 100.0, "mean": 55.051}
    pnl = summary["pnl"]
    assert (pnl["start_equity"], pnl["end_equity"], pnl["total"]) == (1000, 990, -10)
    assert pnl["max_drawdown_pct"] == round((990 - 1004) / 1004 * 100, 3)
    # The long 2 trend opened at 101 is closed by c2 at 98.9: -4.2 to trend, less its fee
    # 0.2; c2's other 2 open a short for mean reversion at 98.9, marked at the last close 97:
    # +3.8, less its fee 0.4. Gross (arrival prices, no fees): trend (99-100)x2 = -2, mean
    # reversion (99-97)x2 = +4.
    attribution = summary["attribution_by_sleeve"]
    assert attribution["pnl"] == {"mean_reversion": 3.4, "trend": -4.4}
    assert attribution["gross"] == {"mean_reversion": 4.0, "trend": -2.0}
    assert attribution["unexplained"] == -9.0  # this hand-made run's equity is not its fills
    report = (out / "report.html").read_text()
    assert report.count("<polyline") >= 2 and "trend" in report
    assert "http" not in report.replace("http://www.w3.org", "")  # opens offline


def test_the_tally_keeps_counts_not_records(run: tuple[ReplayTally, FakeRun, Path]) -> None:
    """Memory stays flat in the length of a replay: per batch, a time and an equity."""
    tally, _, _ = run
    assert len(tally.ts) == len(tally.equity) == 4
    assert tally.decisions == 4 and set(tally.arrival) == {"c1", "c2"}
    held = [v for v in vars(tally).values() if isinstance(v, list)]
    assert held == []  # no list grows with the records


def test_the_metrics_benchmark_and_trades_of_the_hand_worked_run(
    run: tuple[ReplayTally, FakeRun, Path],
) -> None:
    tally, daemon, out = run
    summary = summarize("rp-test", out, tally, daemon.bars)
    m = summary["metrics"]
    assert m["total_return_pct"] == -1.0  # 1000 -> 990
    assert m["max_drawdown_pct"] == summary["pnl"]["max_drawdown_pct"]
    assert m["sharpe"] is None  # one day: no daily return to measure
    # held after bars 1-3: gross 2 x 102, 2 x 99, 2 x 97 against equity 1004, 998, 990
    assert m["exposure_time_pct"] == 75.0
    assert m["avg_gross_exposure_pct"] == round((204 / 1004 + 198 / 998 + 194 / 990) / 4 * 100, 3)
    assert m["turnover"] == round((202 + 99 + 296.6) / 998, 3)  # fills' notional / mean equity
    # One round trip: long 2 @101 out at 99 and 98.8667 (-4.1333), fees 0.2 + 0.1 + 0.1
    assert (m["trades"], m["win_rate_pct"], m["avg_loss"]) == (1, 0.0, -4.53)
    assert m["profit_factor"] == 0.0 and m["avg_win"] is None
    bench = summary["benchmark"]
    assert bench["per_symbol"][SYM]["total_return_pct"] == -3.0  # close 100 -> 97
    assert bench["per_symbol"][SYM]["max_drawdown_pct"] == round(-5 / 102 * 100, 3)
    assert bench["equal_weight"] == bench["per_symbol"][SYM]  # a basket of one
    assert summary["equity_curve"] == [["2026-01-01", 990.0]]  # the day's last equity
    assert summary["benchmark_curve"] == [["2026-01-01", 970.0]]
    rows = (out / "trades.csv").read_text().splitlines()
    assert rows[1:] == [
        f"{SYM},long,2,2026-01-01T00:01:00Z,101,2026-01-01T00:03:00Z,98.93333333,-4.53,0.00,signal",
        f"{SYM},short,2,2026-01-01T00:03:00Z,98.86666667,,,,,open",
    ]


def test_an_order_a_pretrade_gate_refused_counts_as_that_gates_block(tmp_path: Path) -> None:
    """The gate's refusal is in the record's ``order`` (the step's reason stays empty): the
    per-gate shares name the gate, not ORDER. A shadow order is still an order."""
    tally = ReplayTally()
    collar = {"outcome": "NOT_SENT", "reason": {"code": "PRICE_COLLAR_BLOCK", "check": "order"}}
    sent = {"outcome": "ACCEPTED", "venue_order_id": "v1", "reason": None}
    shadow = {"outcome": "NOT_SENT", "reason": {"code": "EXEC_SHADOW_NOT_SENT"}}
    for i, order in enumerate((collar, sent, shadow, collar)):
        record = decision(i, None, {"trend": 1.0}, cid=f"c{i}", side="BUY", arrival="100")
        tally.note_record({**record, "order": order})
    assert tally.reasons == {"PRICE_COLLAR_BLOCK": 2, "ORDER": 2}
    (tmp_path / "state").mkdir()
    tally.note_batch([Bar(SYM, T0, 100.0, 100.0, 100.0, 100.0, 1.0, 60)], 1000.0, None)
    shares = summarize("rp-gates", tmp_path, tally, 4)["decisions_by_reason"]
    assert shares["PRICE_COLLAR_BLOCK"] == {"count": 2, "share": 0.5}


def test_the_equal_weight_basket_counts_symbols_from_their_first_close() -> None:
    """Symbols that join later (two in one batch) hold cash until their first close: the
    basket a user reads in summary.json is (sum of close / first close + cash) / symbols."""
    from quantbot.research.summary import performance
    from quantbot.research.trades import RoundTrips

    tally = ReplayTally()
    batches = [
        {"A": 100.0},
        {"A": 90.0, "B": 50.0},  # (0.9 + 1 + 2 cash) / 4 = 0.975
        {"A": 99.0, "B": 40.0},  # (0.99 + 0.8 + 2) / 4 = 0.9475
        {"C": 10.0, "D": 20.0},  # both join: (0.99 + 0.8 + 1 + 1) / 4 = 0.9475
        {"A": 110.0, "B": 60.0, "C": 12.0, "D": 18.0},  # (1.1 + 1.2 + 1.2 + 0.9) / 4 = 1.1
    ]
    for i, closes in enumerate(batches):
        bars = [Bar(s, T0 + i * MINUTE, c, c, c, c, 1000.0, 60) for s, c in closes.items()]
        tally.note_batch(bars, 1000.0, None)
    basket = performance(tally, RoundTrips())["benchmark"]["equal_weight"]
    assert basket["total_return_pct"] == pytest.approx(10.0, abs=1e-3)
    assert basket["max_drawdown_pct"] == pytest.approx(-5.25, abs=1e-3)  # 1.0 -> 0.9475
