"""Per-symbol instruments in a replay, judged by what a trader would check: every fill lies in
its bar's range, the replay trades a sensible number of orders, and an instrument wrong for
the data (a 0.01 tick on 5-decimal FX prices) stops the replay loudly instead of reporting a
PnL nobody could have made.

The series are synthetic, seeded and built here: an FX-like hourly series (prices like
1.08437) and a BTC-like minute series (prices near 40,000, fractional volumes of a few BTC, a
bar worth millions)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import read_jsonl, run

pytestmark = pytest.mark.e2e


def _series(path: Path, *, start: float, decimals: int, step: timedelta, volume: float,
            vol_decimals: int, bars: int = 1500) -> None:  # fmt: skip
    """A seeded random walk with slow regimes (so the trend sleeve has something to follow),
    prices and volumes written with the given decimals."""
    rng = random.Random(17)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    price, lines = start, ["date,open,high,low,close,volume"]
    for i in range(bars):
        drift = 0.0008 * math.sin(i / 60.0)
        close = price * math.exp(drift + rng.gauss(0.0, 0.002))
        high = max(price, close) * (1 + abs(rng.gauss(0.0, 0.001)))
        low = min(price, close) * (1 - abs(rng.gauss(0.0, 0.001)))
        vol = volume * rng.uniform(0.5, 1.5)
        when = (t0 + step * i).strftime("%Y-%m-%dT%H:%M:%S")
        f = f"{{:.{decimals}f}}"
        row = [f.format(x) for x in (price, high, low, close)]
        lines.append(",".join([when, *row, f"{vol:.{vol_decimals}f}"]))
        price = float(row[3])
    path.write_text("\n".join(lines) + "\n")


def _replay(workdir: Path, data: Path, config_extra: str = "") -> tuple[int, str, Path | None]:
    config = workdir / "config.toml"
    config.write_text(config.read_text() + config_extra)
    done = run(workdir, "replay", "--data", str(data), "--out", str(workdir / "o"))
    found = list((workdir / "o").glob("rp-*"))
    return done.returncode, done.stderr, found[0] if found else None


def _fills_in_range(out: Path) -> tuple[int, int]:
    bars = {r["bar_ts"]: r["bar"] for r in read_jsonl(out / "decisions.jsonl") if "bar" in r}
    fills = [e for e in read_jsonl(out / "state" / "journal.jsonl") if e["type"] == "FILL"]
    times = sorted(bars)
    outside = 0
    for fill in fills:  # the bar the fill happened in: the last one opened before it
        ts = datetime.fromtimestamp(fill["fill_ts_ns"] / 1e9, UTC)
        opened = [t for t in times if datetime.fromisoformat(t.replace("Z", "+00:00")) < ts]
        bar = bars[opened[-1]]
        if not bar["l"] * 0.999 <= float(fill["price"]) <= bar["h"] * 1.001:
            outside += 1
    return len(fills), outside


def test_fx_prices_get_their_own_tick_and_every_fill_is_a_price_that_traded(
    workdir: Path,
) -> None:
    data = workdir / "EURUSD-1h.csv"
    _series(data, start=1.08437, decimals=5, step=timedelta(hours=1), volume=2_000_000.0,
            vol_decimals=0)  # fmt: skip
    code, err, out = _replay(workdir, data)
    assert code == 0, err
    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["instruments"]["EURUSD"]["tick_size"] == "0.00001"
    assert summary["instruments"]["EURUSD"]["source"] == "inferred"
    fills, outside = _fills_in_range(out)
    assert fills >= 10 and outside == 0
    # The fill model that made these prices, in the summary and in every TCA record.
    assert summary["fill_model"]["slippage_model"] == "market"
    tca = read_jsonl(out / "tca.jsonl")
    assert tca and all("slippage_model=market" in r["fill_model"] for r in tca)


def test_a_tick_wrong_for_the_data_stops_the_replay_loudly(workdir: Path) -> None:
    data = workdir / "EURUSD-1h.csv"
    _series(data, start=1.08437, decimals=5, step=timedelta(hours=1), volume=2_000_000.0,
            vol_decimals=0)  # fmt: skip
    code, err, _ = _replay(workdir, data, '\n[instruments."EURUSD"]\ntick_size = "0.01"\n')
    assert code == 2
    assert "lies outside its bar" in err and "EURUSD" in err and "tick is 0.01" in err


def test_btc_like_minutes_trade_with_the_venues_instrument_file(workdir: Path) -> None:
    data = workdir / "BTCUSDT-1m.csv"
    _series(data, start=42_000.0, decimals=2, step=timedelta(minutes=1), volume=300.0,
            vol_decimals=5)  # fmt: skip
    (workdir / "instruments.json").write_bytes(orjson.dumps({"instruments": {"BTCUSDT": {
        "tick_size": "0.01", "lot_size": "0.00001", "min_notional": "5", "quote": "USDT",
        "shortable": False}}}))  # fmt: skip
    code, err, out = _replay(workdir, data)
    assert code == 0, err
    summary = orjson.loads((out / "summary.json").read_bytes())
    spec = summary["instruments"]["BTCUSDT"]
    assert spec["lot_size"] == "0.00001" and spec["source"].startswith("file:")
    fills, outside = _fills_in_range(out)
    assert fills >= 10 and outside == 0  # fractional BTC, not 0 orders on a 1-BTC lot
    qtys = [e["qty"] for e in read_jsonl(out / "state" / "journal.jsonl") if e["type"] == "FILL"]
    assert any("." in q for q in qtys)
