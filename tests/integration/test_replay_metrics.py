"""`quantbot replay`'s standard metrics, buy-and-hold benchmark, trades.csv and per-gate
shares, on the real daily bars in ../shared/data, as a user reads them after a run."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import read_jsonl, run
from tests.integration.test_replay import CONFIG, DAILY, replay

METRICS = {
    "total_return_pct", "cagr_pct", "ann_vol_pct", "sharpe", "sortino", "calmar",
    "max_drawdown_pct", "max_drawdown_duration_days", "exposure_time_pct",
    "avg_gross_exposure_pct", "turnover", "trades", "win_rate_pct", "profit_factor", "avg_win",
    "avg_loss", "avg_holding_days",
}  # fmt: skip
COLUMNS = [
    "symbol", "side", "qty", "entry_time", "entry_price", "exit_time", "exit_price", "pnl",
    "holding_days", "exit_reason",
]  # fmt: skip
REASONS = {"signal", "stop_loss", "take_profit", "trailing_stop", "max_hold", "open"}


def adjusted_closes(symbol: str) -> list[float]:
    with (DAILY / f"{symbol}.csv").open(newline="") as f:
        return [float(row["adj_close"]) for row in csv.DictReader(f)]


@pytest.mark.e2e
def test_metrics_benchmark_and_trades_of_the_three_shared_daily_files(workdir: Path) -> None:
    data = ("--data", *(str(DAILY / f"{s}.csv") for s in ("AAPL", "IBM", "MSFT")))
    out = replay(workdir, *data)
    summary = orjson.loads((out / "summary.json").read_bytes())
    m = summary["metrics"]
    assert set(m) == METRICS
    assert m["total_return_pct"] == pytest.approx(summary["pnl"]["total"] / 1000, abs=0.001)
    assert m["max_drawdown_pct"] == summary["pnl"]["max_drawdown_pct"]
    # Buy-and-hold: each symbol's first adjusted close to its last; the basket their mean.
    bench = summary["benchmark"]
    returns = {}
    for symbol in ("AAPL", "IBM", "MSFT"):
        closes = adjusted_closes(symbol)
        returns[symbol] = (closes[-1] / closes[0] - 1) * 100
        got = bench["per_symbol"][symbol]["total_return_pct"]
        assert got == pytest.approx(returns[symbol], abs=0.01), symbol
    assert bench["per_symbol"]["AAPL"]["total_return_pct"] > 1000  # the 13.4x of the issue
    basket = bench["equal_weight"]["total_return_pct"]
    assert basket == pytest.approx(sum(returns.values()) / 3, abs=0.01)
    assert summary["equity_curve"][0] == ["2000-03-01", 100000.0]
    assert len(summary["equity_curve"]) == len(summary["benchmark_curve"]) == summary["batches"]

    with (out / "trades.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    closed = [r for r in rows if r["exit_reason"] != "open"]
    assert len(closed) == m["trades"] > 100
    assert {r["exit_reason"] for r in rows} <= REASONS
    assert {"signal", "stop_loss", "take_profit"} <= {r["exit_reason"] for r in closed}
    assert all(r["exit_time"] >= r["entry_time"] for r in closed)
    wins = sum(float(r["pnl"]) > 0 for r in closed)
    assert m["win_rate_pct"] == round(wins / len(closed) * 100, 3)
    if len(closed) == len(rows):  # all flat at the end: the round trips are the whole PnL
        total = sum(float(r["pnl"]) for r in closed)
        assert total == pytest.approx(summary["pnl"]["total"], abs=0.005 * len(closed) + 0.01)

    again = replay(workdir, *data)
    for name in ("summary.json", "trades.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.e2e
def test_orders_a_pretrade_gate_blocked_show_in_that_gates_share(workdir: Path) -> None:
    """A collar on the last 10 days' range blocks part of the orders: each is a
    PRICE_COLLAR_BLOCK in summary.json's per-gate shares, not an ORDER."""
    config = (Path(CONFIG).read_text()
              .replace("\ncollar_window_bps = 500.0", "\ncollar_window_bps = 800.0")
              .replace("\ncollar_window_s = 300.0", "\ncollar_window_s = 864000.0"))  # fmt: skip
    assert "collar_window_s = 864000.0" in config
    (workdir / "config.toml").write_text(config)
    out = replay_with(workdir, workdir / "config.toml", "--to", "2002-12-31")
    records = [r for r in read_jsonl(out / "decisions.jsonl") if r.get("decision_id")]
    blocked = [
        r for r in records
        if (r.get("order") or {}).get("outcome") == "NOT_SENT"
        and r["order"]["reason"]["code"] == "PRICE_COLLAR_BLOCK"
    ]  # fmt: skip
    went = [r for r in records if r.get("intent") and r not in blocked and not r.get("reason")]
    assert blocked and went
    shares = orjson.loads((out / "summary.json").read_bytes())["decisions_by_reason"]
    assert shares["PRICE_COLLAR_BLOCK"]["count"] == len(blocked)
    assert shares["ORDER"]["count"] == len(went)


def replay_with(workdir: Path, config: Path, *args: str) -> Path:
    data = ("--data", str(DAILY / "AAPL.csv"), str(DAILY / "MSFT.csv"))
    result = run(workdir, "replay", "--config", str(config), *data, *args, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    [line] = [line for line in result.stdout.splitlines() if "records:" in line]
    return workdir / Path(line.split()[-1]).parent
