"""The cost gate and the turnover caps as decision stages, after the risk governor.

An entry the governor approved is judged by the cost gate (``risk/cost_gate``: does its
expected edge pay the modelled cost plus the buffer?), then by the turnover caps
(``risk/turnover``: is there room left today, per symbol and in total?), in that order: the
cost is judged at the size the governor approved, and a smaller order never costs more bps,
so an entry the caps scale down still pays its way. Each leaves its verdict under its own
record key (``cost_gate``, ``turnover``); ``not_reached`` when an earlier one refused, and
``skipped`` (by the step) for orders that only reduce a position or catch up on an entry
already approved.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from quantbot.config.schema import Config
from quantbot.domain.reasons import Reason
from quantbot.domain.values import Bar, Instrument
from quantbot.risk.cost_gate import CostGate, CostModel
from quantbot.risk.turnover import TurnoverGate

KEYS = ("cost_gate", "turnover")
SKIPPED_REDUCING = {"verdict": "skipped", "why": "reducing"}


@attrs.frozen(slots=True)
class Gated:
    """The gates' answer: the target quantity (unsigned) and notional to order toward, or
    the refusal; their clamps and their parts of the record."""

    qty: Decimal
    final_usd: float
    refusal: Reason | None
    clamps: tuple[dict[str, Any], ...]
    records: dict[str, Any]


class EntryGates:
    def __init__(self, cost: CostGate, turnover: TurnoverGate) -> None:
        self.cost = cost
        self.turnover = turnover

    @classmethod
    def from_config(cls, config: Config) -> EntryGates:
        params = config.risk_params
        return cls(
            CostGate(config.cost_gate, params.cost_gate, CostModel.from_sim(config.venue.sim)),
            TurnoverGate(params.turnover, enabled=config.turnover.enabled),
        )

    def judge(
        self,
        *,
        bar: Bar,
        confidence: float,
        order_qty: Decimal,
        held_usd: float,
        final_qty: Decimal,
        final_usd: float,
        equity: float,
        instrument: Instrument,
        min_usd: float,
    ) -> Gated:
        """Judge an entry to ``final_qty`` (unsigned; ``final_usd`` of notional, of which
        ``held_usd`` is already held on its side) by an order of ``order_qty``."""
        symbol = bar.symbol
        block, cost = self.cost.judge(
            symbol=symbol, confidence=confidence, bar=bar, qty=float(order_qty)
        )
        records: dict[str, Any] = {"cost_gate": cost}
        if block is not None:
            return Gated(final_qty, final_usd, block, (), records)
        wanted = max(0.0, final_usd - held_usd)
        verdict = self.turnover.judge(
            symbol=symbol, wanted_usd=wanted, equity=equity, min_usd=min_usd
        )
        records["turnover"] = verdict.record
        if verdict.why is None:
            return Gated(final_qty, final_usd, None, (), records)
        if verdict.blocked:
            return Gated(final_qty, final_usd, verdict.why, (), records)
        price = bar.close
        final_usd = held_usd + verdict.allowed_usd
        final_qty = instrument.round_qty(final_usd / price)
        added = float(final_qty) * price - held_usd
        if added < min_usd or added <= 0.0:
            why = self.turnover.below_minimum(verdict, added, min_usd)
            return Gated(final_qty, final_usd, why, (), records)
        return Gated(final_qty, final_usd, None, (verdict.why.to_record(),), records)
