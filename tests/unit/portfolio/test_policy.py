from __future__ import annotations

import math
import re

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantbot.config.risk import REGIMES, PolicyParams
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.reasons import ReasonCode
from quantbot.portfolio.policy import ExecutionPolicy, PolicyInput, PolicyVerdict

S = 1_000_000_000
T0 = 1_000 * S
ALL_CHECKS = [
    "confidence",
    "cooldown",
    "max_positions",
    "max_exposure",
    "scale_in",
    "symbol_exposure",
    "symbol_positions",
    "regime",
]
# Conservative defaults: floor 0.3, symbol cooldown 30 s, 3 positions, 30% / 10% of equity,
# scale-in delta 0.1 at most once, 2 entries per symbol, regimes 3/3/1, 20% x (0.7 + 0.3 c),
# min order 10 USD, risk score high 0.5.
PARAMS = PolicyParams()


def policy(**changes: object) -> ExecutionPolicy:
    return ExecutionPolicy(attrs.evolve(PARAMS, **changes), low_vol=0.15, high_vol=0.6)


def inp(**changes: object) -> PolicyInput:
    values: dict[str, object] = {
        "symbol": "BTC/USD",
        "direction": 1,
        "confidence": 0.6,
        "price": 50_000.0,
        "leverage": 2.0,
        "regime": "normal",
        "now_ns": T0,
        "equity": 100_000.0,
        "available_capital": 10_000.0,
        "wanted_notional_usd": 3_000.0,
        "positions": {},
    }
    values.update(changes)
    return PolicyInput(**values)  # type: ignore[arg-type]


def blocked(verdict: PolicyVerdict, code: ReasonCode) -> dict[str, object]:
    assert not verdict.allowed
    assert verdict.reason.code is code
    assert (verdict.allocation_usd, verdict.notional_usd, verdict.qty) == (0.0, 0.0, 0.0)
    return verdict.reason.context


# -- the scenarios --------------------------------------------------------------------


def test_valid_entry_gets_the_formula_allocation_and_quantity() -> None:
    v = policy().evaluate(inp(wanted_notional_usd=1_000_000.0))
    assert v.allowed and v.reason.code is ReasonCode.ALLOW_NEW_ENTRY and not v.scale_in
    # 10_000 x 0.2 x (0.7 + 0.3 x 0.6) x 1.0 = 1_760 USD of margin, x2 leverage
    assert v.allocation_usd == pytest.approx(1_760.0)
    assert v.notional_usd == pytest.approx(3_520.0)
    assert v.qty == pytest.approx(3_520.0 / 50_000.0)
    assert v.checks == ALL_CHECKS
    assert v.reason.context["allocation_bound"] == "formula"
    assert v.clamp is not None and v.clamp.code is ReasonCode.POLICY_ALLOCATION_CLAMP
    assert v.clamp.context["wanted_usd"] == 1_000_000.0
    assert v.clamp.context["notional_usd"] == pytest.approx(3_520.0)


def test_entry_below_its_allocation_keeps_the_wanted_notional_unclamped() -> None:
    v = policy().evaluate(inp(wanted_notional_usd=3_000.0))
    assert v.allowed and v.allocation_usd == pytest.approx(1_760.0)
    assert v.notional_usd == 3_000.0 and v.qty == pytest.approx(0.06)
    assert v.clamp is None


def test_high_volatility_regime_scales_the_allocation_by_its_risk_score() -> None:
    v = policy().evaluate(inp(regime="high", wanted_notional_usd=1e6))
    assert v.allocation_usd == pytest.approx(1_760.0 * 0.5)


def test_low_confidence_is_blocked_with_value_and_floor() -> None:
    v = policy().evaluate(inp(confidence=0.29))
    assert blocked(v, ReasonCode.BLOCK_LOW_CONFIDENCE) == {
        "symbol": "BTC/USD",
        "confidence": 0.29,
        "floor": 0.3,
    }
    assert v.checks == []
    assert policy().evaluate(inp(confidence=0.3)).allowed


def test_new_symbol_is_blocked_at_max_total_positions() -> None:
    held = {"ETH/USD": 1_000.0, "SOL/USD": -1_000.0, "XRP/USD": 500.0}
    v = policy().evaluate(inp(positions=held))
    ctx = blocked(v, ReasonCode.BLOCK_MAX_POSITIONS)
    assert (ctx["positions"], ctx["max"]) == (3, 3)
    assert v.checks == ["confidence", "cooldown"]


