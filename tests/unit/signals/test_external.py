from __future__ import annotations

import math

import pytest

from quantbot.clock import SimClock
from quantbot.domain.values import Bar
from quantbot.signals.base import Sleeve, SleeveSignal
from quantbot.signals.external import ExternalSleeve
from quantbot.signals.intents import TradeIntent, parse_intent

T0_NS = 1_700_000_000 * 1_000_000_000


def bar(symbol: str = "BTC/USDT") -> Bar:
    return Bar(symbol, T0_NS, 100.0, 101.0, 99.0, 100.0, 10.0)


def intent(side: str = "buy", confidence: float = 0.8, symbol: str = "BTC/USDT") -> TradeIntent:
    return parse_intent({"symbol": symbol, "side": side, "confidence": confidence, "leverage": 3})


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0_NS)


@pytest.fixture
def sleeve(clock: SimClock) -> ExternalSleeve:
    return ExternalSleeve(ttl_s=60.0, clock=clock)


def test_satisfies_the_sleeve_protocol(sleeve: ExternalSleeve) -> None:
    s: Sleeve = sleeve
    assert s.name == "external"
    assert s.warmup_bars == 0


def test_without_an_intent_it_is_not_ready(sleeve: ExternalSleeve) -> None:
    assert sleeve.update(bar()) == SleeveSignal(0.0, 0.0, False, {})
    assert sleeve.live("BTC/USDT") is None


def test_live_intent_gives_a_ready_signal_with_its_age(
    sleeve: ExternalSleeve, clock: SimClock
) -> None:
    sleeve.offer(intent("sell", 0.6))
    clock.advance(12.5)
    assert sleeve.update(bar()) == SleeveSignal(-1.0, 0.6, True, {"age_s": 12.5})
    live = sleeve.live("BTC/USDT")
    assert live is not None
    assert live.leverage == 3.0
    assert not sleeve.update(bar("ETH/USDT")).ready  # other symbols are untouched


def test_buy_targets_long(sleeve: ExternalSleeve) -> None:
    sleeve.offer(intent("buy", 0.9))
    assert sleeve.update(bar()) == SleeveSignal(1.0, 0.9, True, {"age_s": 0.0})


def test_not_ready_once_the_ttl_has_passed(sleeve: ExternalSleeve, clock: SimClock) -> None:
    sleeve.offer(intent())
    clock.advance(59.999)
    assert sleeve.update(bar()).ready
    clock.advance(0.001)
    assert sleeve.update(bar()) == SleeveSignal(0.0, 0.0, False, {})
    assert sleeve.live("BTC/USDT") is None


class SteppingClock(SimClock):
    """A wall clock that can be stepped backwards (as NTP may), which SimClock refuses."""

    def step_back(self, seconds: float) -> None:
        self._now -= round(seconds * 1_000_000_000)


def test_a_wall_clock_stepped_back_counts_as_age_zero() -> None:
    clock = SteppingClock(T0_NS)
    sleeve = ExternalSleeve(ttl_s=60.0, clock=clock)
    sleeve.offer(intent())
    clock.step_back(5.0)
    assert sleeve.update(bar()) == SleeveSignal(1.0, 0.8, True, {"age_s": 0.0})


def test_newest_intent_wins_and_restarts_the_ttl(sleeve: ExternalSleeve, clock: SimClock) -> None:
    sleeve.offer(intent("buy", 0.9))
    clock.advance(50.0)
    sleeve.offer(intent("sell", 0.4))
    clock.advance(30.0)  # 80 s after the first, 30 s after the second
    assert sleeve.update(bar()) == SleeveSignal(-1.0, 0.4, True, {"age_s": 30.0})


def test_flat_is_a_ready_zero_target(sleeve: ExternalSleeve) -> None:
    sleeve.offer(intent("flat", 0.7))
    assert sleeve.update(bar()) == SleeveSignal(0.0, 0.7, True, {"age_s": 0.0})


def test_reset_forgets_the_symbol_only(sleeve: ExternalSleeve) -> None:
    sleeve.offer(intent())
    sleeve.offer(intent(symbol="ETH/USDT"))
    sleeve.reset("BTC/USDT")
    assert not sleeve.update(bar()).ready
    assert sleeve.update(bar("ETH/USDT")).ready
    sleeve.reset("NEVER/SEEN")  # forgetting an unknown symbol is harmless


@pytest.mark.parametrize("ttl", [0.0, -1.0, math.nan, math.inf])
def test_ttl_must_be_finite_and_positive(clock: SimClock, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl_s must be finite and > 0"):
        ExternalSleeve(ttl_s=ttl, clock=clock)
