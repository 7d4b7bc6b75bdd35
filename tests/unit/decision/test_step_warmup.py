"""What the decision step says about its sleeves' warm-up (``DecisionStep.warming_up``): how
many bars each sleeve still needs before it is ready for every symbol, for the status line
and the log."""

from __future__ import annotations

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.decision.step import DecisionStep, PortfolioView
from quantbot.domain.values import Bar, Instrument
from quantbot.marketdata.synthetic import SyntheticMarket

T0 = 1_763_726_400 * NS_PER_S
SYMBOLS = ["SIMA", "SIMB"]
BASE = {"run_id": "run-1", "config_hash": "abc123", "execution_mode": "paper"}
VIEW = PortfolioView(equity=100_000.0, positions={}, pending={})


def make() -> tuple[DecisionStep, SyntheticMarket, SimClock]:
    """The shipped sleeves (trend: 30 bars, mean_reversion: 20) on two synthetic symbols."""
    config = load_config(None, environ={}).config
    clock = SimClock(T0)
    instruments = {s: Instrument(s, "0.01", "1", min_notional="1") for s in SYMBOLS}
    step = DecisionStep.from_config(config, clock, instruments, dict(BASE))
    return step, SyntheticMarket(symbols=SYMBOLS, seed=7, interval_s=1.0), clock


def feed(step: DecisionStep, market: SyntheticMarket, clock: SimClock, batches: int) -> None:
    for _ in range(batches):
        ts = clock.now_ns()
        clock.advance(1.0)
        for bar in market.next_bars(ts):
            step.step(bar, VIEW)


def test_before_any_bar_every_sleeve_needs_its_whole_warm_up() -> None:
    step, _, _ = make()
    assert step.warming_up() == {"trend": 30, "mean_reversion": 20, "external": 0}
    assert not step.warm


def test_the_count_goes_down_bar_by_bar_and_reaches_zero_when_ready() -> None:
    step, market, clock = make()
    feed(step, market, clock, 1)
    assert step.warming_up() == {"trend": 29, "mean_reversion": 19, "external": 0}
    feed(step, market, clock, 19)
    assert step.warming_up() == {"trend": 10, "mean_reversion": 0, "external": 0}
    feed(step, market, clock, 9)
    assert step.warming_up()["trend"] == 1
    assert not step.warm
    feed(step, market, clock, 1)
    assert step.warming_up() == {"trend": 0, "mean_reversion": 0, "external": 0}
    assert step.warm


def test_a_symbol_behind_the_others_is_what_the_count_waits_for() -> None:
    step, market, clock = make()
    feed(step, market, clock, 25)
    # SIMB's bars stop coming; SIMA's go on: mean_reversion is ready on both, trend on neither
    for _ in range(10):
        ts = clock.now_ns()
        clock.advance(1.0)
        sima = market.next_bars(ts)[0]
        step.step(sima, VIEW)
    assert step.warming_up() == {"trend": 5, "mean_reversion": 0, "external": 0}


def test_a_price_jump_that_restarts_a_symbols_sleeves_restarts_its_count() -> None:
    step, market, clock = make()
    feed(step, market, clock, 30)
    assert step.warm
    ts = clock.now_ns()
    clock.advance(1.0)
    sima, simb = market.next_bars(ts)
    last = market.last_close("SIMA")
    split = Bar("SIMA", sima.ts_ns, last / 2, last / 2, last / 2, last / 2, sima.volume, 1.0)
    decision = step.step(split, VIEW)  # an unadjusted 1:2 split: dropped, SIMA warms up again
    assert decision.record["reason"]["code"] == "DATA_PRICE_JUMP"
    step.step(simb, VIEW)
    assert step.warming_up() == {"trend": 30, "mean_reversion": 20, "external": 0}
    assert not step.warm
