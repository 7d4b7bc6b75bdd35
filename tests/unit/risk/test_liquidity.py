"""The liquidity regime: rolling volume, spread and volatility proxies, the score and the regime."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import attrs
import pytest

from quantbot.config.liquidity import LiquidityThresholds
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError
from quantbot.domain.values import Bar
from quantbot.risk.liquidity import LiquidityRegimes

N = 5  # liq_lookback_bars in these tests
PARAMS = LiquidityThresholds(liq_lookback_bars=N)  # refs: $100,000 a bar, 300 bps, 300 bps


def bar(i: int, close: float, volume: float, range_: float = 0.0, symbol: str = "X") -> Bar:
    """A bar at ``close`` whose high and low are ``range_`` apart around it."""
    high, low = close + range_ / 2, close - range_ / 2
    return Bar(symbol, i * 60_000_000_000, close, high, low, close, volume, 60.0)


def feed(regimes: LiquidityRegimes, bars: list[Bar]) -> list[dict]:
    readings = []
    for b in bars:
        regimes.update(b)
        readings.append(regimes.reading(b.symbol))
    return readings


def test_a_thin_series_is_thin_with_the_score_of_its_weakest_input() -> None:
    regimes = LiquidityRegimes(PARAMS)
    # $10,000 a bar against a $100,000 reference: 0.1; a 200 bps range: 1.5; no movement.
    readings = feed(regimes, [bar(i, 100.0, 100.0, range_=2.0) for i in range(N)])
    assert readings[-1] == {
        "regime": "THIN", "score": 0.1, "volume": 100.0, "spread": 200.0, "vol": 0.0,
    }  # fmt: skip
    assert regimes.thin("X") and regimes.collar_mult("X") == 0.5 and regimes.cost_mult("X") == 2.0


def test_warm_up_reports_the_inputs_but_no_regime_until_the_window_is_full() -> None:
    regimes = LiquidityRegimes(PARAMS)
    assert regimes.reading("X") == {
        "regime": "WARMUP", "score": None, "volume": None, "spread": None, "vol": None,
    }  # fmt: skip
    readings = feed(regimes, [bar(i, 100.0, 100.0, range_=2.0) for i in range(N)])
    assert [r["regime"] for r in readings] == ["WARMUP"] * (N - 1) + ["THIN"]
    assert all(r["score"] == 0.1 for r in readings)  # measured from the first bar on
    regimes.reset("X")  # the data contract restarted the symbol: warming up again
    assert regimes.reading("X")["regime"] == "WARMUP" and not regimes.thin("X")
    assert regimes.collar_mult("X") == 1.0 and regimes.rolling_volume("X") is None


def test_nothing_thin_applies_while_warming_up() -> None:
    regimes = LiquidityRegimes(PARAMS)
    for i in range(N - 1):
        regimes.update(bar(i, 100.0, 1.0, range_=20.0))
        assert not regimes.thin("X") and regimes.collar_mult("X") == 1.0


def test_a_thick_series_is_thick() -> None:
    regimes = LiquidityRegimes(PARAMS)
    closes = [100.0, 100.5] * 3
    readings = feed(regimes, [bar(i, c, 10_000.0, range_=0.5) for i, c in enumerate(closes)])
    window = closes[-N:]
    returns = [math.log(b / a) * 1e4 for a, b in zip(closes[-N - 1 : -1], closes[-N:], strict=True)]
    spread = statistics.fmean(0.5 / c * 1e4 for c in window)
    vol = statistics.stdev(returns)
    value = statistics.fmean(10_000.0 * c for c in window)
    score = min(value / 100_000.0, 300.0 / spread, 300.0 / vol)
    assert score >= 2.0  # the volatility decides: 300 / 54.6 = 5.49
    assert readings[-1] == {
        "regime": "THICK",
        "score": round(score, 4),
        "volume": 10_000.0,
        "spread": round(spread, 2),
        "vol": round(vol, 2),
    }
    assert not regimes.thin("X") and regimes.cost_mult("X") == 1.0


@pytest.mark.parametrize(
    ("range_", "closes", "regime"),
    [
        (8.0, [100.0] * N, "THIN"),  # 800 bps bar ranges: 300 / 800 = 0.375
        (0.0, [100.0, 108.0] * 3, "THIN"),  # returns of +-770 bps: the volatility
        (1.0, [100.0] * N, "NORMAL"),  # 100 bps: min(1000, 3) = 3, below thick_score 5
    ],
)
def test_a_wide_spread_or_a_violent_market_is_thin_whatever_its_volume(
    range_: float, closes: list[float], regime: str
) -> None:
    params = attrs.evolve(PARAMS, thick_score=5.0)
    regimes = LiquidityRegimes(params)
    readings = feed(regimes, [bar(i, c, 1e6, range_=range_) for i, c in enumerate(closes)])
    assert readings[-1]["regime"] == regime


def test_the_window_rolls_old_bars_out() -> None:
    regimes = LiquidityRegimes(PARAMS)
    feed(regimes, [bar(i, 100.0, 100.0, range_=1.0) for i in range(N)])
    assert regimes.reading("X")["regime"] == "THIN"
    readings = feed(regimes, [bar(N + i, 100.0, 1_000.0, range_=1.0) for i in range(N)])
    # $100,000 a bar once the thin bars left: the reference market exactly.
    assert [r["regime"] for r in readings] == ["THIN"] * 2 + ["NORMAL"] * 3
    assert readings[-1]["score"] == 1.0 and regimes.rolling_volume("X") == 1_000.0


def test_symbols_are_independent() -> None:
    regimes = LiquidityRegimes(PARAMS)
    for i in range(N):
        regimes.update(bar(i, 100.0, 100.0, symbol="THIN"))
        regimes.update(bar(i, 100.0, 1_500.0, symbol="BUSY"))
    assert regimes.reading("THIN")["regime"] == "THIN"
    assert regimes.reading("BUSY")["regime"] == "NORMAL"


def test_running_sums_match_a_recomputation_after_many_bars() -> None:
    rng = random.Random(11)
    params = attrs.evolve(PARAMS, liq_lookback_bars=20)
    regimes = LiquidityRegimes(params)
    close, bars = 100.0, []
    for i in range(5_003):
        close *= math.exp(rng.gauss(0, 0.01))
        volume = rng.lognormvariate(8, 1)
        bars.append(bar(i, close, volume, range_=close * rng.uniform(0, 0.03)))
        regimes.update(bars[-1])
    window = bars[-20:]
    closes = [b.close for b in bars[-21:]]
    returns = [math.log(b / a) * 1e4 for a, b in itertools.pairwise(closes)]
    got = regimes.reading("X")
    assert got["volume"] == pytest.approx(statistics.fmean(b.volume for b in window), abs=1e-3)
    spread = statistics.fmean((b.high - b.low) / b.close * 1e4 for b in window)
    assert got["spread"] == pytest.approx(spread, abs=0.01)
    assert got["vol"] == pytest.approx(statistics.stdev(returns), abs=0.01)


def test_thin_must_lie_below_thick_in_the_config() -> None:
    env = {"QUANTBOT__LIQUIDITY__BALANCED__THIN_SCORE": "3"}
    with pytest.raises(ConfigError, match=r"liquidity\.balanced\.thin_score"):
        load_config(None, environ=env)


def test_the_profile_tables_carry_the_regime_settings() -> None:
    config = load_config(None, environ={}).config
    assert config.liquidity_thresholds.liq_lookback_bars == 20
    assert config.liquidity.aggressive.thin_max_order_usd == 20_000.0
    env = {"QUANTBOT__LIQUIDITY__CONSERVATIVE__PARTICIPATION_MODE": "sometimes"}
    with pytest.raises(ConfigError, match="participation_mode"):
        load_config(None, environ=env)