def test_symbols_with_zero_notional_do_not_count_as_positions() -> None:
    held = {"ETH/USD": 1_000.0, "SOL/USD": -1_000.0, "XRP/USD": 0.0}
    assert policy().evaluate(inp(positions=held)).reason.code is ReasonCode.ALLOW_NEW_ENTRY


def test_scale_in_same_direction_with_improved_confidence_is_allowed() -> None:
    pol = policy()
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=False)
    # Three symbols held already: the position count does not stop adding to one of them.
    held = {"BTC/USD": 2_000.0, "ETH/USD": 1_000.0, "SOL/USD": 1_000.0}
    v = pol.evaluate(inp(now_ns=T0 + 31 * S, confidence=0.6, positions=held))
    assert v.allowed and v.reason.code is ReasonCode.ALLOW_SCALE_IN and v.scale_in
    assert v.allocation_usd == pytest.approx(1_760.0)
    assert v.checks == ALL_CHECKS


def test_scale_in_exactly_delta_above_last_confidence_is_not_lost_to_rounding() -> None:
    pol = policy()
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.2, regime="normal", scale_in=False)
    v = pol.evaluate(inp(now_ns=T0 + 31 * S, confidence=0.3, positions={"BTC/USD": 2_000.0}))
    assert v.reason.code is ReasonCode.ALLOW_SCALE_IN


@pytest.mark.parametrize(
    ("position", "confidence", "prior_scale_ins", "check", "expected"),
    [
        (-2_000.0, 0.9, 0, "direction", {"position_usd": -2_000.0, "direction": 1}),
        (2_000.0, 0.55, 0, "confidence", {"last_confidence": 0.5, "required": 0.6}),
        (2_000.0, 0.9, 1, "count", {"scale_ins": 1, "max": 1}),
    ],
)
def test_scale_in_is_blocked_for_direction_confidence_or_count(
    position: float, confidence: float, prior_scale_ins: int, check: str, expected: dict
) -> None:
    pol = policy()
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=False)
    if prior_scale_ins:
        pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=True)
    v = pol.evaluate(
        inp(now_ns=T0 + 31 * S, confidence=confidence, positions={"BTC/USD": position})
    )
    ctx = blocked(v, ReasonCode.BLOCK_SCALE_IN)
    assert ctx["check"] == check
    assert {k: ctx[k] for k in expected} == pytest.approx(expected)
    assert v.checks == ["confidence", "cooldown", "max_positions", "max_exposure"]


def test_scale_in_into_a_position_without_entry_record_is_blocked() -> None:
    v = policy().evaluate(inp(confidence=0.9, positions={"BTC/USD": 2_000.0}))
    assert blocked(v, ReasonCode.BLOCK_SCALE_IN)["check"] == "no_entry_record"


def test_total_exposure_without_room_for_a_minimum_order_is_blocked() -> None:
    held = {"ETH/USD": 20_000.0, "SOL/USD": -9_990.0}  # 30% of 100k = 30_000: 10 USD left
    ctx = blocked(policy().evaluate(inp(positions=held)), ReasonCode.BLOCK_MAX_EXPOSURE)
    assert ctx["exposure_usd"] == 29_990.0
    assert ctx["max_exposure_usd"] == pytest.approx(30_000.0)
    assert ctx["room_usd"] == pytest.approx(10.0)
    assert ctx["min_order_notional_usd"] == 20.0  # 10 USD at 2x leverage


def test_non_positive_equity_blocks_on_exposure() -> None:
    ctx = blocked(policy().evaluate(inp(equity=0.0)), ReasonCode.BLOCK_MAX_EXPOSURE)
    assert ctx["equity"] == 0.0


def test_allocation_is_capped_by_the_remaining_symbol_room() -> None:
    # Formula: 50_000 x 0.2 x 0.88 = 8_800; symbol room 10_000 - 4_000 = 6_000 at 2x: 3_000.
    pol = policy(max_scale_ins=3)
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=False)
    v = pol.evaluate(
        inp(
            now_ns=T0 + 31 * S,
            available_capital=50_000.0,
            wanted_notional_usd=1e6,
            positions={"BTC/USD": 4_000.0},
        )
    )
    assert v.allowed
    assert v.reason.context["base_usd"] == pytest.approx(8_800.0)
    assert v.allocation_usd == pytest.approx(3_000.0)
    assert v.notional_usd == pytest.approx(6_000.0)
    assert 4_000.0 + v.notional_usd <= 10_000.0
    assert v.reason.context["allocation_bound"] == "symbol_room"
    assert v.clamp is not None and v.clamp.context["bound"] == "symbol_room"


