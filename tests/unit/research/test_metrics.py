"""The standard metrics on series worked out by hand (conventions in research/metrics.py:
daily returns of the equity resampled to UTC days, risk-free 0, sqrt(252), sample std)."""

from __future__ import annotations

import math

import pytest

from quantbot.research import metrics
from quantbot.research.metrics import NS_PER_DAY, RunningCurve

HOUR = NS_PER_DAY // 24
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00Z
# Five day closes over exactly two years (730.5 days): +10%, -10%, 0%, +20%.
DAYS = [0, 100, 200, 300]
TS = [T0 + d * NS_PER_DAY for d in DAYS] + [T0 + 730 * NS_PER_DAY + 12 * HOUR]
EQUITY = [100.0, 110.0, 99.0, 99.0, 118.8]
SQRT252 = math.sqrt(252)


def test_a_known_equity_curve_gives_known_metrics() -> None:
    m = metrics.equity_metrics(TS, EQUITY)
    # returns 0.1, -0.1, 0, 0.2: mean 0.05; deviations .05 -.15 -.05 .15 -> var .05/3
    std = math.sqrt(0.05 / 3)
    assert m["total_return_pct"] == 18.8
    assert m["cagr_pct"] == round((math.sqrt(1.188) - 1) * 100, 3) == 8.995  # two years
    assert m["ann_vol_pct"] == round(std * SQRT252 * 100, 3) == 204.939
    assert m["sharpe"] == round(0.05 / std * SQRT252, 3) == 6.148
    # downside deviation sqrt((0.1^2) / 4) = 0.05: Sortino = 0.05 / 0.05 * sqrt(252)
    assert m["sortino"] == round(SQRT252, 3) == 15.875
    # 110 -> 99 is the worst fall (-10%); 110 was first passed on the last day, 630.5 days on
    assert m["max_drawdown_pct"] == -10.0
    assert m["max_drawdown_duration_days"] == 630.5
    assert m["calmar"] == round(8.99541 / 10, 3) == 0.9


def test_intraday_points_are_resampled_to_each_days_last_but_drawdown_sees_them_all() -> None:
    ts = [T0 + 10 * HOUR, T0 + 12 * HOUR, T0 + 20 * HOUR, T0 + NS_PER_DAY + 20 * HOUR]
    equity = [100.0, 80.0, 100.0, 110.0]
    assert metrics.daily(ts, equity) == [(T0 // NS_PER_DAY, 100.0), (T0 // NS_PER_DAY + 1, 110.0)]
    m = metrics.equity_metrics(ts, equity)
    assert m["total_return_pct"] == 10.0
    assert m["sharpe"] is None  # one daily return: no standard deviation
    assert m["max_drawdown_pct"] == -20.0  # the midday trough, which no day close shows
    assert m["max_drawdown_duration_days"] == round(10 / 24, 2)  # 10:00 -> 20:00


def test_a_curve_still_under_water_at_the_end_counts_its_drawdown_to_the_last_point() -> None:
    ts = [T0 + d * NS_PER_DAY for d in (0, 1, 2, 3, 10)]
    worst, days = metrics.max_drawdown(ts, [100.0, 101.0, 102.0, 90.0, 95.0])
    assert (round(worst, 4), days) == (round(-12 / 102 * 100, 4), 8.0)  # new highs are no drawdown


def test_undefined_numbers_are_null_never_infinite() -> None:
    flat = metrics.equity_metrics(TS, [100.0] * 5)
    assert flat["total_return_pct"] == 0.0 and flat["ann_vol_pct"] == 0.0
    assert flat["sharpe"] is flat["sortino"] is flat["calmar"] is None
    assert flat["max_drawdown_pct"] == 0.0 and flat["max_drawdown_duration_days"] == 0.0
    rising = metrics.equity_metrics(TS, [100.0, 101.0, 103.0, 104.0, 110.0])
    assert rising["sortino"] is None and rising["calmar"] is None  # no down day, no drawdown
    assert set(metrics.equity_metrics([], []).values()) == {None}
    assert metrics.trade_metrics([], [])["win_rate_pct"] is None
    # +1% in three minutes compounds past any float: no CAGR, and no OverflowError
    assert metrics.cagr_pct(100.0, 101.0, 3 / 1440) is None
    assert metrics.cagr_pct(100.0, 0.0, 3 / 1440) == -100.0


def test_known_round_trips_give_win_rate_profit_factor_and_averages() -> None:
    t = metrics.trade_metrics([10.0, -5.0, 20.0, -10.0, 0.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert t == {
        "trades": 5,
        "win_rate_pct": 40.0,  # a break-even trade is no win
        "profit_factor": 2.0,  # 30 won / 15 lost
        "avg_win": 15.0,
        "avg_loss": -7.5,
        "avg_holding_days": 3.0,
    }
    only_wins = metrics.trade_metrics([1.0, 2.0], [1.0, 1.0])
    assert only_wins["profit_factor"] is None and only_wins["avg_loss"] is None


def test_exposure_and_turnover() -> None:
    e = metrics.exposure_metrics([0.0, 50.0, 100.0, 0.0], [100.0, 100.0, 100.0, 100.0], 400.0)
    assert e == {"exposure_time_pct": 50.0, "avg_gross_exposure_pct": 37.5, "turnover": 4.0}


@pytest.mark.parametrize("series", [EQUITY, [100.0, 90.0, 95.0, 120.0, 60.0]])
def test_the_running_buy_and_hold_curve_agrees_with_the_series_metrics(series: list[float]) -> None:
    curve = RunningCurve()
    for t, v in zip(TS, series, strict=True):
        curve.add(t, v)
    whole = metrics.equity_metrics(TS, series)
    assert curve.summary() == {k: whole[k] for k in curve.summary()}
    assert RunningCurve().summary() == dict.fromkeys(curve.summary())
