"""The order path's values with one field changed, built directly (issue 23).

``attrs.evolve`` reads every field by name and calls the class with keywords: a few
microseconds on each bar that decides an order. These build the same value with one
positional call. Each copies every field of its class; tests/unit/decision/test_evolved.py
pins the field lists, so a field added to one of these classes fails there until it is
copied here too.
"""

from __future__ import annotations

from quantbot.decision.risk_stages import Entry, Sized
from quantbot.oms.exit_plan import ExitParams
from quantbot.portfolio.netting import NetTarget


def flat(net: NetTarget) -> NetTarget:
    """``net`` ordered toward flat: target 0, the rest as it was."""
    return NetTarget(0.0, net.confidence, net.contributions)


def with_stop(sized: Sized, stop_loss_pct: float | None) -> Sized:
    """``sized`` counting the stop that will be placed."""
    s = sized
    return Sized(
        s.target_notional, s.leverage, stop_loss_pct, s.risk_budget_usd, s.proposal,
        s.verdict, s.clamps, s.charter,
    )  # fmt: skip


def with_exits(entry: Entry, exits: ExitParams) -> Entry:
    """``entry`` carrying the exits its fill will place."""
    e = entry
    return Entry(
        e.sleeve, e.notional_usd, e.risk_usd, e.regime, e.scale_in, e.confidence, e.new_entry,
        exits,
    )  # fmt: skip


def with_notional(entry: Entry, notional_usd: float, risk_usd: float) -> Entry:
    """``entry`` reserving only what its order can add."""
    e = entry
    return Entry(
        e.sleeve, notional_usd, risk_usd, e.regime, e.scale_in, e.confidence, e.new_entry,
        e.exits,
    )  # fmt: skip
