"""The cost gate: expected edge against the paper venue's own cost model plus a buffer."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.config.costs import CostGateConfig, CostGateParams
from quantbot.config.venues import SimVenueConfig
from quantbot.domain.values import Bar
from quantbot.risk.cost_gate import CostGate, CostModel
from quantbot.venues.sim.matching import MatchParams

BAR = Bar("AAPL", 0, 100.0, 101.0, 99.0, 100.5, 50_000.0, 86_400)  # a 199 bps range


def venue_cost_bps(sim: SimVenueConfig, bar: Bar, qty: float) -> float:
    """What the embedded paper venue charges a taker fill: its slippage model plus its fee."""
    market = sim.slippage_model == "market"
    params = MatchParams.checked(
        slippage_bps=sim.slippage_bps,
        participation_cap=sim.participation_cap,
        proxy_spread_bps=sim.proxy_spread_bps,
        range_spread_coef=sim.range_spread_coef if market else 0.0,
        impact_coef=sim.impact_coef if market else 0.0,
    )
    return float(params.cost_bps(bar, Decimal(str(qty)))) + sim.fee_bps


@given(
    qty=st.floats(1.0, 200_000.0),
    high=st.floats(100.5, 130.0),
    spread=st.floats(0.0, 50.0),
    model=st.sampled_from(["market", "fixed"]),
)
def test_the_model_is_the_paper_venues_own(qty: float, high: float, spread: float,
                                           model: str) -> None:  # fmt: skip
    sim = SimVenueConfig(proxy_spread_bps=spread, slippage_model=model, fee_bps=1.5)
    bar = attrs.evolve(BAR, high=high)
    total = CostModel.from_sim(sim).terms(bar, qty)["total_bps"]
    assert total == pytest.approx(venue_cost_bps(sim, bar, qty), abs=1e-6)


def gate(buffer: float = 5.0, **by_symbol: float) -> CostGate:
    config = CostGateConfig(edge_scale_bps=100.0, edge_scale_bps_by_symbol=by_symbol)
    return CostGate(config, CostGateParams(buffer), CostModel.from_sim(SimVenueConfig()))


def test_an_entry_passes_only_when_its_edge_exceeds_cost_plus_buffer() -> None:
    cost = CostModel.from_sim(SimVenueConfig()).terms(BAR, 100.0)["total_bps"]
    assert cost == pytest.approx(1.0 + 2.0 + 0.05 * 199.0 + 0.1 * 199.0 * (100 / 50_000) ** 0.5,
                                 rel=1e-3)  # fmt: skip
    # just above the bar: passes; exactly on it ("does not exceed"): blocked
    above = (cost + 5.0) / 100.0 + 1e-6
    why, record = gate().judge(symbol="AAPL", confidence=above, bar=BAR, qty=100.0)
    assert why is None and record["verdict"] == "pass"
    on = (cost + 5.0) / 100.0
    why, record = gate().judge(symbol="AAPL", confidence=on - 1e-9, bar=BAR, qty=100.0)
    assert why is not None and why.code == "COST_GATE_EDGE_BELOW_COST"
    assert record["verdict"] == "block"
    assert why.context["buffer_bps"] == 5.0 and why.context["edge_scale_bps"] == 100.0


def test_a_bigger_order_pays_more_impact_and_can_be_refused_where_a_small_one_passes() -> None:
    small, _ = gate().judge(symbol="AAPL", confidence=0.3, bar=BAR, qty=10.0)
    big, record = gate().judge(symbol="AAPL", confidence=0.3, bar=BAR, qty=25_000.0)
    assert small is None
    assert big is not None and record["cost"]["impact_bps"] > 10.0


def test_a_symbols_own_edge_scale_is_used_for_that_symbol_only() -> None:
    g = gate(buffer=50.0, MSFT=400.0)
    why, record = g.judge(symbol="MSFT", confidence=0.3, bar=BAR, qty=100.0)
    assert why is None and record["edge_scale_bps"] == 400.0 and record["edge_bps"] == 120.0
    why, record = g.judge(symbol="AAPL", confidence=0.3, bar=BAR, qty=100.0)
    assert why is not None and record["edge_scale_bps"] == 100.0


def test_a_thin_market_widens_the_cost_an_entry_must_pay() -> None:
    # The liquidity regime's thin_cost_mult (risk/liquidity): an entry that pays its way in a
    # normal market is refused when the same bar's costs count double.
    cost = CostModel.from_sim(SimVenueConfig()).terms(BAR, 100.0)["total_bps"]
    confidence = (cost + 5.0) / 100.0 + 0.01
    normal, thin = gate(), gate()
    normal.cost_mult = lambda _symbol: 1.0
    thin.cost_mult = lambda symbol: 2.0 if symbol == "AAPL" else 1.0
    assert normal.judge(symbol="AAPL", confidence=confidence, bar=BAR, qty=100.0)[0] is None
    why, record = thin.judge(symbol="AAPL", confidence=confidence, bar=BAR, qty=100.0)
    assert why is not None and why.code == "COST_GATE_EDGE_BELOW_COST"
    assert why.context["thin_cost_mult"] == 2.0
    assert record["cost_bps"] == pytest.approx(2 * cost, abs=1e-3)
    assert thin.judge(symbol="MSFT", confidence=confidence, bar=BAR, qty=100.0)[0] is None
