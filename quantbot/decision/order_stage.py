"""The order stage: from the admitted target quantity to the order intent (working orders,
the THIN regime, the participation cap, lot and minimum notional, the order type), and the
record's ``position``, ``intent`` and ``arrival_price``. The step's last stage
(decision/step -> size_stage -> here).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantbot.config.schema import Config
from quantbot.decision.evolved import with_notional
from quantbot.decision.exit_rules import ExitRules
from quantbot.decision.liquidity_caps import cap_order
from quantbot.decision.outcome import DIGITS, Decision, Ordered, none
from quantbot.decision.risk_stages import Entry, dominant_sleeve
from quantbot.domain.ids import client_order_id
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Instrument, OrderIntent, OrderType, Side, to_decimal
from quantbot.portfolio.netting import NetTarget
from quantbot.portfolio.targets import OrderedTargets
from quantbot.risk.liquidity import LiquidityRegimes

_SIZE_BELOW_LOT = ReasonCode.SIZE_BELOW_LOT.value
# An enum's ``.value`` is a descriptor call; the record's strings by a dict lookup instead.
_VALUES: dict[Side | OrderType, str] = {m: m.value for m in (*Side, *OrderType)}


class OrderStage:
    def __init__(
        self,
        config: Config,
        instruments: dict[str, Instrument],
        targets: OrderedTargets,
        liquidity: LiquidityRegimes,
        exits: ExitRules,
    ) -> None:
        self._instruments = instruments
        self._targets = targets  # the step's: a complete order is caught up
        self.liquidity = liquidity  # the step's regimes
        self._liquidity = config.liquidity_thresholds
        self._exits = exits
        self._namespace = config.run.client_id_namespace

    def order(
        self,
        bar: Bar,
        record: dict[str, Any],
        *,
        net: NetTarget,
        position: Decimal,
        pending: Decimal,
        target_qty: Decimal,
        reducing: bool,
        entry: Entry | None,
    ) -> Decision:
        """From the admitted target quantity to the order intent: working orders, liquidity,
        lot and minimum notional."""
        did = record["decision_id"]
        instrument = self._instruments[bar.symbol]
        delta = target_qty - position - pending
        if abs(delta) < instrument.lot_size:
            self._targets.caught_up(bar.symbol)  # nothing left to catch up on
        position_record(record, position, pending, target_qty)
        if pending != 0:
            return none(record, reason(ReasonCode.ORDER_WORKING_BLOCK, pending=str(pending)))
        thin = None if reducing else self._thin(bar)
        if thin is not None:
            return none(record, thin)
        # The THIN regime's order value and the participation cap (liquidity_caps).
        capped = cap_order(
            self.liquidity, symbol=bar.symbol, qty=abs(delta), price=bar.close,
            reducing=reducing, instrument=instrument,
        )  # fmt: skip
        record["clamps"].extend(capped.clamps)
        if capped.blocked is not None:
            return none(record, capped.blocked)
        qty = capped.qty
        if qty < instrument.lot_size:  # most bars that reach here (the target is held)
            # reason(SIZE_BELOW_LOT, qty=..., lot_size=...).to_record(), built directly
            record["reason"] = {
                "code": _SIZE_BELOW_LOT, "qty": str(qty), "lot_size": str(instrument.lot_size)
            }  # fmt: skip
            return Decision(record, None)
        arrival = instrument.round_price(bar.close)
        if qty * arrival < instrument.min_notional:
            return none(
                record,
                reason(
                    ReasonCode.SIZE_BELOW_MIN_NOTIONAL,
                    notional=str(qty * arrival),
                    min_notional=str(instrument.min_notional),
                ),
            )
        side = Side.BUY if delta > 0 else Side.SELL
        # The sleeve it is booked to (TCA, attribution): its entry's, or for an order that
        # only reduces, the sleeve that pushed hardest in its direction.
        sleeve = entry.sleeve if entry is not None else dominant_sleeve(net, 1 if delta > 0 else -1)
        kind, limit = OrderType.MARKET, None
        if entry is not None and entry.new_entry:
            kind, limit = self._exits.entry_order(
                sleeve=sleeve, regime=entry.regime, side=side, close=bar.close,
                instrument=instrument,
            )  # fmt: skip
        intent = OrderIntent(
            client_order_id=client_order_id(self._namespace, did),
            decision_id=did,
            symbol=bar.symbol,
            side=side,
            qty=qty,
            order_type=kind,
            limit_price=limit,
            bar_ts_ns=bar.ts_ns,
            arrival_price=to_decimal(arrival),
        )
        # A cut order leaves a rest to catch up on; an approved entry's target is kept for it.
        approved = target_qty if entry is not None and entry.new_entry else None
        ordered = Ordered(bar.symbol, net.target, qty < abs(delta), approved, bar.ts_ns)
        record["intent"] = {
            "client_order_id": intent.client_order_id,
            "side": _VALUES[side],
            "qty": str(intent.qty),
            "order_type": _VALUES[kind],
            "reducing": reducing,
        }
        if limit is not None:
            record["intent"]["limit_price"] = str(limit)
        if entry is not None and entry.exits is not None:
            # The order family and the exits its fill will carry (oms/exits; each leg's own
            # line is an EXIT record with plan_id = this client_order_id).
            record["intent"]["family"] = "BRACKET"
            record["intent"]["exits"] = entry.exits.to_record()
        record["arrival_price"] = str(arrival)
        if entry is not None:
            # The order may be smaller than the entry (participation clamp): reserve only
            # what this order can add.
            order_usd = float(qty * arrival)
            if order_usd < entry.notional_usd:
                ratio = order_usd / entry.notional_usd
                entry = with_notional(entry, order_usd, entry.risk_usd * ratio)
        return Decision(record, intent, reducing, entry, ordered, sleeve)

    def _thin(self, bar: Bar) -> Reason | None:
        """LIQUIDITY_THIN_BLOCK when the bar traded less value (volume x close, in the quote
        currency) than the profile's min_bar_notional, or fewer units than min_bar_volume."""
        liquidity = self._liquidity
        notional = bar.volume * bar.close
        if notional < liquidity.min_bar_notional:
            return reason(
                ReasonCode.LIQUIDITY_THIN_BLOCK,
                volume=bar.volume,
                notional=round(notional, DIGITS),
                min_bar_notional=liquidity.min_bar_notional,
            )
        if bar.volume < liquidity.min_bar_volume:
            return reason(
                ReasonCode.LIQUIDITY_THIN_BLOCK,
                volume=bar.volume,
                min_bar_volume=liquidity.min_bar_volume,
            )
        return None


def position_record(
    record: dict[str, Any], position: Decimal, pending: Decimal, target_qty: Decimal
) -> None:
    record["position"] = {
        "qty": str(position),
        "pending": str(pending),
        "target_qty": str(target_qty),
        "delta_qty": str(target_qty - position - pending),
    }
