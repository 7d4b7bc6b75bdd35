"""What a position's exit legs are, as orders: each leg of an ``ExitPlan`` built and checked by
the order builders (``oms.orders``) against the instrument and the market now, with client
ids derived from the plan (a restart derives the same ones), and the record line that shows
a plan's legs and what became of each. No I/O: ``oms.exits`` sends what this builds."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from quantbot.config.orders import OrdersConfig
from quantbot.domain.ids import client_order_id
from quantbot.domain.values import ExitRole, Instrument, OrderIntent, OrderType, Side
from quantbot.oms import orders as builders
from quantbot.oms.exit_plan import ExitPlan
from quantbot.oms.manager import SubmitReport

_BPS = Decimal(10_000)


class LegBuilder:
    def __init__(
        self,
        *,
        instruments: Mapping[str, Instrument],
        orders: OrdersConfig,
        namespace: str,
        reduce_only: bool,
        oco: bool,
        stop_type: OrderType = OrderType.STOP,
    ) -> None:
        self._instruments = instruments
        self._orders = orders
        self._stop_type = stop_type  # the stop-loss leg's type (``capability.stop_order_type``)
        self._namespace = namespace
        self._reduce_only = reduce_only  # the venue honours the flag: every leg carries it
        self._oco = oco  # a stop and a take-profit go as one OCO order list

    def leg_id(self, plan: ExitPlan, role: str, *, generation: int = 0, attempt: int = 0) -> str:
        """A leg's (or a fired exit's) client id: from the plan, the role, the generation of
        legs and the attempt, so the same leg has the same id after a restart."""
        return client_order_id(
            self._namespace, f"exit|{plan.plan_id}|{role}|{generation}|{attempt}"
        )

    def leg(self, plan: ExitPlan, role: str, *, market: Decimal, bar_ts_ns: int) -> OrderIntent:
        """One resting leg of ``plan``. Raises ``OrderBuildError`` for a leg that cannot be
        an order now (a stop already through ``market``, a take-profit already passed)."""
        instrument = self._instruments[plan.symbol]
        side = plan.exit_side
        leg: dict[str, Any] = {
            "client_order_id": self.leg_id(plan, role, generation=plan.generation),
            "decision_id": f"exit:{plan.plan_id}",
            "reduce_only": self._reduce_only,
            "exit_role": ExitRole(role),
            "bar_ts_ns": bar_ts_ns,
        }
        if self._oco and role != ExitRole.TRAILING_STOP.value:
            leg["oco_group"] = client_order_id(
                self._namespace, f"oco|{plan.plan_id}|{plan.generation}"
            )
        qty = plan.qty
        if role == ExitRole.TAKE_PROFIT.value:
            assert plan.take_profit is not None
            built = builders.limit(
                instrument, side=side, qty=qty, price=plan.take_profit, reference_price=market,
                **leg,
            )  # fmt: skip
        elif role == ExitRole.TRAILING_STOP.value:
            assert plan.trail_pct is not None
            built = builders.trailing_stop(
                instrument, side=side, qty=qty, trail_pct=plan.trail_pct, market_price=market, **leg
            )
        elif self._stop_type is OrderType.STOP_LIMIT:
            stop = plan.stop
            assert stop is not None
            offset = stop * Decimal(str(self._orders.stop_limit_offset_bps)) / _BPS
            raw = stop - offset if side is Side.SELL else stop + offset
            limit = builders.round_exit_price(instrument, raw, side=side, role=ExitRole.STOP_LOSS)
            built = builders.stop_limit(
                instrument, side=side, qty=qty, stop_price=stop, limit_price=limit,
                market_price=market, **leg,
            )  # fmt: skip
        else:
            assert plan.stop is not None
            built = builders.stop(
                instrument, side=side, qty=qty, stop_price=plan.stop, market_price=market, **leg
            )
        return built.legs[0]

    def exit_order(
        self, plan: ExitPlan, *, qty: Decimal, client_id: str, market: Decimal, bar_ts_ns: int
    ) -> OrderIntent:
        """The MARKET order a fired emulated trigger (or max hold) sends for ``qty``."""
        assert plan.fired is not None
        return builders.market(
            self._instruments[plan.symbol],
            side=plan.exit_side,
            qty=qty,
            reference_price=market,
            allow_market=self._orders.allow_market,
            client_order_id=client_id,
            decision_id=f"exit:{plan.plan_id}",
            reduce_only=self._reduce_only,
            exit_role=ExitRole(plan.fired),
            bar_ts_ns=bar_ts_ns,
        ).legs[0]


def legs_record(
    plan: ExitPlan,
    intents: dict[str, OrderIntent],
    reports: dict[str, SubmitReport],
    modes: dict[str, str],
) -> dict[str, Any]:
    """The fields of an EXIT_LEGS line: the plan (joined to its entry's decision record by
    ``plan_id`` = the entry's client_order_id), its parameters, and each leg's outcome."""
    legs = []
    for role, intent in sorted(intents.items()):
        report = reports.get(role)
        why = None if report is None or report.reason is None else report.reason.to_record()
        legs.append(
            {
                "role": role,
                "client_order_id": intent.client_order_id,
                "order_type": intent.order_type.value,
                "stop_price": _s(intent.stop_price),
                "limit_price": _s(intent.limit_price),
                "trail_pct": _s(intent.trail_pct),
                "oco_group": intent.oco_group,
                "outcome": None if report is None else report.outcome.value,
                "reason": why,
            }
        )
    return {
        "symbol": plan.symbol,
        "plan_id": plan.plan_id,
        "family": "OCO" if any(leg["oco_group"] for leg in legs) else "LEGS",
        "position": {
            "side": plan.side.value,
            "qty": str(plan.qty),
            "entry_price": str(plan.entry_price),
        },
        "exits": plan.params.to_record(),
        "stop": _s(plan.stop),
        "take_profit": _s(plan.take_profit),
        "max_hold_until_ns": plan.max_hold_until_ns,
        "modes": modes,
        "legs": legs,
    }


def _s(value: Any) -> str | None:
    return None if value is None else str(value)
