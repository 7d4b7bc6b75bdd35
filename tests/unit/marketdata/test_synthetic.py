"""The synthetic market is reproducible, sane, and its feed is paced by the injected clock."""

from __future__ import annotations

import asyncio

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.values import Bar
from quantbot.marketdata.contract import DataContract
from quantbot.marketdata.synthetic import (
    MEAN_REVERTING,
    TRENDING,
    SyntheticFeed,
    SyntheticMarket,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT", "AAPL"]
MINUTE_NS = 60 * NS_PER_S
T0 = 1_700_000_040 * NS_PER_S


def market(seed: int = 7, **kwargs: object) -> SyntheticMarket:
    return SyntheticMarket(symbols=SYMBOLS, seed=seed, interval_s=60.0, **kwargs)


def run(m: SyntheticMarket, n: int) -> list[list[Bar]]:
    return [m.next_bars(T0 + i * MINUTE_NS) for i in range(n)]


def test_same_seed_same_bars_other_seed_other_bars() -> None:
    assert run(market(seed=7), 200) == run(market(seed=7), 200)
    assert run(market(seed=7), 50) != run(market(seed=8), 50)


def test_a_symbol_path_does_not_depend_on_the_other_symbols() -> None:
    alone = SyntheticMarket(symbols=["AAPL"], seed=7, interval_s=60.0)
    together = [batch[2] for batch in run(market(seed=7), 100)]
    assert [batch[0] for batch in run(alone, 100)] == together


def test_bars_are_one_per_symbol_in_order_with_interval() -> None:
    batch = market().next_bars(T0)
    assert [b.symbol for b in batch] == SYMBOLS
    assert all(b.ts_ns == T0 and b.interval_s == 60.0 for b in batch)
    assert all(b.open == 100.0 for b in batch)


def test_start_prices_and_quote_around_last_close() -> None:
    m = market(start_prices={"AAPL": 190.0}, spread_bps=10.0)
    assert m.last_close("AAPL") == 190.0
    m.next_bars(T0)
    close = m.last_close("AAPL")
    q = m.quote("AAPL")
    assert q.bid < close < q.ask
    assert (q.ask - q.bid) / q.mid == pytest.approx(10.0 / 10_000)
    assert q.ts_ns == T0 + MINUTE_NS  # stamped when the bar closed
    with pytest.raises(KeyError, match="unknown symbol"):
        m.quote("NOPE")


def test_two_thousand_bars_pass_the_contract_and_both_regimes_occur() -> None:
    m = market(seed=11)
    dc = DataContract(clock=SimClock(T0), max_staleness_s=None, max_jump_fraction=0.1)
    seen: dict[str, set[str]] = {s: set() for s in SYMBOLS}
    rejected = []
    for i in range(2_000):
        for b in m.next_bars(T0 + i * MINUTE_NS):
            verdict = dc.check(b)
            if not verdict.ok:
                rejected.append(verdict.reason)
            seen[b.symbol].add(m.regime(b.symbol))
    assert rejected == []
    assert all(regimes == {TRENDING, MEAN_REVERTING} for regimes in seen.values())


def test_volume_is_u_shaped_over_the_day() -> None:
    m = SyntheticMarket(symbols=["X"], seed=3, interval_s=3600.0)
    day = 86_400 * NS_PER_S
    by_hour: dict[int, list[float]] = {h: [] for h in range(24)}
    for d in range(60):
        for h in range(24):
            by_hour[h].append(m.next_bars(d * day + h * 3600 * NS_PER_S)[0].volume)
    mean = {h: sum(v) / len(v) for h, v in by_hour.items()}
    assert mean[0] > 1.5 * mean[12] and mean[23] > 1.5 * mean[12]


def test_bar_times_must_move_forward() -> None:
    m = market()
    m.next_bars(T0)
    with pytest.raises(ValueError, match="not after"):
        m.next_bars(T0)


async def test_feed_on_sim_clock_yields_aligned_increasing_batches() -> None:
    start = T0 + 17 * NS_PER_S + 123  # mid-interval
    clock = SimClock(start)
    feed = SyntheticFeed(market(), clock)
    stamps = []
    async for batch in feed.stream():
        assert len({b.ts_ns for b in batch}) == 1
        stamps.append(batch[0].ts_ns)
        # the batch is the bar that just closed: the clock is at its close
        assert clock.now_ns() == batch[0].ts_ns + MINUTE_NS
        if len(stamps) == 5:
            break
    assert stamps == [T0 + i * MINUTE_NS for i in range(5)]


async def test_feed_starting_on_a_boundary_does_not_repeat_a_bar() -> None:
    clock = SimClock(T0)
    stream = SyntheticFeed(market(), clock).stream()
    first = await anext(stream)
    second = await anext(stream)
    assert first[0].ts_ns == T0 - MINUTE_NS
    assert second[0].ts_ns == T0
    await stream.aclose()


async def test_cancelling_the_consumer_propagates_cancelled_error() -> None:
    feed = SyntheticFeed(market(), SimClock(T0))
    received: list[list[Bar]] = []

    async def consume() -> None:
        async for batch in feed.stream():
            received.append(batch)

    task = asyncio.create_task(consume())
    for _ in range(10):
        await asyncio.sleep(0)
    assert received  # it was running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"symbols": []},
        {"symbols": ["A", "A"]},
        {"interval_s": 0.0},
        {"start_prices": {"A": -1.0}},
        {"start_prices": {"B": 1.0}},
        {"regime_switch_prob": 1.5},
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {"symbols": ["A"], "seed": 1, "interval_s": 60.0} | kwargs
    with pytest.raises(ValueError):
        SyntheticMarket(**settings)  # type: ignore[arg-type]