def test_allocation_is_capped_by_the_remaining_total_room() -> None:
    held = {"ETH/USD": 14_000.0, "SOL/USD": 14_000.0}  # 2_000 left of 30_000
    v = policy().evaluate(inp(available_capital=50_000.0, wanted_notional_usd=1e6, positions=held))
    assert v.allocation_usd == pytest.approx(1_000.0)
    assert v.notional_usd == pytest.approx(2_000.0)
    assert v.reason.context["allocation_bound"] == "total_room"


def test_small_allocation_is_floored_at_the_minimum_order() -> None:
    v = policy().evaluate(inp(available_capital=50.0, wanted_notional_usd=1_000.0))
    assert v.reason.context["base_usd"] == pytest.approx(8.8)
    assert v.allocation_usd == 10.0
    assert v.notional_usd == 20.0 and v.qty == pytest.approx(20.0 / 50_000.0)
    assert v.reason.context["allocation_bound"] == "min_order"


def test_symbol_exposure_without_room_for_a_minimum_order_is_blocked() -> None:
    pol = policy()
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=False)
    v = pol.evaluate(inp(now_ns=T0 + 31 * S, confidence=0.7, positions={"BTC/USD": 9_990.0}))
    ctx = blocked(v, ReasonCode.BLOCK_SYMBOL_EXPOSURE)
    assert ctx["exposure_usd"] == 9_990.0 and ctx["room_usd"] == pytest.approx(10.0)
    assert ctx["max_exposure_usd"] == pytest.approx(10_000.0)


# -- cooldowns, per-symbol and per-regime counts ----------------------------------------------


def test_global_cooldown_blocks_any_symbol_until_it_has_passed() -> None:
    pol = policy(global_cooldown_s=60.0)
    pol.on_entry("ETH/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=False)
    ctx = blocked(pol.evaluate(inp(now_ns=T0 + 59 * S)), ReasonCode.BLOCK_COOLDOWN)
    assert ctx["scope"] == "global"
    assert (ctx["elapsed_s"], ctx["cooldown_s"]) == (59.0, 60.0)
    assert pol.evaluate(inp(now_ns=T0 + 60 * S)).allowed


def test_symbol_cooldown_blocks_only_that_symbol() -> None:
    pol = policy()
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=False)
    held = {"BTC/USD": 2_000.0}
    ctx = blocked(
        pol.evaluate(inp(now_ns=T0 + 29 * S, confidence=0.9, positions=held)),
        ReasonCode.BLOCK_COOLDOWN,
    )
    assert (ctx["scope"], ctx["elapsed_s"], ctx["cooldown_s"]) == ("symbol", 29.0, 30.0)
    assert pol.evaluate(inp(symbol="ETH/USD", now_ns=T0 + 29 * S, positions=held)).allowed
    assert pol.evaluate(inp(now_ns=T0 + 30 * S, confidence=0.9, positions=held)).allowed


def test_entries_per_symbol_are_limited() -> None:
    pol = policy(max_scale_ins=5, max_positions_per_symbol=2)
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.4, regime="normal", scale_in=False)
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="normal", scale_in=True)
    v = pol.evaluate(inp(now_ns=T0 + 31 * S, confidence=0.9, positions={"BTC/USD": 2_000.0}))
    ctx = blocked(v, ReasonCode.BLOCK_SYMBOL_POSITIONS)
    assert (ctx["entries"], ctx["max"]) == (2, 2)
    assert v.checks == ALL_CHECKS[:6]


def test_regime_rule_counts_positions_entered_in_the_same_regime() -> None:
    pol = policy()  # high: at most 1
    pol.on_entry("ETH/USD", now_ns=T0, confidence=0.5, regime="high", scale_in=False)
    held = {"ETH/USD": 1_000.0}
    ctx = blocked(pol.evaluate(inp(regime="high", positions=held)), ReasonCode.BLOCK_REGIME_RULE)
    assert (ctx["regime"], ctx["positions"], ctx["max"]) == ("high", 1, 1)
    assert pol.evaluate(inp(regime="normal", positions=held)).allowed


