"""Cost gate: an entry whose expected edge does not pay its modelled cost plus a buffer is
blocked (``COST_GATE_EDGE_BELOW_COST``).

- Expected edge (bps) = the netted confidence (0..1) x the symbol's edge scale
  (``cost_gate.edge_scale_bps``, or its ``edge_scale_bps_by_symbol`` entry).
- Modelled cost (bps of the order's notional) = the embedded paper venue's own cost model
  (``[venue.sim]``, ``venues/sim/matching.py`` ``MatchParams.cost_bps`` plus its fee), the
  one every paper fill and every replay fill pays: ``fee_bps`` + ``slippage_bps`` + half of
  ``proxy_spread_bps``, and with ``slippage_model = "market"`` also ``range_spread_coef`` x
  the bar's high-low range (the half-spread proxy: wide bars, wide spreads) +
  ``impact_coef`` x that range x sqrt(the order's share of the bar's volume) (expected
  slippage of taking liquidity), capped like the venue's at 5000 bps. It is computed on the
  decision bar, the best estimate of the bar the order fills on. A run on a real venue is
  judged by the same model (the daemon has no other); TCA shows what was really paid.
- Blocked when edge <= cost + the profile's ``entry_cost_buffer_bps``.

Only entries are judged (the step never asks for an order that only reduces). Floats only
and no I/O: the gate runs inside the pure decision step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from quantbot.config.costs import CostGateConfig, CostGateParams
from quantbot.config.venues import SimVenueConfig
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar
from quantbot.governance.overrides import BUFFER, Learned

_MAX_COST_BPS = 5_000.0  # the venue's own cap (matching._MAX_COST_BPS)


@attrs.frozen(slots=True)
class CostModel:
    """The paper venue's taker cost, in bps of notional, as floats."""

    fee_bps: float
    slippage_bps: float  # the flat part: slippage_bps + proxy_spread_bps / 2
    range_spread_coef: float
    impact_coef: float

    @classmethod
    def from_sim(cls, sim: SimVenueConfig) -> CostModel:
        market = sim.slippage_model == "market"
        return cls(
            fee_bps=sim.fee_bps,
            slippage_bps=sim.slippage_bps + sim.proxy_spread_bps / 2,
            range_spread_coef=sim.range_spread_coef if market else 0.0,
            impact_coef=sim.impact_coef if market else 0.0,
        )

    def terms(self, bar: Bar, qty: float) -> dict[str, float]:
        """Each part of the cost of ``qty`` units taken on ``bar`` (bps), and their sum."""
        spread = impact = 0.0
        if (self.range_spread_coef or self.impact_coef) and bar.close > 0:
            range_bps = (bar.high - bar.low) / bar.close * 10_000.0
            share = min(qty / bar.volume, 1.0) if bar.volume > 0 else 1.0
            spread = self.range_spread_coef * range_bps
            impact = self.impact_coef * range_bps * math.sqrt(share)
        slip = min(self.slippage_bps + spread + impact, _MAX_COST_BPS)
        return {
            "fee_bps": self.fee_bps,
            "slippage_bps": self.slippage_bps,
            "spread_bps": spread,
            "impact_bps": impact,
            "total_bps": self.fee_bps + slip,
        }


class CostGate:
    """Judges an entry's edge against its cost; ``judge`` is its verdict for the record."""

    def __init__(self, config: CostGateConfig, params: CostGateParams, model: CostModel) -> None:
        self.enabled = config.enabled
        self._config = config
        self._buffer = params.entry_cost_buffer_bps
        self.model = model
        self.learned = Learned()  # post-trade learning's per-symbol buffers (the wiring's)
        # The liquidity regime's cost multiplier per symbol (``thin_cost_mult`` in THIN, else
        # 1; risk/liquidity), bound by the wiring; None: costs as modelled.
        self.cost_mult: Callable[[str], float] | None = None

    def judge(
        self, *, symbol: str, confidence: float, bar: Bar, qty: float
    ) -> tuple[Reason | None, dict[str, Any]]:
        """(the block, or None when the entry pays its way) and the ``cost_gate`` record."""
        if not self.enabled:
            return None, {"verdict": "skipped", "why": "disabled"}
        scale = self._config.edge_scale(symbol)
        edge = confidence * scale
        terms = self.model.terms(bar, qty)
        cost = terms.pop("total_bps")
        mult = self.cost_mult(symbol) if self.cost_mult is not None else 1.0
        if mult != 1.0:  # a THIN market: cost assumptions widen
            cost *= mult
        buffer = self._buffer
        added = self.learned.buffer_bps.get(symbol)
        if added is not None:  # a learned override raises this symbol's buffer
            buffer = round(buffer + added, 6)
        passed = edge > cost + buffer
        # round(x, 4) inline, not _r: this runs on every entry.
        context = {
            "edge_bps": round(edge, 4),
            "cost_bps": round(cost, 4),
            "buffer_bps": buffer,
            "confidence": round(confidence, 4),
            "edge_scale_bps": scale,
        }
        if mult != 1.0:
            context["thin_cost_mult"] = mult
        parts = {k: round(v, 4) for k, v in terms.items()}
        verdict = {"verdict": "pass" if passed else "block", **context, "cost": parts}
        if added is not None:
            verdict["learned_override"] = context["learned_override"] = self.learned.note(
                BUFFER, added
            )
        if passed:
            return None, verdict
        return reason(ReasonCode.COST_GATE_EDGE_BELOW_COST, **context), verdict
