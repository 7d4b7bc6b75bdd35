"""The decision side of exits: the stop lock, one bracket per position, the entry's order type
and the exits an entry carries."""

from __future__ import annotations

from decimal import Decimal

import attrs

from quantbot.config.orders import OrderParams, OrdersConfig
from quantbot.config.risk import HarvestPresets
from quantbot.decision.exit_rules import ExitRules
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Instrument, OrderType, Side

INSTRUMENT = Instrument("SIMA", "0.01", "1")
LOCKS = {"SIMA": {"BUY": 1_000}}  # a long was stopped out; locked until t=1000


def _rules(**orders: object) -> ExitRules:
    config = attrs.evolve(OrdersConfig(), **orders)
    return ExitRules(config, config.conservative, HarvestPresets())


def _blocked(rules: ExitRules, *, position: int, target: int, at: int, protected=None):
    return rules.blocked(
        symbol="SIMA",
        position=Decimal(position),
        target_qty=Decimal(target),
        bar_ts_ns=at,
        locks=LOCKS,
        protected=protected or {},
    )


def test_a_stopped_out_side_is_locked_until_the_lock_ends() -> None:
    rules = _rules()
    why, close_ok = _blocked(rules, position=0, target=5, at=999)
    assert why is not None and why.code is ReasonCode.EXIT_STOP_LOCK and not close_ok
    assert why.context["side"] == "BUY" and why.context["until_ns"] == 1_000
    assert _blocked(rules, position=0, target=5, at=1_000) == (None, False)
    assert _blocked(rules, position=0, target=-5, at=999) == (None, False)  # the other side


def test_a_reversal_into_a_locked_side_still_closes() -> None:
    why, close_ok = _blocked(_rules(), position=-3, target=5, at=10)
    assert why is not None and why.code is ReasonCode.EXIT_STOP_LOCK and close_ok


def test_one_bracket_per_position_a_scale_in_is_refused() -> None:
    why, close_ok = _blocked(_rules(), position=-3, target=-6, at=10, protected={"SIMA": -1})
    assert why is not None and why.code is ReasonCode.EXIT_BRACKET_ACTIVE and not close_ok
    assert _blocked(_rules(), position=-3, target=-6, at=10) == (None, False)  # no plan yet


def test_entry_type_by_regime_and_sleeve_with_the_limit_inside_the_close() -> None:
    calm = OrderParams(entry_type={"low": "LIMIT", "normal": "MARKET", "high": "MARKET"})
    rules = _rules(conservative=calm, sleeve_entry_type={"trend": "LIMIT"})
    kind, price = rules.entry_order(
        sleeve="mean_reversion", regime="low", side=Side.BUY, close=100.0, instrument=INSTRUMENT
    )
    assert (kind, price) == (OrderType.LIMIT, Decimal("99.95"))  # 5 bps under, rounded down
    kind, price = rules.entry_order(
        sleeve="mean_reversion", regime="high", side=Side.SELL, close=100.0, instrument=INSTRUMENT
    )
    assert (kind, price) == (OrderType.MARKET, None)
    kind, price = rules.entry_order(
        sleeve="trend", regime="high", side=Side.SELL, close=100.001, instrument=INSTRUMENT
    )
    assert (kind, price) == (OrderType.LIMIT, Decimal("100.06"))  # a sell's limit rounds up


def test_an_entry_carries_the_sizers_preset_or_the_default_and_none_when_exits_are_off() -> None:
    rules = _rules()
    default = rules.params("SIMA", None, 100.0)
    assert default is not None and default.policy == "SWING" and default.stop_loss_pct == 0.01

    @attrs.frozen
    class Proposal:
        harvest_policy: str
        harvest: object

    proposal = Proposal("SCALPER", HarvestPresets().scalper)
    chosen = rules.params("SIMA", proposal, 100.0)
    assert chosen is not None and (chosen.policy, chosen.stop_loss_pct) == ("SCALPER", 0.003)
    assert _rules(exits=False).params("SIMA", proposal, 100.0) is None
    stop_only = _rules(exit_legs=["stop_loss"]).params("SIMA", proposal, 100.0)
    assert stop_only is not None and stop_only.take_profit_pct is None
