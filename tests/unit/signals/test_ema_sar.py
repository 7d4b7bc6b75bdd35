from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar
from quantbot.signals.base import Sleeve, SleeveSignal
from quantbot.signals.ema_sar import EmaSarSleeve

MINUTE_NS = 60 * 1_000_000_000


def bar(close: float, i: int = 0, symbol: str = "SIMA") -> Bar:
    return Bar(symbol, i * MINUTE_NS, close, close, close, close, 1.0)


def feed(sleeve: EmaSarSleeve, closes: list[float], symbol: str = "SIMA") -> list[SleeveSignal]:
    return [sleeve.update(bar(c, i, symbol)) for i, c in enumerate(closes)]


def reference_emas(closes: list[float], span: int) -> list[float]:
    """The recurrence the sleeve documents, written out independently."""
    alpha = 2.0 / (span + 1)
    out = [closes[0]]
    for close in closes[1:]:
        out.append(out[-1] + alpha * (close - out[-1]))
    return out


def zigzag(n: int) -> list[float]:
    """Slow waves: the cross flips several times."""
    return [100.0 + 5.0 * math.sin(i / 15.0) + 0.3 * math.sin(i * 1.7) for i in range(n)]


def test_satisfies_the_sleeve_protocol() -> None:
    sleeve: Sleeve = EmaSarSleeve()
    assert sleeve.name == "ema_sar"
    assert sleeve.warmup_bars == 30


def test_warms_up_for_slow_bars_then_is_fully_confident() -> None:
    signals = feed(EmaSarSleeve(fast=3, slow=8), [100.0 + i for i in range(12)])
    for sig in signals[:7]:
        assert (sig.ready, sig.target, sig.confidence) == (False, 0.0, 0.0)
    assert all(sig.ready and sig.confidence == 1.0 for sig in signals[7:])
    assert [s.target for s in signals[7:]] == [1.0] * 5  # rising: fast above slow


def test_target_is_the_sign_of_the_cross_exactly_as_documented() -> None:
    closes = zigzag(300)
    fast, slow = reference_emas(closes, 10), reference_emas(closes, 30)
    signals = feed(EmaSarSleeve(fast=10, slow=30), closes)
    for i, sig in enumerate(signals):
        assert sig.detail == {"ema_fast": fast[i], "ema_slow": slow[i]}
        if i >= 29:
            expected = 1.0 if fast[i] > slow[i] else -1.0 if fast[i] < slow[i] else 0.0
            assert sig.target == expected, i
    targets = [s.target for s in signals if s.ready]
    flips = sum(1 for a, b in itertools.pairwise(targets) if a != b)
    assert flips >= 4  # the waves really cross it both ways
    assert set(targets) == {1.0, -1.0}


def test_a_sustained_fall_reverses_to_short() -> None:
    up = [100.0 * 1.001**i for i in range(60)]
    down = [up[-1] * 0.999 ** (i + 1) for i in range(60)]
    signals = feed(EmaSarSleeve(), up + down)
    assert signals[59].target == 1.0
    assert signals[-1].target == -1.0
    assert signals[-1].detail["ema_fast"] < signals[-1].detail["ema_slow"]


def test_flat_prices_tie_the_emas_and_signal_flat() -> None:
    sig = feed(EmaSarSleeve(fast=3, slow=8), [50.0] * 20)[-1]
    assert sig.ready
    assert sig.target == 0.0
    assert sig.confidence == 1.0


def test_symbols_are_independent_and_reset_restarts_the_warmup() -> None:
    sleeve = EmaSarSleeve(fast=2, slow=4)
    feed(sleeve, [10.0, 11.0, 12.0, 13.0], symbol="A")
    other = sleeve.update(bar(5.0, 0, "B"))
    assert not other.ready
    assert other.detail == {"ema_fast": 5.0, "ema_slow": 5.0}
    assert sleeve.update(bar(14.0, 4, "A")).ready
    sleeve.reset("A")
    after = sleeve.update(bar(14.0, 5, "A"))
    assert not after.ready
    assert after.detail == {"ema_fast": 14.0, "ema_slow": 14.0}


@pytest.mark.parametrize(("fast", "slow"), [(0, 5), (5, 5), (6, 5)])
def test_rejects_spans_that_are_not_fast_below_slow(fast: int, slow: int) -> None:
    with pytest.raises(ValueError, match="1 <= fast < slow"):
        EmaSarSleeve(fast=fast, slow=slow)


@pytest.mark.parametrize("close", [math.nan, math.inf, 0.0, -1.0])
def test_a_bad_close_halts_and_leaves_the_state_untouched(close: float) -> None:
    sleeve = EmaSarSleeve(fast=2, slow=3)
    before = feed(sleeve, [10.0, 11.0, 12.0])[-1]
    with pytest.raises(InvariantViolation, match="sleeve=ema_sar symbol=SIMA"):
        sleeve.update(bar(close, 3))
    after = sleeve.update(bar(12.0, 4))
    expected_fast = before.detail["ema_fast"] + 2.0 / 3 * (12.0 - before.detail["ema_fast"])
    assert after.detail["ema_fast"] == expected_fast


@given(hs.lists(hs.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=80))
def test_any_positive_prices_give_a_valid_signal(closes: list[float]) -> None:
    for sig in feed(EmaSarSleeve(fast=3, slow=7), closes):
        assert sig.target in (-1.0, 0.0, 1.0)
        assert sig.confidence == (1.0 if sig.ready else 0.0)
        assert all(math.isfinite(v) for v in sig.detail.values())
