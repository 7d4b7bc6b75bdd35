from __future__ import annotations

import asyncio
import math

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.config.risk import GovernorParams
from quantbot.domain.reasons import ReasonCode
from quantbot.risk.governor import GovernorRequest, GovernorState, GovernorVerdict, RiskGovernor

# min_order, max_position, min_lev, max_lev, max_notional, confidence_floor, risk_budget
PARAMS = GovernorParams(10.0, 5_000.0, 1.0, 20.0, 10_000.0, 0.0, 0.0)
STATE = GovernorState(equity=50_000.0)


def req(size: float = 100.0, leverage: float = 5.0, **kw: object) -> GovernorRequest:
    fields: dict = {"symbol": "BTC/USDT", "side": "buy", "confidence": 0.6}
    fields.update(kw)
    return GovernorRequest(size_usd=size, leverage=leverage, **fields)


def evaluate(request: GovernorRequest, **changes: float) -> GovernorVerdict:
    return RiskGovernor(attrs.evolve(PARAMS, **changes)).evaluate(request, STATE)


def test_accepts_a_valid_trade_unchanged() -> None:
    verdict = evaluate(req(100.0, 5.0))
    assert verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_APPROVED
    assert (verdict.size_usd, verdict.leverage, verdict.notional_usd) == (100.0, 5.0, 500.0)
    assert verdict.clamps == []
    assert verdict.metadata["before"] == verdict.metadata["after"]


def test_verdict_unpacks_as_approved_reason_metadata() -> None:
    approved, why, meta = evaluate(req(100.0, 5.0))
    assert approved is True
    assert why.code is ReasonCode.GOVERNOR_APPROVED
    assert meta["after"] == {"size": 100.0, "leverage": 5.0, "notional": 500.0}
    assert meta["bounds"]["max_notional_usd"] == 10_000.0


def test_clamps_excessive_leverage_to_max_and_records_before_and_after() -> None:
    verdict = evaluate(req(100.0, 50.0))
    assert verdict.approved
    assert verdict.leverage == 20.0
    assert verdict.reason.code is ReasonCode.GOVERNOR_LEVERAGE_CLAMP
    assert verdict.reason.context["before"] == 50.0
    assert verdict.reason.context["after"] == 20.0
    assert verdict.metadata["before"]["leverage"] == 50.0
    assert verdict.metadata["after"]["leverage"] == 20.0


def test_leverage_below_min_is_raised_to_min() -> None:
    verdict = evaluate(req(100.0, 1.0), min_leverage=2.0)
    assert verdict.approved
    assert verdict.leverage == 2.0
    assert verdict.reason.code is ReasonCode.GOVERNOR_LEVERAGE_CLAMP


def test_clamps_excessive_size_to_max_position() -> None:
    verdict = evaluate(req(8_000.0, 1.0))
    assert verdict.approved
    assert verdict.size_usd == 5_000.0
    assert verdict.reason.code is ReasonCode.GOVERNOR_SIZE_CLAMP
    assert verdict.reason.context == {"before": 8_000.0, "after": 5_000.0, "max_position_usd": 5e3}


def test_notional_excess_lowers_leverage_before_size() -> None:
    # 1000 x 20 = 20k > 10k: leverage 10 brings it to the cap and keeps the full size.
    verdict = evaluate(req(1_000.0, 20.0))
    assert verdict.approved
    assert (verdict.size_usd, verdict.leverage) == (1_000.0, 10.0)
    assert verdict.reason.code is ReasonCode.GOVERNOR_NOTIONAL_CLAMP
    assert verdict.reason.context["what"] == "leverage"
    assert [c.context["what"] for c in verdict.clamps] == ["leverage"]


def test_notional_excess_at_min_leverage_lowers_size() -> None:
    # 5000 x 4 = 20k; leverage can only go to 2 (min), so size is cut to 8000 / 2 = 4000.
    verdict = evaluate(req(5_000.0, 4.0), min_leverage=2.0, max_notional_usd=8_000.0)
    assert verdict.approved
    assert (verdict.size_usd, verdict.leverage, verdict.notional_usd) == (4_000.0, 2.0, 8_000.0)
    assert [c.context["what"] for c in verdict.clamps] == ["leverage", "size"]
    assert verdict.reason.context["what"] == "leverage"  # the first clamp names the verdict


def test_rejects_notional_excess_it_cannot_clamp() -> None:
    # max_notional 5 < min_order 10 x min_leverage 1: no valid order exists.
    verdict = evaluate(req(100.0, 3.0), max_notional_usd=5.0)
    assert not verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_NOTIONAL_REJECT
    assert verdict.reason.context["size"] == 5.0
    assert verdict.reason.context["min_order_usd"] == 10.0
    assert (verdict.size_usd, verdict.notional_usd) == (0.0, 0.0)
    assert verdict.metadata["after"]["size"] == 5.0


def test_rejects_size_already_below_min_order() -> None:
    verdict = evaluate(req(5.0, 2.0))
    assert not verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_SIZE_BELOW_MIN
    assert verdict.reason.context == {"size": 5.0, "min_order_usd": 10.0}