def test_position_without_entry_record_counts_in_the_normal_regime() -> None:
    pol = policy(max_positions_per_regime={"low": 3, "normal": 1, "high": 1})
    held = {"ETH/USD": 1_000.0}
    assert blocked(pol.evaluate(inp(positions=held)), ReasonCode.BLOCK_REGIME_RULE)
    assert pol.evaluate(inp(regime="low", positions=held)).allowed


def test_regime_of_annual_volatility() -> None:
    pol = policy()
    assert [pol.regime(v) for v in (None, 0.1, 0.15, 0.6, 0.61)] == [
        "normal",
        "low",
        "normal",
        "normal",
        "high",
    ]
    with pytest.raises(InvariantViolation):
        pol.regime(math.nan)


# -- state: on_flat, purity -----------------------------------------------------


def test_on_flat_forgets_the_entry_but_keeps_the_cooldown() -> None:
    pol = policy()  # high: at most 1
    pol.on_entry("BTC/USD", now_ns=T0, confidence=0.5, regime="high", scale_in=False)
    pol.on_flat("BTC/USD")
    ctx = blocked(pol.evaluate(inp(now_ns=T0 + 10 * S)), ReasonCode.BLOCK_COOLDOWN)
    assert ctx["scope"] == "symbol"
    assert pol.evaluate(inp(now_ns=T0 + 31 * S)).reason.code is ReasonCode.ALLOW_NEW_ENTRY
    # Whatever still shows in BTC is no longer the recorded "high" entry: ETH may take the
    # high slot, and BTC's old confidence no longer vouches for a scale-in.
    held = {"BTC/USD": 1_000.0}
    assert pol.evaluate(inp(symbol="ETH/USD", regime="high", positions=held)).allowed
    v = pol.evaluate(inp(now_ns=T0 + 31 * S, confidence=0.9, positions=held))
    assert blocked(v, ReasonCode.BLOCK_SCALE_IN)["check"] == "no_entry_record"


def test_evaluate_changes_no_state() -> None:
    pol = policy()
    first = pol.evaluate(inp())
    assert first.allowed
    assert pol.evaluate(inp()) == first


# -- records and invariants -------------------------------------------------------------------


def test_record_carries_verdict_code_sizes_checks_and_limits() -> None:
    rec = policy().evaluate(inp(wanted_notional_usd=1e6)).to_record()
    assert orjson.loads(orjson.dumps(rec)) == rec
    assert (rec["verdict"], rec["code"]) == ("allow", "ALLOW_NEW_ENTRY")
    assert rec["allocation_usd"] == pytest.approx(1_760.0)
    assert rec["checks"] == ALL_CHECKS
    assert rec["limits"]["max_symbol_exposure_usd"] == pytest.approx(10_000.0)
    assert rec["limits"]["max_total_exposure_usd"] == pytest.approx(30_000.0)
    assert rec["limits"]["risk_score"] == 1.0 and rec["limits"]["min_order_usd"] == 10.0
    assert rec["clamp"]["code"] == "POLICY_ALLOCATION_CLAMP"
    block = policy().evaluate(inp(confidence=0.1)).to_record()
    assert (block["verdict"], block["code"], block["notional_usd"]) == (
        "block",
        "BLOCK_LOW_CONFIDENCE",
        0.0,
    )
    assert block["reason"]["floor"] == 0.3


@pytest.mark.parametrize(
    "change",
    [
        {"confidence": math.nan},
        {"price": math.inf},
        {"price": 0.0},
        {"equity": math.nan},
        {"available_capital": -math.inf},
        {"wanted_notional_usd": 0.0},
        {"positions": {"ETH/USD": math.nan}},
        {"confidence": 1.5},
        # Infinite but otherwise in range: only the finite check refuses these.
        {"leverage": math.inf},
        {"equity": math.inf},
        {"wanted_notional_usd": math.inf},
        {"positions": {"ETH/USD": -math.inf}},
    ],
)
def test_non_finite_or_impossible_inputs_are_invariant_violations(change: dict) -> None:
    with pytest.raises(InvariantViolation):
        inp(**change)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"wanted_notional_usd": math.inf}, "wanted_notional_usd=inf"),
        ({"leverage": math.nan}, "leverage=nan"),
        ({"positions": {"ETH/USD": math.inf}}, "positions[ETH/USD]=inf"),
    ],
)
def test_a_non_finite_input_is_named_in_the_violation(change: dict, named: str) -> None:
    with pytest.raises(InvariantViolation, match=re.escape(named)):
        inp(**change)


