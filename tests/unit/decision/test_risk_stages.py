"""The decision-side risk stages inside the decision step: AI sizer (shadow / live / failing),
portfolio limits, execution policy and risk governor, as a reader of the decision record sees
them, with the order that was (or was not) decided."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from quantbot.clock import NS_PER_S
from quantbot.decision.step import Decision, DecisionStep, Outcome
from quantbot.domain.values import Bar, Instrument
from quantbot.risk.governor import GovernorRequest, GovernorState, GovernorVerdict, RiskGovernor
from quantbot.signals.intents import parse_intent
from tests.unit.decision.test_step import (
    ENV,
    SYMBOL,
    WARMUP,
    Market,
    code,
    decide,
    make,
    view,
    warm_up,
)

D = Decimal
STAGES = ("sizer", "limits", "policy", "governor", "daily_risk")


def trigger(
    env: dict[str, str] | None = None,
    profile: str | None = None,
    outcome: Outcome = Outcome.SENT,
    **view_fields: Any,
) -> tuple[Decision, DecisionStep, Market]:
    """Warm up on a strong uptrend, then decide the first bar that trades (told ``outcome``)."""
    step, market = make({**ENV, **(env or {})}, profile=profile)
    warm_up(step, market)
    return decide(step, market.bar(), view(**view_fields), outcome), step, market


def clamp_codes(decision: Decision) -> list[str]:
    return [c["code"] for c in decision.record["clamps"]]


# -- AI sizer -----------------------------------------------------------------------------------


def test_shadow_sizer_leaves_the_order_size_unchanged_but_records_the_proposal() -> None:
    decision, _, _ = trigger()
    sizer = decision.record["sizer"]
    assert decision.intent is not None
    assert sizer["verdict"] == "shadow" and sizer["used"] == "base"
    # the order is the base sizer's size (target notional / price, whole lots) ...
    close = decision.record["bar"]["c"]
    assert decision.intent.qty == D(int(sizer["target_notional_usd"] / close))
    # ... and the proposal sits beside it, different and complete
    ai = sizer["ai"]
    assert 0 < ai["notional_usd"] < sizer["target_notional_usd"]
    assert ai["harvest_policy"] == "TREND_RUNNER"  # a strong trend: high confidence
    assert set(ai["harvest"]) == {
        "take_profit_pct",
        "stop_loss_pct",
        "trailing_stop_pct",
        "max_hold_bars",
    }
    # shadow: the proposal's own venue-leverage clamp does not shape the order
    assert "SIZER_LEVERAGE_VENUE_CAP" not in clamp_codes(decision)


def test_live_sizer_sizes_the_order_from_its_proposal() -> None:
    decision, _, _ = trigger({"QUANTBOT__SIZER__MODE": "live"})
    sizer = decision.record["sizer"]
    assert decision.intent is not None
    assert sizer["verdict"] == "live" and sizer["used"] == "ai"
    ai = sizer["ai"]
    # spot paper venue: leverage cut to 1x, and the record says so
    assert ai["leverage"] == 1.0
    assert "SIZER_LEVERAGE_VENUE_CAP" in clamp_codes(decision)
    close = decision.record["bar"]["c"]
    assert decision.intent.qty == D(int(ai["notional_usd"] / close))
    shadow, _, _ = trigger()
    assert shadow.intent is not None and decision.intent.qty < shadow.intent.qty


def test_live_sizing_grows_with_confidence_through_the_whole_step() -> None:
    # The same bars with the AI sizer live: a lower confidence floor on the proposal's base
    # percentage range shows up as a smaller order.
    low, _, _ = trigger(
        {
            "QUANTBOT__SIZER__MODE": "live",
            "QUANTBOT__SIZER__CONSERVATIVE__BASE_MAX_PCT": "0.005",
        }
    )
    high, _, _ = trigger({"QUANTBOT__SIZER__MODE": "live"})
    assert low.intent is not None and high.intent is not None
    assert low.record["sizer"]["ai"]["base_pct"] < high.record["sizer"]["ai"]["base_pct"]
    assert low.intent.qty < high.intent.qty


class _BrokenSizer:
    def propose(self, **_: Any) -> Any:
        raise ZeroDivisionError("model weights missing")


@pytest.mark.parametrize("mode", ["shadow", "live"])
def test_a_failing_ai_sizer_falls_back_to_the_base_size_and_says_why(mode: str) -> None:
    step, market = make({**ENV, "QUANTBOT__SIZER__MODE": mode})
    step.risk.ai_sizer = _BrokenSizer()  # type: ignore[assignment]
    warm_up(step, market)
    decision = decide(step, market.bar(), view())
    baseline, _, _ = trigger()
    assert decision.intent is not None and baseline.intent is not None
    assert decision.intent.qty == baseline.intent.qty  # trading goes on at the base size
    sizer = decision.record["sizer"]
    assert sizer["verdict"] == "fallback" and sizer["ai"] is None
    assert sizer["fallback"] == {
        "code": "SIZER_FAILED_FALLBACK",
        "error": "ZeroDivisionError: model weights missing",
    }
    assert "SIZER_FAILED_FALLBACK" in clamp_codes(decision)


# -- execution policy ---------------------------------------------------------------------------


def test_policy_low_confidence_blocks_the_entry_and_the_governor_is_not_asked() -> None:
    decision, _, _ = trigger({"QUANTBOT__POLICY__CONSERVATIVE__CONFIDENCE_FLOOR": "0.99"})
    assert decision.intent is None
    assert code(decision) == "BLOCK_LOW_CONFIDENCE"
    assert decision.record["policy"]["verdict"] == "block"
    assert decision.record["governor"] == {"verdict": "not_reached"}


def test_policy_caps_the_entry_at_its_symbol_room_and_records_the_clamp() -> None:
    # 1% of equity per symbol: 1,000 USD of room, far below the base size (~4,000 USD).
    decision, _, _ = trigger({"QUANTBOT__POLICY__CONSERVATIVE__MAX_SYMBOL_EXPOSURE_PCT": "0.01"})
    assert decision.intent is not None
    close = decision.record["bar"]["c"]
    assert decision.intent.qty == D(int(1_000 / close))
    assert "POLICY_ALLOCATION_CLAMP" in clamp_codes(decision)
    assert decision.record["policy"]["code"] == "ALLOW_NEW_ENTRY"


def test_an_order_that_only_reduces_is_never_judged_by_entry_rules() -> None:
    # Every entry rule would refuse (floor 0.99), but a long far above target gets cut.
    env = {"QUANTBOT__POLICY__CONSERVATIVE__CONFIDENCE_FLOOR": "0.99"}
    decision, _, _ = trigger(env, positions={SYMBOL: D(500)})
    assert decision.intent is not None and decision.intent.side.value == "SELL"
    assert decision.record["intent"]["reducing"] is True
    skipped = {"verdict": "skipped", "why": "reducing"}
    assert decision.record["policy"] == decision.record["governor"] == skipped
    assert decision.entry is None  # nothing for the daily guard to reserve


def test_a_refused_reversal_still_closes_the_old_position() -> None:
    # Short 30 into a strong uptrend: the new long side is refused, the close is not.
    env = {"QUANTBOT__POLICY__CONSERVATIVE__CONFIDENCE_FLOOR": "0.99"}
    decision, _, _ = trigger(env, positions={SYMBOL: D(-30)})
    assert decision.intent is not None
    assert (decision.intent.side.value, decision.intent.qty) == ("BUY", D(30))
    assert decision.record["position"]["target_qty"] == "0"
    assert {"code": "ENTRY_BLOCKED_CLOSE_ONLY", "blocked_by": "BLOCK_LOW_CONFIDENCE"} in (
        decision.record["clamps"]
    )


def test_an_entry_that_was_not_sent_does_not_start_a_cooldown() -> None:
    env = {
        "QUANTBOT__POLICY__CONSERVATIVE__SYMBOL_COOLDOWN_S": "3600",
        "QUANTBOT__PROFILES__CONSERVATIVE__DEADBAND": "0",
    }
    first, step, market = trigger(env)
    assert first.intent is not None
    # sent (nothing filled yet): the next entry in the hour is refused
    again = decide(step, market.bar(), view())
    assert code(again) == "BLOCK_COOLDOWN"
    # not sent (a gate blocked it): nothing was committed, the next bar may enter
    first, step, market = trigger(env, outcome=Outcome.REFUSED)
    retry = decide(step, market.bar(), view())
    assert retry.intent is not None and retry.record["policy"]["code"] == "ALLOW_NEW_ENTRY"


# -- risk governor ------------------------------------------------------------------------------


def test_governor_clamps_the_position_to_its_max_and_shows_before_and_after() -> None:
    decision, _, _ = trigger({"QUANTBOT__GOVERNOR__CONSERVATIVE__MAX_POSITION_USD": "1000"})
    assert decision.intent is not None
    gov = decision.record["governor"]
    assert gov["verdict"] == "clamp" and gov["code"] == "GOVERNOR_SIZE_CLAMP"
    assert gov["before"]["size"] > 1000 and gov["after"]["size"] == pytest.approx(1000)
    close = decision.record["bar"]["c"]
    assert decision.intent.qty == D(int(1000 / close))
    assert "GOVERNOR_SIZE_CLAMP" in clamp_codes(decision)


def test_governor_rejects_what_no_clamp_can_make_valid() -> None:
    # max notional 5 USD, below the 10 USD minimum order: nothing in bounds exists.
    decision, _, _ = trigger({"QUANTBOT__GOVERNOR__CONSERVATIVE__MAX_NOTIONAL_USD": "5"})
    assert decision.intent is None
    assert code(decision) == "GOVERNOR_NOTIONAL_REJECT"
    assert decision.record["governor"]["verdict"] == "reject"


def test_an_outside_models_risk_budget_reaches_the_governor() -> None:
    step, market = make(ENV)
    warm_up(step, market)
    assert step.risk.external is not None
    step.risk.external.offer(
        parse_intent(
            {
                "schema_version": "1.1",
                "symbol": SYMBOL,
                "side": "buy",
                "confidence": 0.9,
                "risk_budget_usd": 5.0,
            }
        )
    )
    decision = decide(step, market.bar(), view())
    assert decision.record["sleeves"]["external"]["ready"] is True
    assert decision.intent is not None
    gov = decision.record["governor"]
    assert gov["code"] == "GOVERNOR_RISK_BUDGET_CLAMP"
    # loss at the stop (notional x stop fraction) fits the intent's 5 USD budget
    stop = decision.record["sizer"]["ai"]["harvest"]["stop_loss_pct"]
    assert gov["after"]["notional"] * stop == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("profile", "max_leverage"), [("conservative", 20.0), ("aggressive", 80.0)]
)
def test_the_profile_sets_the_bounds_each_record_shows(profile: str, max_leverage: float) -> None:
    env = {
        "QUANTBOT__SIGNALS__TREND__FAST": "3",
        "QUANTBOT__SIGNALS__TREND__SLOW": "8",
        f"QUANTBOT__REGIME_COMPONENTS__{profile.upper()}__MEAN_REVERSION": "0",
    }
    decision, _, _ = trigger(env, profile=profile)
    assert decision.intent is not None
    assert decision.record["governor"]["bounds"]["max_leverage"] == max_leverage


def test_every_record_names_every_stage_with_a_verdict() -> None:
    decision, step, market = trigger()
    records = [decision.record]
    records += [decide(step, market.bar(), view()).record for _ in range(5)]
    for record in records:
        for stage in STAGES:
            assert "verdict" in record[stage], (stage, record[stage])


class _BrokenGovernor(RiskGovernor):
    def evaluate(self, request: GovernorRequest, state: GovernorState) -> GovernorVerdict:
        raise KeyError("max_notional_usd")


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_failing_governor_rejects_unless_configured_to_fail_open(fail_open: bool) -> None:
    step, market = make(ENV)
    params = step.risk.governor.params
    step.risk.governor = _BrokenGovernor(params, fail_open=fail_open)
    warm_up(step, market)
    decision = decide(step, market.bar(), view())
    gov = decision.record["governor"]
    if fail_open:
        assert decision.intent is not None
        assert gov["code"] == "GOVERNOR_ERROR_FAIL_OPEN"
    else:
        assert decision.intent is None
        assert code(decision) == "GOVERNOR_ERROR"
        assert decision.record["reason"]["error"] == "KeyError: 'max_notional_usd'"


def test_a_short_target_where_the_venue_allows_no_shorts_goes_flat_instead() -> None:
    # Spot crypto: a sell signal can close what is held, never open a short the venue refuses.
    spot = Instrument(SYMBOL, "0.01", "1", min_notional="1", shortable=False)
    step, market = make(ENV, instrument=spot)
    close = 100.0
    decision = None
    for i in range(WARMUP + 1):  # a strong downtrend
        ts = market.next_ts()
        market.i += 1
        market.clock.set(ts + 60 * NS_PER_S)
        nxt = round(close * 0.99, 4)
        bar = Bar(SYMBOL, ts, close, close, nxt, nxt, 1_000_000.0, 60)
        close = nxt
        decision = decide(step, bar, view(positions={SYMBOL: D(20)}))
        if i < WARMUP:
            assert decision.intent is None or decision.intent.side.value == "SELL"
    assert decision is not None and decision.intent is not None
    assert (decision.intent.side.value, decision.intent.qty) == ("SELL", D(20))  # to flat
    assert decision.record["position"]["target_qty"] == "0"
    [clamp] = [c for c in decision.record["clamps"] if c["code"] == "SHORT_NOT_ALLOWED_CLAMP"]
    assert D(clamp["wanted"]) < 0


def test_a_refused_reversal_is_asked_again_once_flat_not_frozen_by_the_deadband() -> None:
    # The README's SIMB case: long, then an outside model says sell with too little
    # confidence for a new short; only the close goes. Flat, with the same intent live, the
    # step must keep asking (its real reason on record) and go short once the model is sure
    # enough, instead of calling the wanted short "inside the deadband" of a target that was
    # never ordered (the position then stayed flat for as long as the intent lived).
    env = {
        **ENV,
        "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__TREND": "0",  # the inbox alone decides
        "QUANTBOT__POLICY__CONSERVATIVE__CONFIDENCE_FLOOR": "0.7",
    }
    step, market = make(env)
    warm_up(step, market)
    position = D(0)

    def bar_with(side: str | None, confidence: float = 0.0) -> Decision:
        nonlocal position
        if side is not None:
            assert step.risk.external is not None
            intent = {"schema_version": "1.0", "symbol": SYMBOL, "side": side,
                      "confidence": confidence}  # fmt: skip
            step.risk.external.offer(parse_intent(intent))
        decision = decide(
            step, market.bar(), view(positions={SYMBOL: position} if position else {})
        )
        if decision.intent is not None:  # filled in full at once, as the venue would
            sign = 1 if decision.intent.side.value == "BUY" else -1
            position += sign * decision.intent.qty
        return decision

    assert bar_with("buy", 0.9).intent is not None and position > 0
    closing = bar_with("sell", 0.6)
    assert {"code": "ENTRY_BLOCKED_CLOSE_ONLY", "blocked_by": "BLOCK_LOW_CONFIDENCE"} in (
        closing.record["clamps"]
    )
    assert position == 0
    while_flat = [code(bar_with(None)) for _ in range(3)]
    assert while_flat == ["BLOCK_LOW_CONFIDENCE"] * 3  # asked again, refused for its reason
    assert bar_with("sell", 0.9).intent is not None and position < 0  # sure enough: short
