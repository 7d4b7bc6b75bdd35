"""The cost gate and the turnover caps inside the decision step, as a reader of the decision
record sees them: the entry that went (and at what size) or the reason there was none."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from quantbot.config.schema import Config, load_config
from quantbot.decision.step import Decision, DecisionStep
from quantbot.risk.daily import DailyRiskGuard
from tests.unit.decision.test_step import ENV, SYMBOL, Market, code, decide, make, view, warm_up

D = Decimal
HIGH_BUFFER = {"QUANTBOT__COST_GATE__CONSERVATIVE__ENTRY_COST_BUFFER_BPS": "90"}


def config(env: dict[str, str] | None = None, **edge_scales: float) -> Config:
    loaded = load_config(None, environ={**ENV, **(env or {})}).config
    if edge_scales:
        gate = attrs.evolve(loaded.cost_gate, edge_scale_bps_by_symbol=edge_scales)
        loaded = attrs.evolve(loaded, cost_gate=gate)
    return loaded


def entry(cfg: Config, **view_fields: Any) -> tuple[Decision, DecisionStep, Market]:
    """Warm up on a strong uptrend (confidence 0.90), then decide the first bar that trades."""
    step, market = make(config=cfg)
    warm_up(step, market)
    return decide(step, market.bar(), view(**view_fields)), step, market


# -- cost gate ------------------------------------------------------------------------------


def test_a_high_edge_entry_passes_and_the_record_says_by_how_much() -> None:
    decision, _, _ = entry(config())
    gate = decision.record["cost_gate"]
    assert decision.intent is not None and decision.intent.side.value == "BUY"
    assert gate["verdict"] == "pass"
    # edge = netted confidence x the default edge scale (100 bps) ...
    assert gate["confidence"] == round(decision.record["net"]["confidence"], 4)
    assert gate["edge_scale_bps"] == 100.0
    assert gate["edge_bps"] == pytest.approx(gate["confidence"] * 100.0, abs=0.01)
    # ... cost = the paper venue's model: fee 1 + slippage 2 + 0.05 x the bar's range + impact
    bar = decision.record["bar"]
    range_bps = (bar["h"] - bar["l"]) / bar["c"] * 1e4
    assert gate["cost"]["fee_bps"] == 1.0 and gate["cost"]["slippage_bps"] == 2.0
    assert gate["cost"]["spread_bps"] == pytest.approx(0.05 * range_bps, abs=1e-3)
    assert gate["cost_bps"] == pytest.approx(sum(gate["cost"].values()), abs=1e-3)
    assert gate["buffer_bps"] == 5.0
    assert gate["edge_bps"] > gate["cost_bps"] + gate["buffer_bps"]


def test_a_low_edge_entry_is_blocked_with_its_edge_cost_and_buffer() -> None:
    decision, _, _ = entry(config(HIGH_BUFFER))
    assert decision.intent is None
    assert code(decision) == "COST_GATE_EDGE_BELOW_COST"
    why = decision.record["reason"]
    assert set(why) == {"code", "edge_bps", "cost_bps", "buffer_bps", "confidence",
                        "edge_scale_bps"}  # fmt: skip
    assert why["buffer_bps"] == 90.0
    assert why["edge_bps"] <= why["cost_bps"] + why["buffer_bps"]
    assert decision.record["cost_gate"]["verdict"] == "block"
    # the governor approved it first; the caps were never asked
    assert decision.record["governor"]["verdict"] == "approve"
    assert decision.record["turnover"] == {"verdict": "not_reached"}


def test_an_order_that_only_reduces_is_never_judged_by_the_cost_gate() -> None:
    # The strongest buffer there is: no entry could pass it, a reduction still goes.
    cfg = config({"QUANTBOT__COST_GATE__CONSERVATIVE__ENTRY_COST_BUFFER_BPS": "10000"})
    decision, _, _ = entry(cfg, positions={SYMBOL: D(200)})
    assert decision.intent is not None
    assert decision.intent.side.value == "SELL" and decision.record["intent"]["reducing"]
    assert decision.record["cost_gate"] == {"verdict": "skipped", "why": "reducing"}
    assert decision.record["turnover"] == {"verdict": "skipped", "why": "reducing"}


def test_a_reversal_the_cost_gate_refuses_still_closes_the_old_side() -> None:
    decision, _, _ = entry(config(HIGH_BUFFER), positions={SYMBOL: D(-20)})
    assert decision.intent is not None
    assert (decision.intent.side.value, decision.intent.qty) == ("BUY", D(20))  # to flat
    assert {"code": "ENTRY_BLOCKED_CLOSE_ONLY", "blocked_by": "COST_GATE_EDGE_BELOW_COST"} in (
        decision.record["clamps"]
    )
    assert decision.record["cost_gate"]["verdict"] == "block"


def test_a_symbols_own_edge_scale_overrides_the_default() -> None:
    # With a 90 bps buffer the default scale (100 bps) blocks this entry; SIMA's own 200 bps
    # lets it through, and another symbol's override changes nothing for SIMA.
    passed, _, _ = entry(config(HIGH_BUFFER, SIMA=200.0))
    assert passed.intent is not None
    assert passed.record["cost_gate"]["verdict"] == "pass"
    assert passed.record["cost_gate"]["edge_scale_bps"] == 200.0
    blocked, _, _ = entry(config(HIGH_BUFFER, OTHER=200.0))
    assert code(blocked) == "COST_GATE_EDGE_BELOW_COST"
    assert blocked.record["cost_gate"]["edge_scale_bps"] == 100.0


def test_the_cost_gate_off_judges_nothing() -> None:
    cfg = config({**HIGH_BUFFER, "QUANTBOT__COST_GATE__ENABLED": "false"})
    decision, _, _ = entry(cfg)
    assert decision.intent is not None
    assert decision.record["cost_gate"] == {"verdict": "skipped", "why": "disabled"}


# -- turnover caps --------------------------------------------------------------------------

# 5% of the 100,000 equity per symbol per day (5,000 USD), 8% over all symbols (8,000 USD).
CAPS = {
    "QUANTBOT__TURNOVER__CONSERVATIVE__MAX_SYMBOL_EQUITY_X": "0.05",
    "QUANTBOT__TURNOVER__CONSERVATIVE__MAX_DAILY_EQUITY_X": "0.08",
}


def traded(guard: DailyRiskGuard, cid: str, symbol: str, usd: float) -> None:
    """An entry of ``usd`` in ``symbol`` reserved and filled today, as the order side does."""
    assert guard.reserve(client_order_id=cid, symbol=symbol, sleeve="trend", notional_usd=usd,
                         risk_usd=usd * 0.02) is None  # fmt: skip
    guard.on_fill(client_order_id=cid, symbol=symbol, notional_usd=usd, realized_pnl_usd=0.0,
                  position_before=0.0, position_after=10.0)  # fmt: skip


def capped(
    setup: Any, roll_minute: int = 0, env: dict[str, str] | None = None
) -> tuple[Decision, DailyRiskGuard]:
    """The first trading bar's decision with a daily guard ``setup`` has traded through."""
    step, market = make(config=config({**CAPS, **(env or {})}))
    daily = load_config(None, environ={}).config.risk_params.daily
    guard = DailyRiskGuard(daily, roll_minute=roll_minute, clock=market.clock)
    step.risk.gates.turnover.bind(guard.turnover)
    setup(guard)
    warm_up(step, market)
    return decide(step, market.bar(), view()), guard


