"""Portfolio-level volatility targeting and the concentration cap as a share of gross
(issue 22 item 5): the numbers in the reasons, checked by hand.

The two symbols' returns are +-1% a bar (12 of them: the covariance window), A alternating
(+ - + - ...) and B either the same (correlation 1) or in pairs (+ + - - ...: correlation 0,
the products cancel in every block of four). Both have mean 0 and per-bar sample variance
12 x 0.0001 / 11 = 0.000109091; annualised by 252 bars: 0.0274909, a volatility of 0.165804.
Each symbol's own volatility scale is pinned to 1 so only the portfolio's factor acts.
"""

from __future__ import annotations

import math
import random
import statistics

import pytest

from quantbot.config.portfolio_risk import PortfolioRiskConfig
from quantbot.config.risk import LimitsParams
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar
from quantbot.portfolio.covariance import RollingCovariance
from quantbot.portfolio.limits import LimitsResult, PortfolioLimits
from quantbot.portfolio.portvol import PortfolioVolTarget
from quantbot.portfolio.returns import MarketStats

EQUITY = 100_000.0
WINDOW = 12
R = 0.01
ALTERNATING = [R if i % 2 == 0 else -R for i in range(WINDOW)]
SAME = list(ALTERNATING)
PAIRS = [R if i % 4 in (0, 1) else -R for i in range(WINDOW)]
# By hand: per-bar variance 12 x 0.0001 / 11; x 252 bars a year; its square root.
ANNUAL_VAR = 12 * 0.0001 / 11 * 252  # 0.0274909
SIGMA = math.sqrt(ANNUAL_VAR)  # 0.165804


def params(target: float = 0.02, **overrides: float) -> LimitsParams:
    base = {
        "target_annual_vol": target,
        "vol_min_scale": 1.0,  # each symbol's own scale pinned to 1
        "vol_max_scale": 1.0,
        "max_symbol_pct": 0.5,
        "max_cluster_pct": 1.0,
        "corr_threshold": 0.8,
        "max_corr_group_pct": 1.0,
    }
    return LimitsParams(**{**base, **overrides})


def limits(stats: MarketStats, target: float = 0.02, **section: object) -> PortfolioLimits:
    config = PortfolioRiskConfig(**{"cov_lookback": WINDOW, "min_scale": 0.1, **section})
    covariance = RollingCovariance(config.cov_lookback)
    stats.covariance = covariance
    portvol = PortfolioVolTarget(target_vol=target, min_scale=config.min_scale,
                                 covariance=covariance)  # fmt: skip
    return PortfolioLimits(params(target), clusters={}, portfolio=config, portvol=portvol)


def fed(b_returns: list[float], target: float = 0.02) -> tuple[PortfolioLimits, MarketStats]:
    """Limits whose covariance saw the returns (it is fed as the stats are)."""
    stats = MarketStats(vol_lookback=WINDOW, corr_lookback=30, periods_per_year=252.0)
    lim = limits(stats, target)
    _feed(stats, A=ALTERNATING, B=b_returns)
    for symbol in ("A", "B"):
        assert stats.annual_vol(symbol) == pytest.approx(SIGMA, rel=1e-9)
    return lim, stats


def _feed(stats: MarketStats, **returns: list[float]) -> None:
    """As the pipeline feeds them: every symbol's bar of a time, then the next time."""
    closes = dict.fromkeys(returns, 100.0)
    for i in range(max(len(r) for r in returns.values()) + 1):
        for symbol, rets in returns.items():
            if i:
                closes[symbol] *= math.exp(rets[i - 1])
            close = closes[symbol]
            stats.update(Bar(symbol, (i + 1) * 86_400 * 10**9, close, close, close, close, 1.0))


def scale_reason(result: LimitsResult) -> dict[str, object]:
    [why] = [r.to_record() for r in result.applied if r.code is ReasonCode.PORTFOLIO_VOL_SCALE]
    return why


def book_vol(a: float, b: float, rho: float) -> float:
    """The book's annual volatility by the textbook formula, as a fraction of equity."""
    return math.sqrt((a * a + b * b + 2 * rho * a * b) * ANNUAL_VAR) / EQUITY


