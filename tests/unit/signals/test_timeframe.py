"""A sleeve on a higher timeframe (``signals.timeframe``): handed each bar of its timeframe,
resampled from the base bars, at the base bar that closes it and never before; an unfinished
bucket (a gap) handed once it is known to be over; bars that cannot make the timeframe an
error; and the config key, checked at its line, in the config's plain form only when set."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError, DataError, InvariantViolation
from quantbot.domain.values import Bar
from quantbot.signals.base import SleeveSignal
from quantbot.signals.configured import configured_sleeves, sleeves_manifest
from quantbot.signals.timeframe import TimeframeSleeve, check_timeframes, timeframe_seconds

MIN5 = 300 * NS_PER_S
T0 = 1_704_067_200 * NS_PER_S  # 2024-01-01 00:00 UTC


class Seen:
    """Keeps what it is handed; long when the bar rose."""

    def __init__(self, name: str = "seen") -> None:
        self.name = name
        self.warmup_bars = 0
        self.bars: list[Bar] = []
        self.resets: list[str] = []

    def update(self, bar: Bar) -> SleeveSignal:
        self.bars.append(bar)
        return SleeveSignal(1.0 if bar.close >= bar.open else -1.0, 1.0, True, {})

    def reset(self, symbol: str) -> None:
        self.resets.append(symbol)


def bar(i: int, close: float, symbol: str = "X") -> Bar:
    """The 5-minute bar ``i`` from T0, opening at ``close - 1``."""
    return Bar(symbol, T0 + i * MIN5, close - 1, close + 2, close - 3, close, 10.0, 300.0)


def test_each_bar_of_the_timeframe_is_handed_at_the_base_bar_that_closes_it() -> None:
    inner = Seen()
    hourly = TimeframeSleeve(inner, "1h")
    signals = [hourly.update(bar(i, 100.0 + i)) for i in range(25)]
    # Bars 0..10 decide before 01:00: nothing handed, the sleeve is warming up.
    assert [s.ready for s in signals[:11]] == [False] * 11
    assert signals[11].ready  # the 00:55 bar closes the 00:00 hour
    assert [b.ts_ns for b in inner.bars] == [T0, T0 + 12 * MIN5]  # 00:00, then 01:00 at 01:55
    first = inner.bars[0]
    assert (first.open, first.high, first.low, first.close, first.volume, first.interval_s) == (
        99.0, 113.0, 97.0, 111.0, 120.0, 3600.0,
    )  # fmt: skip
    assert hourly.handed["X"] == "2024-01-01T01:00:00.000000Z"
    # Between hand-overs the last signal holds: bar 24 (02:00) has seen only 00:00 and 01:00.
    assert signals[24] is signals[23]


def test_an_unfinished_hour_is_handed_at_the_first_bar_past_it() -> None:
    inner = Seen()
    hourly = TimeframeSleeve(inner, "1h")
    for i in (*range(10), 13):  # 00:50 and 00:55 missing; 01:05 comes next
        hourly.update(bar(i, 100.0 + i))
        if i < 13:
            assert inner.bars == []
    assert [(b.ts_ns, b.close) for b in inner.bars] == [(T0, 109.0)]


def test_symbols_are_resampled_apart_and_a_reset_forgets_one() -> None:
    inner = Seen()
    hourly = TimeframeSleeve(inner, "1h")
    for i in range(12):
        hourly.update(bar(i, 100.0, "A"))
        if i < 6:
            hourly.update(bar(i, 50.0, "B"))
    hourly.reset("B")
    assert inner.resets == ["B"]
    for i in range(6, 12):
        hourly.update(bar(i, 50.0, "B"))
    assert [(b.symbol, b.ts_ns) for b in inner.bars] == [("A", T0), ("B", T0)]
    assert inner.bars[1].volume == 60.0  # only the six bars after the reset


def test_bars_that_straddle_the_timeframe_are_an_invariant_violation() -> None:
    hourly = TimeframeSleeve(Seen(), "1h")
    odd = Bar("X", T0 + 56 * 60 * NS_PER_S, 1.0, 1.0, 1.0, 1.0, 1.0, 420.0)  # 00:56-01:03
    with pytest.raises(InvariantViolation, match="straddles the end of its 1h bar"):
        hourly.update(odd)


def test_timeframes_are_checked_against_the_data_bars() -> None:
    assert [timeframe_seconds(t) for t in ("5m", "1h", "4h", "1d", "2d")] == [
        300, 3600, 14400, 86400, 172800,
    ]  # fmt: skip
    for bad in ("1w", "0h", "7m", "h", "1 h", 5):
        with pytest.raises(ValueError, match="a timeframe is a number and a unit"):
            timeframe_seconds(bad)  # type: ignore[arg-type]
    check_timeframes({"a": "1h", "b": ""}, {"X": 300.0, "Y": 3600.0})
    with pytest.raises(DataError, match=r"signals.a.timeframe = '1h': Z's bars are 86400 s"):
        check_timeframes({"a": "1h"}, {"X": 300.0, "Z": 86400.0})
    with pytest.raises(DataError, match="whole multiple"):
        check_timeframes({"a": "1h"}, {"X": 420.0})


WEIGHTS = "".join(
    f"[regime_components.{p}]\ntrend = 0.5\nmean_reversion = 0.5\n"
    for p in ("conservative", "balanced", "aggressive")
)


def test_the_config_key_is_checked_at_its_line_and_shown_only_when_set(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[signals.trend]\ntimeframe = "1h"\nfast = 3\n[signals.mean_reversion]\n' + WEIGHTS,
        encoding="utf-8",
    )
    loaded = load_config(path, environ={})
    assert loaded.plain()["signals"]["trend"] == {
        "timeframe": "1h", "fast": 3, "slow": 30, "scale": 2.0,
    }  # fmt: skip
    assert "timeframe" not in loaded.plain()["signals"]["mean_reversion"]
    sleeves = configured_sleeves(loaded.config, None)
    assert [type(s).__name__ for s in sleeves] == ["TimeframeSleeve", "MeanReversionSleeve"]
    assert sleeves.timeframed == (sleeves[0],)
    assert sleeves_manifest(loaded.config)["trend"]["timeframe"] == "1h"
    assert "timeframe" not in sleeves_manifest(loaded.config)["mean_reversion"]
    env = load_config(path, environ={"QUANTBOT__SIGNALS__MEAN_REVERSION__TIMEFRAME": "1d"})
    assert env.config.signals["mean_reversion"].timeframe == "1d"

    path.write_text('[signals.trend]\ntimeframe = "1w"\n[signals.mean_reversion]\n' + WEIGHTS)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert f"{path}:2" in str(info.value)
    assert "signals.trend.timeframe = '1w': a timeframe is a number and a unit" in str(info.value)