def test_an_entry_is_scaled_down_to_what_is_left_of_its_symbols_cap() -> None:
    decision, _ = capped(lambda g: traded(g, "earlier", SYMBOL, 3_000.0))
    assert decision.intent is not None
    price = decision.record["bar"]["c"]
    # 5,000 cap - 3,000 traded = 2,000 left: whole shares of it
    assert decision.intent.qty == D(int(2_000.0 / price))
    [clamp] = [c for c in decision.record["clamps"] if c["code"].startswith("TURNOVER")]
    assert clamp["code"] == "TURNOVER_CAP_SYMBOL"
    assert clamp["used_usd"] == 3_000.0 and clamp["cap_usd"] == 5_000.0
    assert clamp["allowed_usd"] == 2_000.0 and clamp["wanted_usd"] > 2_000.0
    turnover = decision.record["turnover"]
    assert turnover["verdict"] == "scale" and turnover["day"] == "2025-11-21"
    assert turnover["symbol"]["used_usd"] == 3_000.0
    assert turnover["daily"] == {"used_usd": 3_000.0, "cap_usd": 8_000.0, "equity_x": 0.08}


def test_an_entry_is_blocked_when_less_than_the_minimum_order_is_left() -> None:
    decision, _ = capped(lambda g: traded(g, "earlier", SYMBOL, 4_995.0))
    assert decision.intent is None
    assert code(decision) == "TURNOVER_CAP_SYMBOL"
    why = decision.record["reason"]
    assert why["allowed_usd"] == 5.0 and why["min_order_usd"] == 10.0
    assert decision.record["turnover"]["verdict"] == "block"


def test_the_daily_cap_counts_every_symbol_and_in_flight_entries() -> None:
    def setup(guard: DailyRiskGuard) -> None:
        traded(guard, "other-filled", "SIMB", 5_000.0)
        # reserved, not filled yet: it counts too, so two entries cannot spend the same room
        guard.reserve(client_order_id="other-working", symbol="SIMC", sleeve="trend",
                      notional_usd=2_500.0, risk_usd=50.0)  # fmt: skip

    decision, _ = capped(setup)
    assert decision.intent is not None
    [clamp] = [c for c in decision.record["clamps"] if c["code"].startswith("TURNOVER")]
    assert clamp["code"] == "TURNOVER_CAP_DAILY"
    assert clamp["used_usd"] == 7_500.0 and clamp["allowed_usd"] == 500.0
    price = decision.record["bar"]["c"]
    assert decision.intent.qty == D(int(500.0 / price))


def test_orders_that_only_reduce_are_not_counted() -> None:
    def setup(guard: DailyRiskGuard) -> None:
        traded(guard, "entry", SYMBOL, 3_000.0)
        # a sell that closes (no reservation: not an entry), 4,000 USD of it
        guard.on_fill(client_order_id="exit", symbol=SYMBOL, notional_usd=4_000.0,
                      realized_pnl_usd=10.0, position_before=10.0, position_after=0.0)  # fmt: skip

    decision, _ = capped(setup)
    assert decision.record["turnover"]["symbol"]["used_usd"] == 3_000.0


def test_the_trading_day_roll_starts_the_count_again() -> None:
    # The guard's day rolls at 12:05 UTC: what was traded at 12:00 was yesterday's.
    full = lambda g: traded(g, "earlier", SYMBOL, 5_000.0)  # noqa: E731
    same_day, _ = capped(full, roll_minute=0)
    assert code(same_day) == "TURNOVER_CAP_SYMBOL"
    next_day, _ = capped(full, roll_minute=12 * 60 + 5)
    assert next_day.intent is not None
    assert next_day.record["turnover"]["verdict"] == "pass"
    assert next_day.record["turnover"]["day"] == "2025-11-21"
    assert next_day.record["turnover"]["symbol"]["used_usd"] == 0.0
