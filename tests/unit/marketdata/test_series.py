"""``BarSeries``: bars kept as columns read back as the same ``Bar`` values."""

from __future__ import annotations

import pytest

from quantbot.domain.values import Bar
from quantbot.marketdata.series import BarSeries

MIN_NS = 60 * 10**9


def _bars(symbol: str, starts: list[int]) -> list[Bar]:
    return [
        Bar(symbol, t * MIN_NS, 10.0 + t, 11.5 + t, 9.25 + t, 10.125 + t, 1e6 / 3, 60.0)
        for t in starts
    ]


def _series(symbol: str, bars: list[Bar]) -> BarSeries:
    series = BarSeries(symbol)
    for bar in bars:
        series.append(bar)
    return series


def test_bars_read_back_exactly_by_index_slice_and_iteration() -> None:
    bars = _bars("BTC/USDT", [0, 1, 2, 5, 9])
    series = _series("BTC/USDT", bars)
    assert len(series) == 5
    assert list(series) == bars
    assert series[0] == bars[0] and series[-1] == bars[-1]
    part = series[1:4]
    assert isinstance(part, BarSeries) and list(part) == bars[1:4]
    assert list(series) == bars  # slicing copied; the series is unchanged
    with pytest.raises(IndexError):
        series[5]


def test_whole_numbers_come_back_as_the_same_values() -> None:
    bar = Bar("AAPL", 86_400 * 10**9, 1, 2, 0.5, 1.5, 10, 86_400.0)
    (back,) = _series("AAPL", [bar])
    assert back == bar and type(back.open) is float


def test_first_at_or_after_cuts_by_open_time() -> None:
    series = _series("X", _bars("X", [0, 1, 2, 5, 9]))
    assert series.first_at_or_after(0) == 0
    assert series.first_at_or_after(3 * MIN_NS) == 3  # the bar opening at minute 5
    assert series.first_at_or_after(5 * MIN_NS) == 3
    assert series.first_at_or_after(10 * MIN_NS) == 5
    assert list(series.timestamps) == [t * MIN_NS for t in (0, 1, 2, 5, 9)]


def test_extend_joins_series_of_one_symbol_and_refuses_another() -> None:
    first = _series("X", _bars("X", [0, 1]))
    first.extend(_series("X", _bars("X", [2, 3])))
    assert list(first) == _bars("X", [0, 1, 2, 3])
    with pytest.raises(ValueError, match="the Y series cannot join the X series"):
        first.extend(_series("Y", _bars("Y", [4])))
    with pytest.raises(ValueError, match="a Y bar cannot join the X series"):
        first.append(_bars("Y", [4])[0])
    assert len(first) == 4


def test_set_interval_gives_every_bar_the_interval() -> None:
    series = _series("X", _bars("X", [0, 1, 2]))
    series.set_interval(300.0)
    assert {bar.interval_s for bar in series} == {300.0}
