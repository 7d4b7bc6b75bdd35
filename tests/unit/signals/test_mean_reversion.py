from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar
from quantbot.signals.base import Sleeve, SleeveSignal
from quantbot.signals.mean_reversion import MeanReversionSleeve

MINUTE_NS = 60 * 1_000_000_000


def bar(close: float, i: int = 0, symbol: str = "SPY") -> Bar:
    return Bar(symbol, i * MINUTE_NS, close, close, close, close, 1.0)


def feed(
    sleeve: MeanReversionSleeve, closes: list[float], symbol: str = "SPY"
) -> list[SleeveSignal]:
    return [sleeve.update(bar(c, i, symbol)) for i, c in enumerate(closes)]


def calm(n: int, level: float = 100.0) -> list[float]:
    """Alternates level -/+ 0.1: mean ``level``, std 0.1 over any even window."""
    return [level + (0.1 if i % 2 else -0.1) for i in range(n)]


def test_satisfies_the_sleeve_protocol() -> None:
    sleeve: Sleeve = MeanReversionSleeve()
    assert sleeve.name == "mean_reversion"
    assert sleeve.warmup_bars == 20


def test_not_ready_before_window_bars_then_ready() -> None:
    signals = feed(MeanReversionSleeve(window=5), calm(8))
    for sig in signals[:4]:
        assert not sig.ready
        assert (sig.target, sig.confidence) == (0.0, 0.0)
    assert all(sig.ready for sig in signals[4:])


def test_spike_up_is_faded_short() -> None:
    sig = feed(MeanReversionSleeve(), [*calm(40), 100.5])[-1]
    assert sig.ready
    assert sig.detail["z"] > 1.0
    assert -1.0 <= sig.target < 0.0
    assert 0.0 < sig.confidence <= 1.0


def test_spike_down_is_faded_long() -> None:
    sig = feed(MeanReversionSleeve(), [*calm(40), 99.5])[-1]
    assert sig.detail["z"] < -1.0
    assert 0.0 < sig.target <= 1.0


def test_inside_entry_z_is_flat_but_confidence_still_tracks_z() -> None:
    sig = feed(MeanReversionSleeve(window=20, entry_z=1.5, max_z=3.0), calm(40))[-1]
    assert sig.detail["mean"] == pytest.approx(100.0)
    assert sig.detail["std"] == pytest.approx(0.1)
    assert abs(sig.detail["z"]) == pytest.approx(1.0)
    assert sig.target == 0.0
    assert sig.confidence == pytest.approx(1.0 / 3.0)


def test_target_is_monotone_in_z_and_saturates_at_max_z() -> None:
    targets = []
    for spike in (100.2, 100.3, 100.5, 101.0, 110.0):
        targets.append(feed(MeanReversionSleeve(), [*calm(40), spike])[-1].target)
    assert targets == sorted(targets, reverse=True)
    assert targets[-1] == -1.0


def test_flat_window_has_zero_std_and_zero_target() -> None:
    sig = feed(MeanReversionSleeve(window=5), [42.0] * 10)[-1]
    assert sig.ready
    assert sig.detail["std"] == 0.0
    assert (sig.target, sig.detail["z"]) == (0.0, 0.0)


def test_flat_window_after_a_jump_is_exactly_flat() -> None:
    # The jump's squares leave the running sums; cancellation must not invent a spread
    # (a noise std would turn float error into a full-size z).
    sig = feed(MeanReversionSleeve(window=5), [1.0] * 5 + [1e6] * 7)[-1]
    assert sig.detail["std"] == 0.0
    assert sig.target == 0.0


def rolling_matches(closes: list[float], window: int) -> None:
    sleeve = MeanReversionSleeve(window=window)
    for i, sig in enumerate(feed(sleeve, closes)):
        last = closes[max(0, i - window + 1) : i + 1]
        assert sig.detail["mean"] == pytest.approx(statistics.mean(last), rel=1e-6)
        assert sig.detail["std"] == pytest.approx(statistics.pstdev(last), rel=1e-6)


@settings(max_examples=300, deadline=None)
@given(
    window=st.integers(min_value=2, max_value=40),
    closes=st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=200),
)
def test_incremental_stats_equal_from_scratch_on_arbitrary_prices(
    window: int, closes: list[float]
) -> None:
    rolling_matches(closes, window)


@settings(max_examples=200, deadline=None)
@given(
    window=st.integers(min_value=2, max_value=40),
    start=st.floats(min_value=1e-2, max_value=1e5),
    returns=st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=1, max_size=300),
)
def test_incremental_stats_equal_from_scratch_on_random_walks(
    window: int, start: float, returns: list[float]
) -> None:
    closes = [start]
    for r in returns:
        closes.append(closes[-1] * (1.0 + r))
    rolling_matches(closes, window)


def test_reset_rewarms_only_that_symbol() -> None:
    sleeve = MeanReversionSleeve(window=5)
    feed(sleeve, calm(6), "AAA")
    feed(sleeve, calm(6), "BBB")
    sleeve.reset("AAA")
    after = sleeve.update(bar(100.0, 7, "AAA"))
    assert not after.ready
    assert after.detail["mean"] == 100.0  # the old window is gone, not just hidden
    assert sleeve.update(bar(100.0, 7, "BBB")).ready


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -5.0])
def test_bad_close_raises_invariant_violation_and_keeps_state(bad: float) -> None:
    sleeve = MeanReversionSleeve(window=5)
    feed(sleeve, calm(6), "QQQ")
    with pytest.raises(InvariantViolation, match=r"sleeve=mean_reversion symbol=QQQ close="):
        sleeve.update(bar(bad, 6, "QQQ"))
    sig = sleeve.update(bar(100.1, 7, "QQQ"))
    assert sig.ready
    assert math.isfinite(sig.detail["std"])


def test_overflowing_price_raises_instead_of_emitting_nan() -> None:
    sleeve = MeanReversionSleeve(window=3)
    feed(sleeve, [1.0, 2.0], "BIG")
    with pytest.raises(InvariantViolation, match="sleeve=mean_reversion symbol=BIG"):
        sleeve.update(bar(1e300, 3, "BIG"))


@pytest.mark.parametrize(
    "kwargs", [{"window": 1}, {"entry_z": 3.0, "max_z": 3.0}, {"entry_z": -1.0}]
)
def test_bad_parameters_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MeanReversionSleeve(**kwargs)  # type: ignore[arg-type]