def test_never_clamps_size_up_even_for_a_zero_size() -> None:
    verdict = evaluate(req(0.0, 2.0), min_order_usd=0.0)
    assert not verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_SIZE_BELOW_MIN


def test_respects_the_confidence_floor() -> None:
    low = evaluate(req(confidence=0.29), confidence_floor=0.3)
    assert not low.approved
    assert low.reason.code is ReasonCode.GOVERNOR_LOW_CONFIDENCE
    assert low.reason.context == {"confidence": 0.29, "floor": 0.3}
    assert evaluate(req(confidence=0.3), confidence_floor=0.3).approved


def test_zero_confidence_floor_is_off() -> None:
    assert evaluate(req(confidence=0.0)).approved


def test_risk_budget_clamps_size_so_loss_at_stop_fits() -> None:
    # notional 1000 x 5 = 5000; at a 2% stop the loss is 100 > budget 50 -> size 50/(5x0.02)=500
    verdict = evaluate(req(1_000.0, 5.0, stop_loss_pct=0.02), risk_budget_usd=50.0)
    assert verdict.approved
    assert verdict.size_usd == pytest.approx(500.0)
    assert verdict.reason.code is ReasonCode.GOVERNOR_RISK_BUDGET_CLAMP
    assert verdict.reason.context["loss_at_stop"] == pytest.approx(100.0)
    assert verdict.notional_usd * 0.02 == pytest.approx(50.0)


def test_unknown_stop_puts_the_whole_notional_at_risk() -> None:
    verdict = evaluate(req(100.0, 5.0), risk_budget_usd=250.0)
    assert verdict.approved
    assert verdict.notional_usd == pytest.approx(250.0)
    assert verdict.size_usd == pytest.approx(50.0)


def test_tighter_of_intent_and_config_budget_applies() -> None:
    intent_tighter = evaluate(req(1_000.0, 1.0, risk_budget_usd=100.0), risk_budget_usd=400.0)
    assert intent_tighter.notional_usd == pytest.approx(100.0)
    assert intent_tighter.metadata["bounds"]["risk_budget_usd"] == 100.0
    config_tighter = evaluate(req(1_000.0, 1.0, risk_budget_usd=900.0), risk_budget_usd=400.0)
    assert config_tighter.notional_usd == pytest.approx(400.0)
    intent_only = evaluate(req(1_000.0, 1.0, risk_budget_usd=300.0))
    assert intent_only.notional_usd == pytest.approx(300.0)


def test_risk_budget_rejects_when_the_fitting_size_is_below_min_order() -> None:
    # budget 1 at a 1% stop allows notional 100: size 100 / 20 = 5 < min order 10
    verdict = evaluate(req(200.0, 20.0, stop_loss_pct=0.01), risk_budget_usd=1.0)
    assert not verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_SIZE_BELOW_MIN
    assert verdict.reason.context["budget_usd"] == 1.0
    assert verdict.reason.context["size"] == pytest.approx(5.0)
    assert [c.code for c in verdict.clamps] == [ReasonCode.GOVERNOR_RISK_BUDGET_CLAMP]


def test_all_clamps_are_listed_in_order() -> None:
    verdict = evaluate(req(9_000.0, 30.0, stop_loss_pct=0.01), risk_budget_usd=50.0)
    assert verdict.approved
    assert [c.code for c in verdict.clamps] == [
        ReasonCode.GOVERNOR_LEVERAGE_CLAMP,
        ReasonCode.GOVERNOR_SIZE_CLAMP,
        ReasonCode.GOVERNOR_NOTIONAL_CLAMP,
        ReasonCode.GOVERNOR_RISK_BUDGET_CLAMP,
    ]
    assert verdict.reason == verdict.clamps[0]


def test_record_is_json_ready_with_before_after_and_bounds() -> None:
    record = orjson.loads(orjson.dumps(evaluate(req(100.0, 50.0)).to_record()))
    assert record["approved"] is True
    assert record["reason"]["code"] == "GOVERNOR_LEVERAGE_CLAMP"
    assert record["before"]["leverage"] == 50.0
    assert record["after"] == {"size": 100.0, "leverage": 20.0, "notional": 2_000.0}
    assert record["bounds"]["max_leverage"] == 20.0
    assert record["clamps"][0]["after"] == 20.0


@pytest.mark.parametrize(
    ("field", "request_"),
    [
        ("size_usd", req(math.nan)),
        ("size_usd", req(math.inf)),  # >= 0, but not finite
        ("size_usd", req(-1.0)),
        ("leverage", req(100.0, math.inf)),
        ("leverage", req(100.0, 0.0)),
        ("confidence", req(confidence=1.5)),
        ("confidence", req(confidence=math.nan)),
        ("stop_loss_pct", req(stop_loss_pct=math.nan)),
        ("risk_budget_usd", req(risk_budget_usd=-5.0)),
        ("side", req(side="long")),
    ],
)
def test_bad_input_raises_naming_the_field(field: str, request_: GovernorRequest) -> None:
    with pytest.raises(ValueError, match=field):
        RiskGovernor(PARAMS).evaluate(request_, STATE)


