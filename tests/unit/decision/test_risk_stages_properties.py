"""Properties of the whole decision-side risk chain (hypothesis): for arbitrary confidences,
prices, equities and configs, no order that adds exposure breaks a bound (size, leverage,
notional, exposure, daily loss), and every decision record carries every stage's verdict."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.decision.step import DecisionStep, Outcome, PortfolioView
from quantbot.domain.values import Bar, Instrument
from quantbot.risk.daily import DailyRiskGuard

SYMBOL = "SIMA"
T0 = 1_763_726_400 * NS_PER_S
BAR_S = 60
STAGES = ("sizer", "limits", "policy", "governor", "daily_risk")
TOL = 1e-9


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    profile = draw(st.sampled_from(["conservative", "balanced", "aggressive"]))
    p = profile.upper()
    max_position = draw(st.floats(10.0, 100_000.0))
    env = {
        "QUANTBOT__SIGNALS__TREND__FAST": "2",
        "QUANTBOT__SIGNALS__TREND__SLOW": "4",
        "QUANTBOT__SIGNALS__MEAN_REVERSION__WINDOW": "3",
        "QUANTBOT__SIZER__MODE": draw(st.sampled_from(["shadow", "live"])),
        f"QUANTBOT__PROFILES__{p}__DEADBAND": "0",
        f"QUANTBOT__POLICY__{p}__SYMBOL_COOLDOWN_S": "0",
        f"QUANTBOT__POLICY__{p}__CONFIDENCE_FLOOR": repr(draw(st.floats(0.0, 1.0))),
        f"QUANTBOT__POLICY__{p}__MAX_SYMBOL_EXPOSURE_PCT": repr(draw(st.floats(0.001, 1.0))),
        f"QUANTBOT__POLICY__{p}__MAX_TOTAL_EXPOSURE_PCT": repr(draw(st.floats(0.001, 2.0))),
        f"QUANTBOT__GOVERNOR__{p}__MAX_POSITION_USD": repr(max_position),
        f"QUANTBOT__GOVERNOR__{p}__MAX_NOTIONAL_USD": repr(draw(st.floats(1.0, 100_000.0))),
        f"QUANTBOT__GOVERNOR__{p}__CONFIDENCE_FLOOR": repr(draw(st.floats(0.0, 1.0))),
        f"QUANTBOT__DAILY_RISK__{p}__TOTAL__MAX_DAILY_LOSS_USD": repr(
            draw(st.floats(1.0, 5_000.0))
        ),
        f"QUANTBOT__DAILY_RISK__{p}__TOTAL__MAX_DAILY_EXPOSURE_USD": repr(
            draw(st.floats(10.0, 100_000.0))
        ),
    }
    return {
        "profile": profile,
        "env": env,
        "equity": draw(st.floats(0.0, 5_000_000.0)),
        "price": draw(st.floats(0.5, 5_000.0)),
        "moves": draw(st.lists(st.floats(-0.08, 0.08), min_size=6, max_size=14)),
        "position": draw(st.integers(-20, 20)),
        "losses": draw(st.lists(st.floats(-2_000.0, 200.0), min_size=14, max_size=14)),
    }


def _bar(i: int, prev: float, close: float) -> Bar:
    ts = T0 + i * BAR_S * NS_PER_S
    return Bar(SYMBOL, ts, prev, max(prev, close), min(prev, close), close, 1e9, BAR_S)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_no_order_that_adds_exposure_breaks_a_bound(case: dict[str, Any]) -> None:
    config = load_config(None, environ=case["env"], trading_profile=case["profile"]).config
    params = config.risk_params
    clock = SimClock(T0)
    instruments = {SYMBOL: Instrument(SYMBOL, "0.01", "1", min_notional="1")}
    step = DecisionStep.from_config(config, clock, instruments, {}, check_staleness=False)
    guard = DailyRiskGuard(params.daily, roll_minute=0, clock=clock)
    equity = case["equity"]
    position = Decimal(case["position"])
    price = case["price"]
    for i, move in enumerate(case["moves"]):
        close = round(max(0.05, price * (1 + move)), 4)
        bar = _bar(i, price, close)
        price = close
        clock.set(bar.ts_ns + BAR_S * NS_PER_S)
        view = PortfolioView(equity, {SYMBOL: position} if position else {}, {})
        decision = step.step(bar, view)  # settled below, once its outcome is known
        record = decision.record
        for stage in STAGES:  # every stage leaves a verdict, whatever happened
            assert "verdict" in record[stage], (stage, record)
        intent = decision.intent
        if intent is None:
            continue
        assert intent.qty > 0
        target = Decimal(record["position"]["target_qty"])
        event(f"order: {'entry' if decision.entry else 'reducing'}")
        if decision.entry is not None:
            _entry_within_bounds(
                record,
                target=target,
                position=position,
                close=close,
                equity=equity,
                pol=params.policy,
            )
            # The daily guard: reserve it as the pipeline would, never past a limit.
            loss_before = guard.snapshot()["scopes"]["GLOBAL"]["loss"]
            denial = guard.reserve(
                client_order_id=intent.client_order_id,
                symbol=SYMBOL,
                sleeve=decision.entry.sleeve,
                notional_usd=decision.entry.notional_usd,
                risk_usd=decision.entry.risk_usd,
            )
            if loss_before >= params.daily.total.max_daily_loss_usd:
                assert denial is not None and denial.code.value == "DAILY_LOSS_LIMIT"
            event(f"daily guard: {denial.code.value if denial else 'reserved'}")
            if denial is not None:
                step.settle(decision, Outcome.REFUSED)
                continue
            scope = guard.snapshot()["scopes"]["GLOBAL"]
            assert scope["exposure"] <= params.daily.total.max_daily_exposure_usd * (1 + TOL)
            assert scope["open_risk"] <= params.daily.total.max_open_risk_usd * (1 + TOL)
        # Fill in full at the close; book a drawn realised PnL so the loss limit comes into play.
        step.settle(decision, Outcome.SENT)
        signed = intent.qty if intent.side.value == "BUY" else -intent.qty
        before, position = position, position + signed
        guard.on_fill(
            client_order_id=intent.client_order_id,
            symbol=SYMBOL,
            notional_usd=float(intent.qty) * close,
            realized_pnl_usd=case["losses"][i],
            position_before=float(before),
            position_after=float(position),
        )
        assert math.isfinite(float(position))


def _entry_within_bounds(
    record: dict[str, Any],
    *,
    target: Decimal,
    position: Decimal,
    close: float,
    equity: float,
    pol: Any,
) -> None:
    """The governor's bounds and the policy's symbol room hold for the target position."""
    notional = float(abs(target)) * close
    gov = record["governor"]
    event(f"governor: {gov['verdict']}")
    if gov.get("verdict") in ("approve", "clamp"):
        bounds = gov["bounds"]
        lev = gov["after"]["leverage"]
        assert bounds["min_leverage"] - TOL <= lev <= bounds["max_leverage"] + TOL
        assert notional <= bounds["max_notional_usd"] * (1 + TOL)
        assert notional / lev <= bounds["max_position_usd"] * (1 + TOL)
        assert notional / lev >= bounds["min_order_usd"] * (1 - TOL) or (
            target * position > 0  # the rest after an earlier approved part
        )
    if record["policy"].get("verdict") == "allow":
        room = max(pol.max_symbol_exposure_pct * equity, 0.0) * (1 + TOL)
        assert notional <= room + float(abs(position)) * close
