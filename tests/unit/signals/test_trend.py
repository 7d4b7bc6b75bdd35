from __future__ import annotations

import math

import pytest

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar
from quantbot.signals.base import Sleeve, SleeveSignal
from quantbot.signals.trend import TrendSleeve

MINUTE_NS = 60 * 1_000_000_000


def bar(close: float, i: int = 0, symbol: str = "BTC/USDT") -> Bar:
    return Bar(symbol, i * MINUTE_NS, close, close, close, close, 1.0)


def feed(sleeve: TrendSleeve, closes: list[float], symbol: str = "BTC/USDT") -> list[SleeveSignal]:
    return [sleeve.update(bar(c, i, symbol)) for i, c in enumerate(closes)]


def wiggle(i: int) -> float:
    """Deterministic bar-to-bar noise, so volatility is not just the drift."""
    return 0.002 * math.sin(i * 1.7)


def rising(n: int, start: float = 100.0) -> list[float]:
    return [start * 1.001**i * (1.0 + wiggle(i)) for i in range(n)]


def test_satisfies_the_sleeve_protocol() -> None:
    sleeve: Sleeve = TrendSleeve()
    assert sleeve.name == "trend"
    assert sleeve.warmup_bars == 30


def test_not_ready_before_slow_bars_then_ready() -> None:
    sleeve = TrendSleeve(fast=3, slow=8)
    signals = feed(sleeve, rising(12))
    for sig in signals[:7]:
        assert not sig.ready
        assert sig.target == 0.0
        assert sig.confidence == 0.0
    assert all(sig.ready for sig in signals[7:])
    assert signals[7].target > 0.0


def test_uptrend_is_long_with_confidence_from_target() -> None:
    sig = feed(TrendSleeve(), rising(80))[-1]
    assert sig.ready
    assert 0.5 < sig.target <= 1.0
    assert sig.confidence == pytest.approx(abs(sig.target))
    assert set(sig.detail) >= {"ema_fast", "ema_slow", "vol"}
    assert sig.detail["ema_fast"] > sig.detail["ema_slow"]
    assert sig.detail["vol"] > 0.0


def test_sustained_reversal_flips_to_short() -> None:
    up = rising(80)
    down = [up[-1] * 0.999 ** (i + 1) * (1.0 + wiggle(i)) for i in range(80)]
    signals = feed(TrendSleeve(), up + down)
    ready = [s.target for s in signals if s.ready]
    assert ready[len(up) - 30] > 0.0  # end of the uptrend
    assert signals[-1].target < -0.5
    assert signals[-1].detail["ema_fast"] < signals[-1].detail["ema_slow"]
    # stop-and-reverse: once the cross flips the target stays short
    first_short = next(i for i, t in enumerate(ready) if t < 0.0)
    assert all(t < 0.0 for t in ready[first_short:])


def test_flat_prices_give_zero_target() -> None:
    sig = feed(TrendSleeve(fast=3, slow=8), [50.0] * 20)[-1]
    assert sig.ready
    assert sig.target == 0.0
    assert sig.confidence == 0.0


def test_long_flat_stretch_after_a_trend_fades_and_stays_finite() -> None:
    # Without a volatility floor, gap / vol tends to a constant and then to inf.
    closes = rising(80)
    signals = feed(TrendSleeve(), closes + [closes[-1]] * 5000)
    assert abs(signals[-1].target) < 1e-3
    assert all(math.isfinite(s.target) for s in signals)


def test_reset_rewarms_only_that_symbol() -> None:
    sleeve = TrendSleeve(fast=3, slow=8)
    feed(sleeve, rising(10), "AAA")
    feed(sleeve, rising(10), "BBB")
    sleeve.reset("AAA")
    assert not sleeve.update(bar(200.0, 11, "AAA")).ready
    assert sleeve.update(bar(200.0, 11, "BBB")).ready
    sleeve.reset("never-seen")  # forgetting an unknown symbol is a no-op


def test_symbols_are_independent() -> None:
    sleeve = TrendSleeve(fast=3, slow=8)
    up = rising(20)
    down = [100.0 * 0.999**i for i in range(20)]
    for i, (u, d) in enumerate(zip(up, down, strict=True)):
        long_sig = sleeve.update(bar(u, i, "UP"))
        short_sig = sleeve.update(bar(d, i, "DOWN"))
    assert long_sig.target > 0.0 > short_sig.target


def test_same_bars_same_signals() -> None:
    closes = rising(50)
    assert feed(TrendSleeve(), closes) == feed(TrendSleeve(), closes)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.0, -1.0])
def test_bad_close_raises_invariant_violation_and_keeps_state(bad: float) -> None:
    sleeve = TrendSleeve(fast=3, slow=8)
    before = feed(sleeve, rising(10), "ETH/USDT")[-1]
    with pytest.raises(InvariantViolation, match=r"sleeve=trend symbol=ETH/USDT close="):
        sleeve.update(bar(bad, 10, "ETH/USDT"))
    after = sleeve.update(bar(rising(11)[-1], 10, "ETH/USDT"))
    assert after.ready
    assert math.isfinite(after.target)
    assert before.ready


@pytest.mark.parametrize(
    "kwargs", [{"fast": 0}, {"fast": 10, "slow": 10}, {"scale": 0.0}, {"scale": math.nan}]
)
def test_bad_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TrendSleeve(**kwargs)  # type: ignore[arg-type]


def test_signal_rejects_out_of_range_values() -> None:
    with pytest.raises(InvariantViolation):
        SleeveSignal(math.nan, 0.0, True)
    with pytest.raises(InvariantViolation):
        SleeveSignal(0.5, 1.5, True)
