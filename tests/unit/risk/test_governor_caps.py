"""The governor's per-symbol leverage caps and dynamic notional limit (issue 22 item 6):
the verdict, its clamp code with the numbers, and the config errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.portfolio_risk import DynamicNotional
from quantbot.config.risk import GovernorParams
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError
from quantbot.domain.reasons import ReasonCode
from quantbot.risk.governor import GovernorRequest, GovernorState, RiskGovernor
from quantbot.risk.governor_caps import GovernorCaps

# min_order, max_position, min_lev, max_lev, max_notional, confidence_floor, risk_budget
PARAMS = GovernorParams(10.0, 50_000.0, 1.0, 20.0, 100_000.0, 0.0, 0.0)
STATE = GovernorState(equity=100_000.0)


def req(symbol: str, size: float, leverage: float, annual_vol: float | None = None):
    return GovernorRequest(symbol=symbol, side="buy", confidence=0.6, size_usd=size,
                           leverage=leverage, annual_vol=annual_vol)  # fmt: skip


def governor(**caps: object) -> RiskGovernor:
    return RiskGovernor(PARAMS, caps=GovernorCaps(**caps))


def test_a_symbol_with_its_own_leverage_cap_is_clamped_to_it_and_others_are_not() -> None:
    gov = governor(leverage_by_symbol={"SIMA": 3.0})
    verdict = gov.evaluate(req("SIMA", 1_000.0, 10.0), STATE)
    assert verdict.approved and verdict.leverage == 3.0 and verdict.notional_usd == 3_000.0
    record = verdict.to_record()
    assert record["verdict"] == "clamp"
    assert record["reason"] == {
        "code": "GOVERNOR_SYMBOL_LEVERAGE_CLAMP", "symbol": "SIMA", "before": 10.0,
        "after": 3.0, "max_leverage": 3.0,
    }  # fmt: skip
    assert record["bounds"]["max_leverage_symbol"] == 3.0

    other = gov.evaluate(req("SIMB", 1_000.0, 10.0), STATE)
    assert other.leverage == 10.0 and other.reason.code is ReasonCode.GOVERNOR_APPROVED
    # Under its cap: nothing to clamp.
    under = gov.evaluate(req("SIMA", 1_000.0, 2.0), STATE)
    assert under.leverage == 2.0 and under.clamps == []


def test_the_profile_leverage_clamp_comes_first_then_the_symbol_cap() -> None:
    verdict = governor(leverage_by_symbol={"SIMA": 5.0}).evaluate(req("SIMA", 100.0, 50.0), STATE)
    assert [c.code for c in verdict.clamps] == [
        ReasonCode.GOVERNOR_LEVERAGE_CLAMP, ReasonCode.GOVERNOR_SYMBOL_LEVERAGE_CLAMP,
    ]  # fmt: skip
    assert verdict.leverage == 5.0


def dynamic(**kw: float) -> GovernorCaps:
    base = {"enabled": True, "equity_mult": 0.5, "min_usd": 1_000.0, "max_usd": 40_000.0}
    return GovernorCaps(dynamic=DynamicNotional(**{**base, **kw}), target_vol=0.2)


def test_the_dynamic_notional_limit_scales_with_equity_and_volatility() -> None:
    gov = RiskGovernor(PARAMS, caps=dynamic())
    # 100,000 x 0.5 x 0.2 / 0.4 = 25,000: a 30,000 order is cut to it.
    verdict = gov.evaluate(req("SIMA", 30_000.0, 1.0, annual_vol=0.4), STATE)
    assert verdict.approved and verdict.notional_usd == pytest.approx(25_000.0)
    assert verdict.reason.code is ReasonCode.GOVERNOR_DYNAMIC_NOTIONAL_CLAMP
    assert verdict.reason.context["max_notional_usd"] == pytest.approx(25_000.0)
    dyn = verdict.to_record()["dynamic_notional"]
    assert dyn["cap"] == pytest.approx(25_000.0) and dyn["realised_vol"] == 0.4

    # Twice the volatility, half the limit; half the equity, half again.
    calmer = gov.evaluate(req("SIMA", 30_000.0, 1.0, annual_vol=0.8), STATE)
    assert calmer.notional_usd == pytest.approx(12_500.0)
    poorer = gov.evaluate(req("SIMA", 30_000.0, 1.0, annual_vol=0.8), GovernorState(50_000.0))
    assert poorer.notional_usd == pytest.approx(6_250.0)


def test_the_dynamic_limit_is_bounded_and_careful_until_volatility_is_known() -> None:
    gov = RiskGovernor(PARAMS, caps=dynamic())
    # 100,000 x 0.5 x 0.2 / 0.01 = 1,000,000: bounded to max_usd 40,000.
    wild = gov.evaluate(req("SIMA", 45_000.0, 1.0, annual_vol=0.01), STATE)
    assert wild.notional_usd == pytest.approx(40_000.0)
    # 100,000 x 0.5 x 0.2 / 50 = 200: raised to min_usd 1,000.
    tiny = gov.evaluate(req("SIMA", 5_000.0, 1.0, annual_vol=50.0), STATE)
    assert tiny.notional_usd == pytest.approx(1_000.0)
    unknown = gov.evaluate(req("SIMA", 5_000.0, 1.0, annual_vol=None), STATE)
    assert unknown.notional_usd == pytest.approx(1_000.0)
    assert unknown.to_record()["dynamic_notional"]["raw"] is None


def test_the_dynamic_limit_lowers_leverage_first_and_rejects_below_the_minimum() -> None:
    gov = RiskGovernor(PARAMS, caps=dynamic(min_usd=5.0, max_usd=40_000.0))
    verdict = gov.evaluate(req("SIMA", 10_000.0, 4.0, annual_vol=0.4), STATE)  # cap 25,000
    [lev] = [c for c in verdict.clamps if c.context.get("what") == "leverage"]
    assert lev.code is ReasonCode.GOVERNOR_DYNAMIC_NOTIONAL_CLAMP and lev.context["after"] == 2.5
    assert verdict.size_usd == 10_000.0 and verdict.notional_usd == pytest.approx(25_000.0)

    # equity 10 x 0.5 x 0.2 / 0.4 = 2.5 -> min_usd 5: below the governor's 10 minimum.
    rejected = gov.evaluate(req("SIMA", 100.0, 1.0, annual_vol=0.4), GovernorState(10.0))
    assert not rejected.approved
    assert rejected.reason.code is ReasonCode.GOVERNOR_NOTIONAL_REJECT
    assert rejected.reason.context["max_notional_usd"] == 5.0


def test_off_by_default_and_never_looser_than_max_notional() -> None:
    assert RiskGovernor(PARAMS).evaluate(req("SIMA", 30_000.0, 1.0, 0.4), STATE).clamps == []
    tight = GovernorParams(10.0, 50_000.0, 1.0, 20.0, 20_000.0, 0.0, 0.0)
    verdict = RiskGovernor(tight, caps=dynamic()).evaluate(req("SIMA", 30_000.0, 1.0, 0.4), STATE)
    assert [c.code for c in verdict.clamps] == [ReasonCode.GOVERNOR_NOTIONAL_CLAMP]
    assert verdict.notional_usd == pytest.approx(20_000.0)


def test_the_wiring_builds_both_from_the_config(tmp_path: Path) -> None:
    from quantbot.decision.risk_stages import RiskChain

    path = tmp_path / "config.toml"
    path.write_text(
        "[governor_caps]\nmax_leverage_by_symbol = { SIMA = 2.5 }\n"
        "[governor_caps.dynamic_notional]\nenabled = true\nmax_usd = 20000.0\n",
        encoding="utf-8",
    )
    chain = RiskChain.from_config(load_config(path, environ={}).config, None)
    caps = chain.governor.caps
    assert caps.leverage_cap("SIMA") == 2.5 and caps.leverage_cap("SIMB") is None
    # target 0 in the section: the profile's [limits.conservative] target_annual_vol (0.15).
    assert caps.target_vol == 0.15
    assert caps.notional_cap(100_000.0, 0.3)["cap"] == pytest.approx(20_000.0)


@pytest.mark.parametrize(
    ("text", "named", "problem"),
    [
        ("[governor_caps]\nmax_leverage_by_symbol = { NOPE = 2.0 }\n",
         "governor_caps.max_leverage_by_symbol.NOPE", "not in market.symbols"),
        ("[governor_caps]\nmax_leverage_by_symbol = { SIMA = 0.5 }\n",
         "governor_caps.max_leverage_by_symbol.SIMA", "must be >= 1"),
        ("[governor_caps]\nmax_leverage_by_symbol = { SIMA = \"x\" }\n",
         "governor_caps.max_leverage_by_symbol.SIMA", "must be a number"),
        ("[governor_caps]\nmax_leverage_by_symbol = 3\n",
         "governor_caps.max_leverage_by_symbol", "must be a table"),
        ("[governor_caps.dynamic_notional]\nmin_usd = 5000.0\nmax_usd = 100.0\n",
         "governor_caps.dynamic_notional.min_usd", "must not be above"),
        ("[governor_caps.dynamic_notional]\nequity_mult = 0\n",
         "governor_caps.dynamic_notional.equity_mult", "must be > 0"),
        ("[portfolio_risk]\nconcentration = \"net\"\n",
         "portfolio_risk.concentration", "must be one of equity, gross, both"),
    ],
)  # fmt: skip
def test_bad_shapes_are_config_errors_naming_the_key(
    tmp_path: Path, text: str, named: str, problem: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert f"{path}:" in message and named in message and problem in message