def test_two_correlated_symbols_are_scaled_so_the_book_meets_the_target() -> None:
    lim, stats = fed(SAME)
    # B is decided first, alone: 10,000 x 0.165804 / 100,000 = 0.0166 is under 0.02.
    first_b = lim.apply("B", 10_000.0, equity=EQUITY, others={}, stats=stats)
    assert first_b.target_notional_usd == 10_000.0 and first_b.applied == []
    assert first_b.detail["portfolio_vol"] == pytest.approx(0.0165804, rel=1e-5)

    # A wants 10,000 too, with B held: the book is 20,000 of one asset (correlation 1):
    # 20,000 x 0.165804 / 100,000 = 0.0331608, and 0.02 / 0.0331608 = 0.603122.
    a = lim.apply("A", 10_000.0, equity=EQUITY, others={"B": 10_000.0}, stats=stats)
    why = scale_reason(a)
    assert why["realised_vol"] == pytest.approx(0.0331608, rel=1e-5)
    assert why["target_vol"] == 0.02
    assert why["factor"] == pytest.approx(0.603122, rel=1e-5)
    assert why["members"] == ["A", "B"]
    assert a.target_notional_usd == pytest.approx(6_031.22, rel=1e-5)

    # B decided again with A held at its scaled size: the same book (each symbol's target
    # before the factor), the same factor.
    b = lim.apply("B", 10_000.0, equity=EQUITY, others={"A": a.target_notional_usd}, stats=stats)
    assert scale_reason(b)["factor"] == pytest.approx(0.603122, rel=1e-5)
    # The book both targets make has exactly the target volatility.
    assert book_vol(a.target_notional_usd, b.target_notional_usd, 1.0) == pytest.approx(0.02)


def test_uncorrelated_symbols_are_scaled_less() -> None:
    lim, stats = fed(PAIRS)
    lim.apply("B", 10_000.0, equity=EQUITY, others={}, stats=stats)
    # Correlation 0: sqrt(2) x 10,000 x 0.165804 / 100,000 = 0.0234483; 0.02 / it = 0.852940.
    a = lim.apply("A", 10_000.0, equity=EQUITY, others={"B": 10_000.0}, stats=stats)
    why = scale_reason(a)
    assert why["realised_vol"] == pytest.approx(0.0234483, rel=1e-5)
    assert why["factor"] == pytest.approx(0.852940, rel=1e-5)
    assert why["factor"] > 0.603122  # less than the correlated pair
    b = lim.apply("B", 10_000.0, equity=EQUITY, others={"A": a.target_notional_usd}, stats=stats)
    assert book_vol(a.target_notional_usd, b.target_notional_usd, 0.0) == pytest.approx(0.02)


def test_a_book_under_the_target_is_not_scaled_up() -> None:
    lim, stats = fed(SAME, target=0.05)
    lim.apply("B", 10_000.0, equity=EQUITY, others={}, stats=stats)
    a = lim.apply("A", 10_000.0, equity=EQUITY, others={"B": 10_000.0}, stats=stats)
    assert a.target_notional_usd == 10_000.0 and a.applied == []
    assert a.detail["portfolio_vol"] == pytest.approx(0.0331608, rel=1e-5)


def test_the_factor_stops_at_min_scale() -> None:
    lim, stats = fed(SAME, target=0.001)  # 0.001 / 0.0331608 = 0.03: floored at 0.1
    lim.apply("B", 10_000.0, equity=EQUITY, others={}, stats=stats)
    a = lim.apply("A", 10_000.0, equity=EQUITY, others={"B": 10_000.0}, stats=stats)
    assert scale_reason(a)["factor"] == 0.1
    assert a.target_notional_usd == pytest.approx(1_000.0)


def test_too_few_returns_leaves_the_target_unscaled_and_says_so() -> None:
    stats = MarketStats(vol_lookback=WINDOW, corr_lookback=30, periods_per_year=252.0)
    lim = limits(stats)
    _feed(stats, A=ALTERNATING[:3], B=SAME[:3])  # 3 aligned returns; 6 needed
    a = lim.apply("A", 10_000.0, equity=EQUITY, others={"B": 10_000.0}, stats=stats)
    assert a.target_notional_usd == 10_000.0 and a.applied == []
    assert a.detail["portfolio"]["status"].startswith("unknown")


def test_a_zero_target_leaves_the_book() -> None:
    lim, stats = fed(SAME)
    lim.apply("B", 10_000.0, equity=EQUITY, others={}, stats=stats)
    lim.apply("B", 0.0, equity=EQUITY, others={}, stats=stats)  # B now wants nothing
    a = lim.apply("A", 10_000.0, equity=EQUITY, others={}, stats=stats)
    assert a.applied == []  # A alone: 0.0166, under the target


