from __future__ import annotations

import math
import statistics
from itertools import pairwise

import pytest

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar
from quantbot.portfolio.returns import MarketStats

MINUTE_NS = 60 * 10**9
DAY_NS = 86_400 * 10**9
SECOND_NS = 10**9


def feed(stats: MarketStats, symbol: str, closes: list[float], *, step_ns: int = MINUTE_NS) -> None:
    for i, close in enumerate(closes):
        stats.update(Bar(symbol, (i + 1) * step_ns, close, close, close, close, 1.0))


def closes_from(returns: list[float], start: float = 100.0) -> list[float]:
    closes = [start]
    for r in returns:
        closes.append(closes[-1] * math.exp(r))
    return closes


def log_returns(closes: list[float]) -> list[float]:
    return [math.log(b / a) for a, b in pairwise(closes)]


# A wiggly path with drift, so the mean return is not zero.
PATH = [100.0 * (1.0 + 0.002 * i) + 3.0 * math.sin(i * 0.7) for i in range(200)]


def test_annual_vol_is_sample_stdev_of_the_window_times_sqrt_periods() -> None:
    stats = MarketStats(vol_lookback=30, corr_lookback=60, periods_per_year=252.0)
    feed(stats, "AAPL", PATH[:61])
    expected = statistics.stdev(log_returns(PATH[:61])[-30:]) * math.sqrt(252.0)
    assert stats.annual_vol("AAPL") == pytest.approx(expected, rel=1e-9)


def test_annual_vol_stays_exact_over_a_long_run_of_rolling_updates() -> None:
    closes = [
        100.0 * math.exp(0.01 * math.sin(i * 0.37) + 0.02 * math.cos(i * 1.3)) for i in range(3000)
    ]
    stats = MarketStats(vol_lookback=30, corr_lookback=60, periods_per_year=1.0)
    feed(stats, "BTC", closes)
    assert stats.annual_vol("BTC") == pytest.approx(
        statistics.stdev(log_returns(closes)[-30:]), rel=1e-9
    )


def bar(symbol: str, minute: int, close: float) -> Bar:
    return Bar(symbol, minute * MINUTE_NS, close, close, close, close, 1.0)


def test_first_bar_has_no_return_and_vol_waits_for_half_the_window() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=9, periods_per_year=1.0)
    feed(stats, "ETH", PATH[:5])  # 4 returns: below 10 // 2
    assert stats.annual_vol("ETH") is None
    stats.update(bar("ETH", 6, PATH[5]))
    assert stats.annual_vol("ETH") == pytest.approx(statistics.stdev(log_returns(PATH[:6])))


def test_vol_needs_at_least_two_returns_even_for_a_tiny_window() -> None:
    stats = MarketStats(vol_lookback=2, corr_lookback=3, periods_per_year=1.0)
    feed(stats, "ETH", PATH[:2])  # one return: 2 // 2 would allow it, a stdev cannot
    assert stats.annual_vol("ETH") is None
    stats.update(bar("ETH", 3, PATH[2]))
    assert stats.annual_vol("ETH") == pytest.approx(statistics.stdev(log_returns(PATH[:3])))


def test_unknown_symbol_has_no_vol_no_price_no_correlation() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=9)
    feed(stats, "ETH", PATH[:20])
    assert stats.annual_vol("XRP") is None
    assert stats.last_price("XRP") is None
    assert stats.correlation("ETH", "XRP") is None


def test_daily_bars_are_annualised_with_252_trading_days() -> None:
    stats = MarketStats(vol_lookback=20, corr_lookback=60)
    # Mon-Fri bars with weekend gaps: the median spacing is still one day.
    day = 0
    for i, close in enumerate(PATH[:25]):
        stats.update(Bar("SPY", day * DAY_NS, close, close, close, close, 1.0, 86_400.0))
        day += 3 if i % 5 == 4 else 1
    expected = statistics.stdev(log_returns(PATH[:25])[-20:]) * math.sqrt(252.0)
    assert stats.annual_vol("SPY") == pytest.approx(expected, rel=1e-9)


def test_one_second_bars_are_annualised_with_calendar_seconds() -> None:
    stats = MarketStats(vol_lookback=20, corr_lookback=60)
    feed(stats, "BTC", PATH[:25], step_ns=SECOND_NS)
    expected = statistics.stdev(log_returns(PATH[:25])[-20:]) * math.sqrt(365.25 * 86_400)
    assert stats.annual_vol("BTC") == pytest.approx(expected, rel=1e-9)


def test_constant_price_has_zero_vol() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=9, periods_per_year=1.0)
    feed(stats, "USDC", [1.0] * 12)
    assert stats.annual_vol("USDC") == 0.0


