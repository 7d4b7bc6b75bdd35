"""Realised volatility is annualised by what a bar stands for in market time, as configured,
never by how fast the synthetic market prints bars (``portfolio.annualise``), and the
synthetic market generates its bars for that length of market time
(``marketdata.synthetic.calibrated``)."""

from __future__ import annotations

import asyncio
import math
import statistics
from itertools import pairwise

import attrs
import pytest

from quantbot.clock import SimClock
from quantbot.config.schema import Config, load_config
from quantbot.decision.risk_stages import RiskChain
from quantbot.domain.values import Bar
from quantbot.marketdata.sources import open_stream
from quantbot.marketdata.synthetic import SyntheticMarket, calibrated
from quantbot.portfolio.annualise import periods_per_year, run_periods_per_year

T0 = 1_763_726_400 * 10**9
HOURS_PER_YEAR = 365.25 * 24
MINUTES_PER_YEAR = HOURS_PER_YEAR * 60


def config(**env: str) -> Config:
    return load_config(None, environ={f"QUANTBOT__{k}": v for k, v in env.items()}).config


def synthetic_bars(cfg: Config, pace_s: float, n: int = 31) -> list[Bar]:
    """``cfg``'s synthetic market as the daemon builds it (``marketdata.sources``), its SIMA
    one bar every ``pace_s`` seconds of wall clock."""
    market = SyntheticMarket(
        symbols=["SIMA"],
        seed=7,
        interval_s=pace_s,
        **calibrated(cfg.market.annual_vol, cfg.market.bar_represents_s),
    )
    return [market.next_bars(T0 + round(i * pace_s * 1e9))[0] for i in range(n)]


def annual_vol(cfg: Config, bars: list[Bar]) -> float | None:
    stats = RiskChain.from_config(cfg, None).stats  # what sizer, limits and policy read
    for bar in bars:
        stats.update(bar)
    return stats.annual_vol(bars[0].symbol)


def window_stdev(bars: list[Bar], n: int = 30) -> float:
    return statistics.stdev([math.log(b.close / a.close) for a, b in pairwise(bars)][-n:])


def test_one_second_synthetic_bars_annualise_by_the_minute_each_stands_for() -> None:
    shipped = config()
    assert (shipped.market.bar_interval_s, shipped.market.bar_represents_s) == (1.0, 60.0)
    bars = synthetic_bars(shipped, 1.0)
    vol = annual_vol(shipped, bars)
    assert vol == pytest.approx(window_stdev(bars) * math.sqrt(MINUTES_PER_YEAR), rel=1e-9)
    # About the market's 20% a year, the range the conservative profile targets (0.15), where
    # one-second spacing read the same bars as 60 times more bars a year: sqrt(60) = 7.7x.
    assert vol is not None and 0.1 < vol < 0.4


def test_the_pace_of_the_synthetic_market_does_not_change_its_volatility() -> None:
    slow = annual_vol(config(), synthetic_bars(config(), 1.0))
    fast_cfg = config(MARKET__BAR_INTERVAL_S="0.05")
    fast = annual_vol(fast_cfg, synthetic_bars(fast_cfg, 0.05))
    assert fast == pytest.approx(slow, rel=1e-12)


def test_a_bar_configured_as_an_hour_annualises_by_hours() -> None:
    # The suite's fast market (tests/integration/daemon.py): 0.2% a bar, an hour each.
    cfg = config(
        MARKET__BAR_REPRESENTS_S="3600", MARKET__ANNUAL_VOL=repr(0.002 * math.sqrt(HOURS_PER_YEAR))
    )
    assert calibrated(cfg.market.annual_vol, 3600.0)["volatility"] == pytest.approx(0.002)
    bars = synthetic_bars(cfg, 1.0)
    vol = annual_vol(cfg, bars)
    assert vol == pytest.approx(window_stdev(bars) * math.sqrt(HOURS_PER_YEAR), rel=1e-9)
    assert vol is not None and 0.1 < vol < 0.4


def test_the_generated_market_has_about_the_configured_annual_volatility() -> None:
    shipped = config()
    bars = synthetic_bars(shipped, 1.0, n=2001)
    realised = window_stdev(bars, n=2000) * math.sqrt(MINUTES_PER_YEAR)
    # Momentum in trends adds a little to the shocks' own 20%.
    assert 0.17 < realised < 0.27


def test_periods_per_year_in_limits_overrides_the_market() -> None:
    cfg = config(LIMITS__PERIODS_PER_YEAR="252")
    assert periods_per_year(cfg) == 252.0
    bars = synthetic_bars(cfg, 1.0)
    assert annual_vol(cfg, bars) == pytest.approx(window_stdev(bars) * math.sqrt(252), rel=1e-9)


def test_bar_files_keep_annualising_by_their_spacing_daily_by_252() -> None:
    # A replay (and market.source = "csv") reads bar files: the spacing of the bars is their
    # market interval there, and daily bars annualise by 252 trading days.
    shipped = config()
    cfg = attrs.evolve(shipped, market=attrs.evolve(shipped.market, source="csv"))
    assert periods_per_year(cfg) == 0.0
    day_ns = 86_400 * 10**9
    bars = [
        Bar("SPY", T0 + i * day_ns, b.open, b.high, b.low, b.close, b.volume, 86_400.0)
        for i, b in enumerate(synthetic_bars(shipped, 1.0))
    ]
    assert annual_vol(cfg, bars) == pytest.approx(window_stdev(bars) * math.sqrt(252), rel=1e-9)


def test_a_synthetic_runs_manifest_tells_its_replay_what_a_bar_stood_for() -> None:
    plain = {"market": {"source": "synthetic", "bar_represents_s": 60.0}, "limits": {}}
    assert run_periods_per_year(plain) == pytest.approx(HOURS_PER_YEAR * 60)
    assert run_periods_per_year({"market": {"source": "csv"}, "limits": {}}) == 0.0
    explicit = {"market": {"source": "synthetic", "bar_represents_s": 60.0},
                "limits": {"periods_per_year": 252.0}}  # fmt: skip
    assert run_periods_per_year(explicit) == 252.0


def test_the_daemons_synthetic_stream_is_generated_for_what_a_bar_stands_for() -> None:
    # The stream `quantbot run` opens (marketdata.sources), paced on a simulated clock.
    shipped = config()
    clock = SimClock(T0)

    async def closes(n: int) -> list[float]:
        stream = open_stream(shipped.market, clock, {})
        out = []
        async for batch in stream:
            out.append(batch[0].close)
            if len(out) == n:
                break
        return out

    path = asyncio.run(closes(2001))
    realised = statistics.stdev(math.log(b / a) for a, b in pairwise(path))
    # 0.028% a bar (a minute of 20% a year), not the 0.2% an hourly bar of the class defaults
    assert realised * math.sqrt(MINUTES_PER_YEAR) == pytest.approx(0.22, abs=0.05)
