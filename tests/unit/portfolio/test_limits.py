from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.config.risk import LimitsConfig, LimitsParams
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar
from quantbot.portfolio.limits import LimitsResult, PortfolioLimits
from quantbot.portfolio.returns import MarketStats

EQUITY = 100_000.0
# Vol scale pinned to 1 so the caps can be tested on their own.
NO_VOL = {"vol_min_scale": 1.0, "vol_max_scale": 1.0}
WIGGLE = [0.01 * math.sin(i * 0.9) + 0.004 * math.cos(i * 2.3) for i in range(30)]


def params(**overrides: float) -> LimitsParams:
    base = {
        "target_annual_vol": 0.2,
        "vol_min_scale": 0.25,
        "vol_max_scale": 1.5,
        "max_symbol_pct": 0.5,
        "max_cluster_pct": 1.0,
        "corr_threshold": 0.8,
        "max_corr_group_pct": 1.0,
    }
    return LimitsParams(**{**base, **overrides})


def stats_of(**returns: list[float]) -> MarketStats:
    """Stats (annual vol = stdev of returns: one period a year) from each symbol's returns."""
    stats = MarketStats(vol_lookback=10, corr_lookback=30, periods_per_year=1.0)
    for symbol, rets in returns.items():
        close = 100.0
        for i, r in enumerate([0.0, *rets]):
            close *= math.exp(r)
            stats.update(Bar(symbol, (i + 1) * 60 * 10**9, close, close, close, close, 1.0))
    return stats


def alternating(vol: float, n: int = 10) -> list[float]:
    """n returns of +a, -a whose sample stdev is ``vol``."""
    a = vol * math.sqrt((n - 1) / n)
    return [a if i % 2 == 0 else -a for i in range(n)]


def apply(
    limits: PortfolioLimits,
    target: float,
    *,
    symbol: str = "A",
    others: dict[str, float] | None = None,
    stats: MarketStats | None = None,
    equity: float = EQUITY,
) -> LimitsResult:
    return limits.apply(
        symbol, target, equity=equity, others=others or {}, stats=stats or stats_of()
    )


def codes(result: LimitsResult) -> list[ReasonCode]:
    return [r.code for r in result.applied]


@pytest.mark.parametrize(
    ("realised", "factor"),
    [
        (0.4, 0.5),  # too volatile: scaled down
        (0.16, 1.25),  # calm: scaled up
        (0.05, 1.5),  # 4x wanted, clamped at vol_max_scale
        (2.0, 0.25),  # 0.1x wanted, clamped at vol_min_scale
    ],
)
def test_vol_targeting_scales_toward_the_target_within_bounds(
    realised: float, factor: float
) -> None:
    stats = stats_of(A=alternating(realised))
    assert stats.annual_vol("A") == pytest.approx(realised)
    result = apply(PortfolioLimits(params(), clusters={}), 10_000.0, stats=stats)
    assert result.target_notional_usd == pytest.approx(10_000.0 * factor)
    (why,) = result.applied
    assert why.code is ReasonCode.VOL_TARGET_SCALE
    assert why.context["factor"] == pytest.approx(factor)
    assert why.context["realised_vol"] == pytest.approx(realised)
    assert why.context["target_vol"] == 0.2
    assert why.context["before"] == 10_000.0
    assert result.detail["vol_scale"] == pytest.approx(factor)


def test_scale_of_exactly_one_records_nothing() -> None:
    stats = stats_of(A=alternating(0.05))  # would scale up 4x, but the bound is 1
    result = apply(PortfolioLimits(params(vol_max_scale=1.0), clusters={}), 10_000.0, stats=stats)
    assert result.target_notional_usd == 10_000.0
    assert result.applied == []
    assert result.detail["vol_scale"] == 1.0


def test_constant_price_scales_to_the_upper_bound() -> None:
    stats = stats_of(A=[0.0] * 10)
    result = apply(PortfolioLimits(params(), clusters={}), 1_000.0, stats=stats)
    assert result.target_notional_usd == pytest.approx(1_500.0)
    assert result.applied[0].context["realised_vol"] == 0.0


def test_unknown_vol_leaves_the_target_alone_and_says_so() -> None:
    stats = stats_of(A=[0.01, -0.01])  # 2 returns: below vol_lookback // 2
    result = apply(PortfolioLimits(params(), clusters={}), 10_000.0, stats=stats)
    assert result.target_notional_usd == 10_000.0
    assert result.applied == []
    assert result.detail["realised_vol"] is None
    assert "unknown" in result.detail["vol_status"]


def test_symbol_cap_cuts_to_a_fraction_of_equity() -> None:
    limits = PortfolioLimits(params(max_symbol_pct=0.1, **NO_VOL), clusters={})
    result = apply(limits, 25_000.0)
    assert result.target_notional_usd == 10_000.0
    (why,) = result.applied
    assert why.code is ReasonCode.RISK_CAP_PORTFOLIO
    assert why.context == {
        "scope": "symbol",
        "symbol": "A",
        "cap": 10_000.0,
        "before": 25_000.0,
        "after": 10_000.0,
        "factor": 0.4,
    }


