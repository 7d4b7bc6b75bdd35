"""The order path's one-field copies (decision/evolved) copy every field: the same value
``attrs.evolve`` gives, and a field added to one of their classes fails here until it is
copied there too."""

from __future__ import annotations

import attrs

from quantbot.decision.evolved import flat, with_exits, with_notional, with_stop
from quantbot.decision.risk_stages import Entry, Sized
from quantbot.oms.exit_plan import ExitParams
from quantbot.portfolio.netting import NetTarget


def names(cls: type) -> list[str]:
    return [f.name for f in attrs.fields(cls)]


def test_every_field_is_copied() -> None:
    assert names(NetTarget) == ["target", "confidence", "contributions"]
    assert names(Sized) == [
        "target_notional", "leverage", "stop_loss_pct", "risk_budget_usd", "proposal",
        "verdict", "clamps", "charter",
    ]  # fmt: skip
    assert names(Entry) == [
        "sleeve", "notional_usd", "risk_usd", "regime", "scale_in", "confidence", "new_entry",
        "exits",
    ]  # fmt: skip


def test_each_is_what_attrs_evolve_gives() -> None:
    net = NetTarget(0.4, 0.8, {"trend": 0.4})
    assert flat(net) == attrs.evolve(net, target=0.0)
    sized = Sized(1000.0, 1.0, 0.02, 50.0, None, {"mode": "off"}, ({"code": "X"},), {"c": 1})
    assert with_stop(sized, 0.03) == attrs.evolve(sized, stop_loss_pct=0.03)
    entry = Entry("trend", 1000.0, 20.0, "NORMAL", False, 0.8, True, None)
    exits = ExitParams("bracket", 0.02, 0.04, None, 120, "trend")
    assert with_notional(entry, 500.0, 10.0) == attrs.evolve(
        entry, notional_usd=500.0, risk_usd=10.0
    )
    assert with_exits(entry, exits) == attrs.evolve(entry, exits=exits)