def test_non_finite_equity_raises() -> None:
    with pytest.raises(ValueError, match="equity"):
        RiskGovernor(PARAMS).evaluate(req(), GovernorState(math.nan))


def test_inverted_params_are_refused() -> None:
    with pytest.raises(ValueError, match="min_leverage"):
        RiskGovernor(GovernorParams(min_leverage=30.0, max_leverage=20.0))
    with pytest.raises(ValueError, match="min_order_usd"):
        RiskGovernor(GovernorParams(min_order_usd=100.0, max_position_usd=50.0))


class _BrokenGovernor(RiskGovernor):
    def evaluate(self, request: GovernorRequest, state: GovernorState) -> GovernorVerdict:
        raise ZeroDivisionError("boom")


def test_failing_governor_rejects_by_default() -> None:
    verdict = _BrokenGovernor(PARAMS).guarded(req(100.0, 5.0), STATE)
    assert not verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_ERROR
    assert verdict.reason.context == {"error": "ZeroDivisionError: boom", "fail_open": False}
    assert verdict.size_usd == 0.0
    assert verdict.metadata["before"]["size"] == 100.0


def test_failing_governor_with_fail_open_approves_the_request_unchanged() -> None:
    verdict = _BrokenGovernor(PARAMS, fail_open=True).guarded(req(100.0, 50.0), STATE)
    assert verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_ERROR_FAIL_OPEN
    assert verdict.reason.context["error"] == "ZeroDivisionError: boom"
    assert (verdict.size_usd, verdict.leverage, verdict.notional_usd) == (100.0, 50.0, 5_000.0)


def test_fail_open_never_lets_a_non_finite_request_through() -> None:
    verdict = RiskGovernor(PARAMS, fail_open=True).guarded(req(math.nan, 5.0), STATE)
    assert not verdict.approved
    assert verdict.reason.code is ReasonCode.GOVERNOR_ERROR
    assert "size_usd" in verdict.reason.context["error"]


def test_guarded_passes_a_working_governors_verdict_through() -> None:
    verdict = RiskGovernor(PARAMS).guarded(req(100.0, 50.0), STATE)
    assert verdict.reason.code is ReasonCode.GOVERNOR_LEVERAGE_CLAMP


@pytest.mark.parametrize("exc", [asyncio.CancelledError(), KeyboardInterrupt()])
def test_guarded_lets_cancellation_and_interrupts_propagate(exc: BaseException) -> None:
    class _Interrupted(RiskGovernor):
        def evaluate(self, request: GovernorRequest, state: GovernorState) -> GovernorVerdict:
            raise exc

    with pytest.raises(type(exc)):
        _Interrupted(PARAMS, fail_open=True).guarded(req(), STATE)


finite = st.floats(min_value=1e-6, max_value=1e7, allow_nan=False, allow_infinity=False)


@st.composite
def params_strategy(draw: st.DrawFn) -> GovernorParams:
    min_order = draw(st.floats(min_value=0.0, max_value=1e4))
    max_position = draw(st.floats(min_value=max(min_order, 1e-3), max_value=1e6))
    min_lev = draw(st.floats(min_value=1.0, max_value=50.0))
    max_lev = draw(st.floats(min_value=min_lev, max_value=125.0))
    max_notional = draw(st.floats(min_value=1e-3, max_value=1e7))
    floor = draw(st.floats(min_value=0.0, max_value=1.0))
    budget = draw(st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=1e5)))
    return GovernorParams(min_order, max_position, min_lev, max_lev, max_notional, floor, budget)


@given(
    params=params_strategy(),
    size=st.floats(min_value=0.0, max_value=1e8),
    leverage=st.floats(min_value=0.01, max_value=500.0),
    confidence=st.floats(min_value=0.0, max_value=1.0),
    stop=st.one_of(st.none(), st.floats(min_value=1e-4, max_value=1.0)),
    intent_budget=st.one_of(st.none(), finite),
)
def test_an_approved_verdict_satisfies_every_bound(
    *,
    params: GovernorParams,
    size: float,
    leverage: float,
    confidence: float,
    stop: float | None,
    intent_budget: float | None,
) -> None:
    request = GovernorRequest(
        "X", "sell", confidence, size, leverage, stop_loss_pct=stop, risk_budget_usd=intent_budget
    )
    verdict = RiskGovernor(params).evaluate(request, STATE)
    if not verdict.approved:
        assert verdict.size_usd == 0.0
        return
    rel = 1.0 + 1e-9
    assert params.min_order_usd <= verdict.size_usd <= params.max_position_usd
    assert verdict.size_usd <= size  # never clamped up
    assert params.min_leverage <= verdict.leverage <= params.max_leverage
    assert verdict.notional_usd <= params.max_notional_usd * rel
    assert confidence >= params.confidence_floor
    budgets = [b for b in (params.risk_budget_usd, intent_budget) if b]
    if budgets:
        loss = verdict.notional_usd * (1.0 if stop is None else stop)
        assert loss <= min(budgets) * rel