def test_vol_scale_applies_before_the_symbol_cap() -> None:
    stats = stats_of(A=alternating(0.16))
    limits = PortfolioLimits(params(max_symbol_pct=0.1), clusters={})
    result = apply(limits, 9_000.0, stats=stats)  # x1.25 = 11_250, then capped to 10_000
    assert codes(result) == [ReasonCode.VOL_TARGET_SCALE, ReasonCode.RISK_CAP_PORTFOLIO]
    assert result.applied[1].context["before"] == pytest.approx(11_250.0)
    assert result.target_notional_usd == 10_000.0


def test_cluster_cap_leaves_only_the_room_the_others_have_not_used() -> None:
    limits = PortfolioLimits(
        params(max_cluster_pct=0.25, **NO_VOL), clusters={"l1": ["A", "B", "C"]}
    )
    # The short counts gross; D is outside the cluster and does not count.
    result = apply(limits, 18_000.0, others={"B": 8_000.0, "C": -7_000.0, "D": 50_000.0})
    assert result.target_notional_usd == pytest.approx(10_000.0)
    (why,) = result.applied
    assert why.code is ReasonCode.RISK_CAP_PORTFOLIO
    assert why.context["scope"] == "cluster"
    assert why.context["cluster"] == "l1"
    assert why.context["others_gross"] == 15_000.0
    assert why.context["cap"] == 25_000.0
    assert why.context["factor"] == pytest.approx(10 / 18)
    assert result.detail["clusters"]["l1"]["members"] == ["A", "B", "C"]


def test_full_cluster_cuts_the_target_to_zero_never_past_it() -> None:
    limits = PortfolioLimits(params(max_cluster_pct=0.25, **NO_VOL), clusters={"l1": ["A", "B"]})
    result = apply(limits, -5_000.0, others={"B": 40_000.0})
    assert result.target_notional_usd == 0.0
    assert not math.copysign(1.0, result.target_notional_usd) < 0  # no -0.0 either
    assert result.applied[0].context["factor"] == 0.0


def test_symbol_outside_every_cluster_is_not_cluster_capped() -> None:
    limits = PortfolioLimits(params(max_cluster_pct=0.25, **NO_VOL), clusters={"l1": ["B", "C"]})
    result = apply(limits, 20_000.0, others={"B": 20_000.0, "C": 20_000.0})
    assert result.target_notional_usd == 20_000.0
    assert result.applied == []


def test_each_cluster_holding_the_symbol_is_checked() -> None:
    limits = PortfolioLimits(
        params(max_cluster_pct=0.25, **NO_VOL),
        clusters={"l1": ["A", "B"], "defi": ["A", "C"]},
    )
    result = apply(limits, 20_000.0, others={"B": 10_000.0, "C": 20_000.0})
    assert [r.context["cluster"] for r in result.applied] == ["l1", "defi"]
    assert result.target_notional_usd == pytest.approx(5_000.0)


def correlated_stats() -> MarketStats:
    # A and B move identically (rho 1); C mirrors A (rho -1); all have known vol.
    return stats_of(A=WIGGLE, B=WIGGLE, C=[-r for r in WIGGLE])


def test_correlated_group_gross_is_capped_and_the_mirror_symbol_is_not_in_it() -> None:
    limits = PortfolioLimits(params(max_corr_group_pct=0.2, **NO_VOL), clusters={})
    result = apply(
        limits, 10_000.0, others={"B": 15_000.0, "C": 15_000.0}, stats=correlated_stats()
    )
    assert result.target_notional_usd == pytest.approx(5_000.0)
    (why,) = result.applied
    assert why.code is ReasonCode.CORR_CLUSTER_CAP
    assert why.context["members"] == ["B"]
    assert why.context["correlations"]["B"] == pytest.approx(1.0)
    assert why.context["others_gross"] == 15_000.0
    assert why.context["factor"] == pytest.approx(0.5)
    assert result.detail["corr_group"]["members"] == ["B"]


def test_correlated_symbol_without_a_position_is_not_in_the_group() -> None:
    limits = PortfolioLimits(params(max_corr_group_pct=0.2, **NO_VOL), clusters={})
    result = apply(limits, 10_000.0, others={"B": 0.0}, stats=correlated_stats())
    assert result.target_notional_usd == 10_000.0
    assert result.detail["corr_group"]["members"] == []


def test_position_without_enough_history_is_listed_as_unknown_correlation() -> None:
    limits = PortfolioLimits(params(max_corr_group_pct=0.2, **NO_VOL), clusters={})
    result = apply(limits, 10_000.0, others={"NEW": 30_000.0}, stats=correlated_stats())
    assert result.target_notional_usd == 10_000.0
    assert result.detail["corr_group"]["unknown"] == ["NEW"]