def test_rolling_covariance_matches_the_direct_computation_as_the_window_slides() -> None:
    rng = random.Random(7)
    cov = RollingCovariance(20)
    xs: list[float] = []
    ys: list[float] = []
    for t in range(3000):
        x, y = rng.gauss(0, 0.01), rng.gauss(0, 0.02)
        cov.add("X", t, x)
        cov.add("Y", t, y)
        xs.append(x)
        ys.append(y)
    assert cov.covariance("X", "Y") == pytest.approx(
        statistics.covariance(xs[-20:], ys[-20:]), rel=1e-9
    )
    assert cov.covariance("Y", "X") == cov.covariance("X", "Y")
    assert cov.covariance("Y", "Y") == pytest.approx(statistics.variance(ys[-20:]), rel=1e-9)
    cov.forget("Y")
    assert cov.covariance("X", "Y") is None and cov.covariance("X", "X") is not None


def test_returns_of_different_bar_times_are_not_paired() -> None:
    cov = RollingCovariance(3, min_pairs=2)
    for t in range(5):
        cov.add("X", 2 * t, 0.01 * t)
        cov.add("Y", 2 * t + 1, 0.02 * t)  # never the same bar time as X
    assert cov.covariance("X", "Y") is None
    assert cov.covariance("X", "X") is not None


# -- the concentration cap as a share of gross ---------------------------------------------


def concentration(basis: str, *, share: float = 0.5, floor: float = 0.02) -> PortfolioLimits:
    config = PortfolioRiskConfig(
        concentration=basis, max_symbol_gross_share=share, gross_share_floor_pct=floor
    )
    return PortfolioLimits(params(max_symbol_pct=0.1), clusters={}, portfolio=config)


def test_gross_share_clamps_a_symbol_to_its_share_of_the_book() -> None:
    stats = MarketStats(vol_lookback=WINDOW, corr_lookback=30)
    others = {"B": 4_000.0, "C": -2_000.0}  # gross 6,000
    # A may be half of the book after the order: x / (6,000 + x) <= 0.5, x <= 6,000.
    result = concentration("gross").apply("A", 9_000.0, equity=EQUITY, others=others, stats=stats)
    [why] = [r.to_record() for r in result.applied]
    assert why["code"] == "CONCENTRATION_GROSS_CAP"
    assert why["cap"] == pytest.approx(6_000.0) and why["others_gross"] == 6_000.0
    assert why["share"] == 0.5 and why["before"] == 9_000.0
    assert result.target_notional_usd == pytest.approx(6_000.0)
    assert result.to_record()["detail"]["gross_cap"] == pytest.approx(6_000.0)

    # The same order under the equity basis: 10% of 100,000 is 10,000, no cut.
    equity_only = concentration("equity").apply(
        "A", 9_000.0, equity=EQUITY, others=others, stats=stats
    )
    assert equity_only.target_notional_usd == 9_000.0 and equity_only.applied == []

    # "both": the tighter of the two; a short is cut the same way.
    both = concentration("both").apply("A", -12_000.0, equity=EQUITY, others=others, stats=stats)
    assert [r.code.value for r in both.applied] == ["RISK_CAP_PORTFOLIO", "CONCENTRATION_GROSS_CAP"]
    assert both.target_notional_usd == pytest.approx(-6_000.0)


def test_gross_share_blocks_a_first_position_without_a_floor_and_allows_the_floor() -> None:
    stats = MarketStats(vol_lookback=WINDOW, corr_lookback=30)
    blocked = concentration("gross", floor=0.0).apply(
        "A", 5_000.0, equity=EQUITY, others={}, stats=stats
    )
    [why] = [r.to_record() for r in blocked.applied]
    assert why["code"] == "CONCENTRATION_GROSS_CAP" and why["after"] == 0.0
    assert blocked.target_notional_usd == 0.0

    floored = concentration("gross", floor=0.02).apply(
        "A", 5_000.0, equity=EQUITY, others={}, stats=stats
    )
    [why] = [r.to_record() for r in floored.applied]
    assert why["floor_usd"] == 2_000.0 and floored.target_notional_usd == 2_000.0


def test_a_symbols_variance_is_kept_when_it_leads_every_batch_and_after_a_forget() -> None:
    """The first return of a bar time pairs only with itself (the variance's own pair): its
    variance matches the direct computation, and a forgotten symbol starts again from its
    next returns."""
    rng = random.Random(11)
    cov = RollingCovariance(10)
    xs = [rng.gauss(0, 0.01) for _ in range(40)]
    for t, x in enumerate(xs[:25]):
        cov.add("X", t, x)
    assert cov.covariance("X", "X") == pytest.approx(statistics.variance(xs[15:25]), rel=1e-9)
    cov.forget("X")
    assert cov.covariance("X", "X") is None
    for t, x in enumerate(xs[25:], start=25):
        cov.add("X", t, x)
    assert cov.covariance("X", "X") == pytest.approx(statistics.variance(xs[30:]), rel=1e-9)