def test_identical_paths_correlate_at_one_and_mirrored_at_minus_one() -> None:
    returns = log_returns(PATH[:40])
    stats = MarketStats(vol_lookback=10, corr_lookback=30)
    feed(stats, "A", closes_from(returns))
    feed(stats, "B", closes_from(returns, start=7.0))
    feed(stats, "C", closes_from([-r for r in returns]))
    assert stats.correlation("A", "B") == pytest.approx(1.0)
    assert stats.correlation("A", "C") == pytest.approx(-1.0)


def test_correlation_pairs_the_most_recent_returns_of_each_symbol() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=30)
    other = [50.0 + 2.0 * math.cos(i * 1.1) + 0.1 * i for i in range(15)]
    feed(stats, "A", PATH[:40])  # 39 returns, window 30
    feed(stats, "B", other)  # 14 returns: the pairs are the last 14 of each
    expected = statistics.correlation(log_returns(PATH[:40])[-14:], log_returns(other))
    assert stats.correlation("A", "B") == pytest.approx(expected, rel=1e-9)
    assert stats.correlation("B", "A") == pytest.approx(expected, rel=1e-9)


def test_correlation_is_none_until_a_third_of_the_window_is_paired() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=30)
    feed(stats, "A", PATH[:40])
    feed(stats, "B", PATH[:10])  # 9 pairs < 30 // 3
    assert stats.correlation("A", "B") is None
    stats.update(bar("B", 11, PATH[10]))
    assert stats.correlation("A", "B") is not None


def test_correlation_with_a_constant_series_is_none() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=9)
    feed(stats, "A", PATH[:20])
    feed(stats, "FLAT", [5.0] * 20)
    # Equal nonzero returns up to rounding: still no spread to correlate with.
    feed(stats, "GROW", [100.0 * 1.01**i for i in range(20)])
    assert stats.correlation("A", "FLAT") is None
    assert stats.correlation("A", "GROW") is None


def test_last_price_is_the_latest_close() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=9)
    feed(stats, "ETH", [100.0, 101.5, 99.25])
    assert stats.last_price("ETH") == 99.25


def test_reset_forgets_the_symbol_and_no_return_spans_the_jump() -> None:
    stats = MarketStats(vol_lookback=4, corr_lookback=9, periods_per_year=1.0)
    feed(stats, "ETH", PATH[:10])
    feed(stats, "BTC", PATH[:10])
    stats.reset("ETH")
    assert stats.last_price("ETH") is None
    assert stats.annual_vol("ETH") is None
    assert stats.correlation("ETH", "BTC") is None
    assert stats.annual_vol("BTC") is not None  # other symbols untouched
    # After the jump to 1000 the history starts again: the 100 -> 1000 move is not a return.
    after = [1000.0, 1010.0, 1005.0]
    for i, close in enumerate(after):
        stats.update(bar("ETH", 20 + i, close))
    assert stats.annual_vol("ETH") == pytest.approx(statistics.stdev(log_returns(after)))


@pytest.mark.parametrize("close", [math.nan, math.inf, 0.0, -1.0])
def test_bad_close_is_an_invariant_violation(close: float) -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=9)
    feed(stats, "ETH", [100.0])
    with pytest.raises(InvariantViolation, match="ETH"):
        stats.update(bar("ETH", 2, close))
    assert stats.last_price("ETH") == 100.0


def test_bar_not_after_the_previous_one_is_an_invariant_violation() -> None:
    stats = MarketStats(vol_lookback=10, corr_lookback=9)
    feed(stats, "ETH", [100.0, 101.0])
    with pytest.raises(InvariantViolation, match="not after"):
        stats.update(bar("ETH", 2, 102.0))
    assert stats.last_price("ETH") == 101.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"vol_lookback": 1, "corr_lookback": 9},
        {"vol_lookback": 10, "corr_lookback": 2},
        {"vol_lookback": 10, "corr_lookback": 9, "periods_per_year": -1.0},
        {"vol_lookback": 10, "corr_lookback": 9, "periods_per_year": math.nan},
    ],
)
def test_bad_construction_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        MarketStats(**kwargs)  # type: ignore[arg-type]


def test_answers_are_fresh_after_every_update() -> None:
    # Volatility and correlation are remembered between updates (a batch asks them many
    # times); a new bar must never be answered from before it.
    stats = MarketStats(vol_lookback=10, corr_lookback=12, periods_per_year=1.0)
    feed(stats, "A", PATH[:20])
    feed(stats, "B", PATH[:20])
    vol, corr = stats.annual_vol("A"), stats.correlation("A", "B")
    assert corr == pytest.approx(1.0) and stats.correlation("B", "A") == corr
    stats.update(Bar("A", 21 * MINUTE_NS, 1.0, 1.0, 1.0, PATH[19] * 1.05, 1.0))
    assert stats.annual_vol("A") != vol
    assert stats.correlation("B", "A") != corr
    assert stats.annual_vol("A") == pytest.approx(
        statistics.stdev(log_returns([*PATH[:20], PATH[19] * 1.05])[-10:])
    )