def test_short_keeps_its_sign_through_every_cap() -> None:
    stats = correlated_stats()
    limits = PortfolioLimits(
        params(max_symbol_pct=0.1, max_corr_group_pct=0.2, vol_min_scale=0.25),
        clusters={},
    )
    result = apply(limits, -50_000.0, others={"B": -15_000.0}, stats=stats)
    assert codes(result) == [
        ReasonCode.VOL_TARGET_SCALE,
        ReasonCode.RISK_CAP_PORTFOLIO,
        ReasonCode.CORR_CLUSTER_CAP,
    ]
    assert result.target_notional_usd == pytest.approx(-5_000.0)
    for why in result.applied:
        assert why.context["before"] < 0 and why.context["after"] < 0


def test_zero_target_comes_back_unchanged_with_nothing_applied() -> None:
    limits = PortfolioLimits(params(max_symbol_pct=0.1), clusters={"l1": ["A", "B"]})
    result = apply(limits, 0.0, others={"B": 1e9}, stats=correlated_stats(), equity=-5.0)
    assert result == LimitsResult(0.0, 0.0, [], {})


@pytest.mark.parametrize("equity", [0.0, -1_000.0])
def test_no_equity_leaves_no_room(equity: float) -> None:
    result = apply(PortfolioLimits(params(), clusters={}), -2_000.0, equity=equity)
    assert result.target_notional_usd == 0.0
    (why,) = result.applied
    assert why.code is ReasonCode.RISK_CAP_PORTFOLIO
    assert why.context["scope"] == "equity"
    assert why.context["before"] == -2_000.0
    assert why.context["factor"] == 0.0


@pytest.mark.parametrize(
    ("target", "equity", "others"),
    [
        (math.nan, EQUITY, {}),
        (1_000.0, math.inf, {}),
        (1_000.0, EQUITY, {"B": -math.inf}),
    ],
)
def test_non_finite_input_is_an_invariant_violation(
    target: float, equity: float, others: dict[str, float]
) -> None:
    limits = PortfolioLimits(params(), clusters={})
    with pytest.raises(InvariantViolation, match="non-finite"):
        apply(limits, target, equity=equity, others=others)


def test_symbol_among_its_own_others_is_refused() -> None:
    with pytest.raises(ValueError, match="others"):
        apply(PortfolioLimits(params(), clusters={}), 1_000.0, others={"A": 1.0})


def test_record_is_json_ready_with_every_factor() -> None:
    limits = PortfolioLimits(
        params(max_symbol_pct=0.1, max_corr_group_pct=0.2), clusters={"l1": ["A", "B"]}
    )
    result = apply(limits, -50_000.0, others={"B": -15_000.0}, stats=correlated_stats())
    record = orjson.loads(orjson.dumps(result.to_record()))
    assert record["input_notional_usd"] == -50_000.0
    assert record["target_notional_usd"] == pytest.approx(-5_000.0)
    assert [r["code"] for r in record["applied"]] == [
        "VOL_TARGET_SCALE",
        "RISK_CAP_PORTFOLIO",
        "CORR_CLUSTER_CAP",
    ]
    assert all("factor" in r for r in record["applied"])
    assert record["detail"]["realised_vol"] == pytest.approx(correlated_stats().annual_vol("A"))
    assert record["detail"]["clusters"]["l1"]["others_gross"] == 15_000.0


PROFILES = [LimitsConfig().conservative, LimitsConfig().balanced, LimitsConfig().aggressive]
PROPERTY_STATS = stats_of(A=WIGGLE, B=WIGGLE, C=[-r for r in WIGGLE], E=[0.002] * 10)
money = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(
    p=st.sampled_from(PROFILES),
    symbol=st.sampled_from(["A", "D"]),  # A has known vol, D none
    target=money,
    equity=money,
    others=st.dictionaries(st.sampled_from(["B", "C", "E", "F"]), money, max_size=4),
)
def test_limits_never_grow_past_the_bounds_nor_flip_the_sign(
    p: LimitsParams, symbol: str, target: float, equity: float, others: dict[str, float]
) -> None:
    limits = PortfolioLimits(p, clusters={"grp": ["A", "B", "D", "F"]})
    result = limits.apply(symbol, target, equity=equity, others=others, stats=PROPERTY_STATS)
    out = result.target_notional_usd
    assert abs(out) <= max(abs(target) * p.vol_max_scale, 0.0)
    assert out == 0.0 or (out > 0) == (target > 0)
    assert abs(out) <= max(p.max_symbol_pct * equity, 0.0)
    for why in result.applied:
        if why.code is not ReasonCode.VOL_TARGET_SCALE:
            assert 0.0 <= why.context["factor"] <= 1.0  # caps only ever shrink
