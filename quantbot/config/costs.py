"""Config sections for the cost gate and the turnover caps (decision-side governance).

``[cost_gate]``: an entry goes only when its expected edge (the netted confidence x the
symbol's edge scale, in bps) exceeds the modelled cost of the order (the paper venue's cost
model, ``[venue.sim]``) plus the profile's ``entry_cost_buffer_bps``. ``[turnover]``: the
notional entries trade per symbol and in total per trading day, as multiples of equity.
Part of the one tree in ``quantbot.config.schema``; the profile's values are in
``Config.risk_params`` (``cost_gate``, ``turnover``) like every other decision-side stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

Problem = tuple[tuple[str, ...], Any, str]


@attrs.frozen
class CostGateParams:
    # The expected edge must exceed the modelled cost by more than this (bps of the order's
    # notional): what an entry must clear besides paying its own way in.
    entry_cost_buffer_bps: float = setting(5.0, ge=0, le=10_000)


@attrs.frozen
class CostGateConfig:
    enabled: bool = setting(True)
    # Expected edge = netted confidence (0..1) x this: what a full-confidence signal is
    # taken to be worth on entry, in bps of the order's notional.
    edge_scale_bps: float = setting(100.0, gt=0, le=10_000)
    # Per-symbol edge scales over edge_scale_bps ([cost_gate.edge_scale_bps_by_symbol]).
    edge_scale_bps_by_symbol: dict[str, float] = setting({})
    conservative: CostGateParams = setting(CostGateParams(5.0))
    balanced: CostGateParams = setting(CostGateParams(3.0))
    aggressive: CostGateParams = setting(CostGateParams(1.0))

    def edge_scale(self, symbol: str) -> float:
        return self.edge_scale_bps_by_symbol.get(symbol, self.edge_scale_bps)


@attrs.frozen
class TurnoverParams:
    """Caps on the notional entries trade in one trading day (the daily risk guard's day),
    as multiples of the account's equity at the decision."""

    max_symbol_equity_x: float = setting(1.0, gt=0)  # per symbol
    max_daily_equity_x: float = setting(3.0, gt=0)  # all symbols together


@attrs.frozen
class TurnoverConfig:
    enabled: bool = setting(True)
    conservative: TurnoverParams = setting(TurnoverParams(1.0, 3.0))
    balanced: TurnoverParams = setting(TurnoverParams(2.0, 6.0))
    aggressive: TurnoverParams = setting(TurnoverParams(4.0, 12.0))


def costs_problems(config: Any, profiles: tuple[str, ...]) -> Iterator[Problem]:
    """Cross-key rules of these sections (second pass of ``quantbot.config.schema``)."""
    for symbol, scale in config.cost_gate.edge_scale_bps_by_symbol.items():
        where = ("cost_gate", "edge_scale_bps_by_symbol", symbol)
        if not 0 < scale <= 10_000:  # a number already (the loader checked it is finite)
            yield where, scale, "must be > 0 and <= 10000 (bps)"
    for name in profiles:
        caps = getattr(config.turnover, name)
        if caps.max_symbol_equity_x > caps.max_daily_equity_x:
            yield (
                ("turnover", name, "max_symbol_equity_x"),
                caps.max_symbol_equity_x,
                f"must not be above turnover.{name}.max_daily_equity_x ({caps.max_daily_equity_x})",
            )