@pytest.mark.parametrize("change", [{"direction": 0}, {"regime": "calm"}])
def test_bad_direction_or_regime_name_is_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        inp(**change)


# -- property: an allowed entry never passes a limit -------------------------------------------

SYMBOLS = ("A", "B", "C", "D")
unit = st.floats(0.0, 1.0)
params_st = st.builds(
    PolicyParams,
    confidence_floor=st.floats(0.0, 0.5),
    global_cooldown_s=st.floats(0.0, 100.0),
    symbol_cooldown_s=st.floats(0.0, 100.0),
    max_total_positions=st.integers(1, 5),
    max_total_exposure_pct=st.floats(0.01, 3.0),
    scale_in_confidence_delta=unit,
    max_scale_ins=st.integers(0, 3),
    max_symbol_exposure_pct=st.floats(0.01, 3.0),
    max_positions_per_symbol=st.integers(1, 4),
    max_positions_per_regime=st.fixed_dictionaries({r: st.integers(0, 4) for r in REGIMES}),
    capital_fraction=st.floats(0.01, 1.0),
    confidence_base=unit,
    confidence_slope=unit,
    min_order_usd=st.floats(0.0, 100.0),
    risk_score=st.fixed_dictionaries({r: st.floats(0.0, 2.0) for r in REGIMES}),
)
entry_st = st.tuples(
    st.sampled_from(SYMBOLS), st.floats(0.0, 0.8), st.sampled_from(REGIMES), st.booleans()
)
input_st = st.builds(
    PolicyInput,
    symbol=st.sampled_from(SYMBOLS),
    direction=st.sampled_from((1, -1)),
    confidence=st.floats(0.25, 1.0),
    price=st.floats(0.01, 1e6),
    leverage=st.floats(1.0, 20.0),
    regime=st.sampled_from(REGIMES),
    now_ns=st.integers(50 * S, 1_000 * S),
    equity=st.floats(-1e4, 1e9),
    available_capital=st.floats(0.0, 1e9),
    wanted_notional_usd=st.floats(1e-3, 1e9),
    positions=st.dictionaries(st.sampled_from(SYMBOLS), st.floats(-1e5, 1e5), max_size=4),
)


@settings(max_examples=300)
@given(params_st, st.lists(entry_st, max_size=5), input_st)
def test_allowed_verdict_never_passes_a_limit(
    params: PolicyParams, entries: list[tuple[str, float, str, bool]], order: PolicyInput
) -> None:
    pol = ExecutionPolicy(params, low_vol=0.15, high_vol=0.6)
    for symbol, confidence, regime, scale_in in entries:
        pol.on_entry(symbol, now_ns=0, confidence=confidence, regime=regime, scale_in=scale_in)
    v = pol.evaluate(order)
    assert isinstance(v.reason.code, ReasonCode)
    if not v.allowed:
        assert v.reason.code.name.startswith("BLOCK_") and v.notional_usd == 0.0
        return
    assert v.reason.code in (ReasonCode.ALLOW_NEW_ENTRY, ReasonCode.ALLOW_SCALE_IN)
    held = abs(order.positions.get(order.symbol, 0.0))
    gross = sum(abs(n) for n in order.positions.values())
    symbol_cap = params.max_symbol_exposure_pct * order.equity
    total_cap = params.max_total_exposure_pct * order.equity
    assert 0.0 <= v.notional_usd <= order.wanted_notional_usd
    # Zero only when there is no floor: min_order_usd 0 and a formula that gives nothing.
    assert v.notional_usd > 0.0 or params.min_order_usd == 0.0
    assert held + v.notional_usd <= symbol_cap * (1 + 1e-12) + 1e-6
    assert gross + v.notional_usd <= total_cap * (1 + 1e-12) + 1e-6
    assert v.qty * order.price == pytest.approx(v.notional_usd)
    assert v.allocation_usd >= params.min_order_usd * (1 - 1e-12)
