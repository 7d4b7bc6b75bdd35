"""The sizing stage: from the net target to the target quantity the entry rules admit (the
sizer and its AI proposal, portfolio limits, the short rule, the kill switch and halts,
working orders, the exit rules, the execution policy and the governor), each one's part of
the record in its place; what is admitted goes to the order stage (decision/order_stage).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantbot.decision.evolved import flat, with_exits, with_stop
from quantbot.decision.exit_rules import ExitRules
from quantbot.decision.order_stage import OrderStage, position_record
from quantbot.decision.outcome import DIGITS, Decision, PortfolioView, none
from quantbot.decision.risk_stages import Admitted, RiskChain, Sized, compact_limits
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import ZERO, Bar, Instrument
from quantbot.oms.exit_plan import ExitParams
from quantbot.portfolio.netting import NetTarget
from quantbot.portfolio.targets import OrderedTargets
from quantbot.sizing.base import Sizer

# Kill switch, halt and reduce-only block new risk only: orders that shrink a position stay
# possible (DESIGN.md section 4). Shutdown sends nothing new at all.
_REDUCING_ALLOWED_UNDER = frozenset(
    {ReasonCode.KILL_SWITCH_ACTIVE, ReasonCode.HALT_ACTIVE, ReasonCode.REDUCE_ONLY_ACTIVE,
     ReasonCode.GO_LIVE_DISABLED}  # a live daemon that saw `go-live disable` (daemon/golive_watch)
)  # fmt: skip

_SIZER_POSITION_CAP = ReasonCode.SIZER_POSITION_CAP.value


class SizeStage:
    def __init__(
        self,
        *,
        instruments: dict[str, Instrument],
        sizer: Sizer,
        risk: RiskChain,
        exits: ExitRules,
        targets: OrderedTargets,
        orders: OrderStage,
    ) -> None:
        self._instruments = instruments
        self._sizer = sizer
        self.risk = risk  # the step's
        self._exits = exits
        self._targets = targets  # the step's: what an entry already approved
        self._orders = orders

    def size(
        self, bar: Bar, view: PortfolioView, record: dict[str, Any], net: NetTarget
    ) -> Decision:
        symbol = bar.symbol
        instrument = self._instruments[symbol]
        position = view.positions.get(symbol, ZERO)
        pending = view.pending.get(symbol, ZERO)
        if position == 0 and pending == 0:
            self.risk.policy.on_flat(symbol)
        sized, exits = self._sized(bar, view, record, net, instrument)
        exposures = self._exposures(view, bar)
        others = {s: v for s, v in exposures.items() if s != symbol}
        limited = self.risk.limits.apply(
            symbol,
            sized.target_notional,
            equity=view.equity,
            others=others,
            stats=self.risk.stats,
        )
        record["limits"] = compact_limits(limited.to_record())
        record["clamps"].extend(r.to_record() for r in limited.applied)
        target_qty = instrument.round_qty(limited.target_notional_usd / bar.close)
        if target_qty < 0 and not instrument.shortable:
            record["clamps"].append(
                reason(ReasonCode.SHORT_NOT_ALLOWED_CLAMP, wanted=str(target_qty)).to_record()
            )
            target_qty = ZERO
        reducing = abs(target_qty) < abs(position) and (target_qty * position) >= 0
        blocked = view.blocked_by
        if blocked is not None and not (reducing and blocked.code in _REDUCING_ALLOWED_UNDER):
            position_record(record, position, pending, target_qty)
            return none(record, blocked)
        if pending != 0:  # before the entry rules: a working order is not a new entry
            position_record(record, position, pending, target_qty)
            return none(record, reason(ReasonCode.ORDER_WORKING_BLOCK, pending=str(pending)))
        entry = None
        approved = self._targets.approved(symbol)
        if self._exits.enabled and not reducing and target_qty != position:
            guarded = self._exit_guard(
                bar, view, record, net=net, position=position, pending=pending,
                target_qty=target_qty, approved=approved,
            )  # fmt: skip
            if isinstance(guarded, Decision):
                return guarded
            target_qty, reducing, net = guarded
        if reducing or target_qty == position:
            skipped = {"verdict": "skipped", "why": "reducing" if reducing else "no_change"}
            record["policy"] = record["governor"] = skipped
            record["cost_gate"] = record["turnover"] = skipped
        elif approved is not None and target_qty * approved > 0:
            # The rest of an entry the rules already approved, cut by the participation
            # clamp: not a new entry nor a scale-in, but it adds exposure, so it reserves.
            # Beyond what was approved is a scale-in, judged once this entry is complete.
            target_qty = approved if abs(target_qty) > abs(approved) else target_qty
            skipped = {"verdict": "skipped", "why": "catching_up", "approved_qty": str(approved)}
            record["policy"] = record["governor"] = skipped
            record["cost_gate"] = record["turnover"] = skipped
            entry = self.risk.continuing(net, sized, float(abs(target_qty - position)) * bar.close)
        else:
            admitted = self.risk.admit_entry(
                symbol=symbol,
                bar=bar,
                price=bar.close,
                now_ns=bar.ts_ns,  # market time: cooldowns mean the same in replay
                net=net,
                sized=sized,
                position=position,
                target_qty=target_qty,
                exposures=exposures,
                equity=view.equity,
                instrument=instrument,
            )
            self._entry_record(record, admitted)
            if admitted.target_qty is None:
                position_record(record, position, pending, target_qty)
                return none(record, admitted.refusal)
            target_qty, entry = admitted.target_qty, admitted.entry
            reducing = abs(target_qty) < abs(position) and (target_qty * position) >= 0
            if admitted.close_only:
                net = flat(net)  # what is ordered toward: flat
        if entry is not None and exits is not None:
            entry = with_exits(entry, exits)
        return self._orders.order(
            bar,
            record,
            net=net,
            position=position,
            pending=pending,
            target_qty=target_qty,
            reducing=reducing,
            entry=entry,
        )

    def _sized(
        self,
        bar: Bar,
        view: PortfolioView,
        record: dict[str, Any],
        net: NetTarget,
        instrument: Instrument,
    ) -> tuple[Sized, ExitParams | None]:
        """The base size, then the sizer stage (AI proposal by mode), with the exits an entry
        would carry; their parts of the record are written here."""
        symbol = bar.symbol
        base = self._sizer.target_notional(net, view.equity)
        raw = round(base.raw_notional_usd, DIGITS)  # rounded once, shown twice when capped
        record["sizer"] = {
            "target_notional_usd": round(base.target_notional_usd, DIGITS),
            "raw_notional_usd": raw,
            "capped": base.capped,
            "equity": round(view.equity, DIGITS),
        }
        if base.capped:  # reason(SIZER_POSITION_CAP, raw=raw).to_record(), built directly
            record["clamps"].append({"code": _SIZER_POSITION_CAP, "raw": raw})
        sized = self.risk.size(symbol, net, base=base, equity=view.equity, instrument=instrument)
        # The stop the governor's risk budget counts is the stop that will be placed: none
        # (exits off, or no stop-loss leg) counts the whole notional (oms/exits).
        exits = self._exits.params(symbol, sized.proposal, bar.close)
        stop = exits.stop_loss_pct if exits is not None else None
        if stop != sized.stop_loss_pct:
            sized = with_stop(sized, stop)
        record["sizer"].update(sized.verdict)
        if sized.charter is not None:  # the confidence charter's verdict (governance/charter)
            record["charter"] = sized.charter
        if sized.clamps:
            record["clamps"].extend(sized.clamps)
        return sized, exits

    def _exit_guard(
        self,
        bar: Bar,
        view: PortfolioView,
        record: dict[str, Any],
        *,
        net: NetTarget,
        position: Decimal,
        pending: Decimal,
        target_qty: Decimal,
        approved: Decimal | None,
    ) -> Decision | tuple[Decimal, bool, NetTarget]:
        """The stop lock and one-bracket rule (``exit_rules``) on an order adding exposure:
        no order (a Decision), or what goes on (a reversal into a locked side: the close)."""
        catching_up = approved is not None and target_qty * approved > 0
        why, close_ok = self._exits.blocked(
            symbol=bar.symbol,
            position=position,
            target_qty=target_qty,
            bar_ts_ns=bar.ts_ns,
            locks=view.locks,
            protected={} if catching_up else view.protected,
        )
        if why is None:
            return target_qty, False, net
        if not close_ok:
            position_record(record, position, pending, target_qty)
            return none(record, why)
        record["clamps"].append(why.to_record())
        return ZERO, True, flat(net)

    @staticmethod
    def _entry_record(record: dict[str, Any], admitted: Admitted) -> None:
        """The entry rules' verdicts and the clamps they applied, in their places."""
        if admitted.policy is not None:
            record["policy"] = admitted.policy
        if admitted.governor is not None:
            record["governor"] = admitted.governor
        if admitted.clamps:
            record["clamps"].extend(admitted.clamps)
        if admitted.stages:
            record.update(admitted.stages)  # cost_gate, turnover (entry_gates)

    def _exposures(self, view: PortfolioView, bar: Bar) -> dict[str, float]:
        """Signed notional of every position and working order, at the last known prices."""
        result: dict[str, float] = {}
        for book in (view.positions, view.pending):
            for sym, qty in book.items():
                if qty:
                    price = bar.close if sym == bar.symbol else self.risk.stats.last_price(sym)
                    result[sym] = result.get(sym, 0.0) + float(qty) * (price or 0.0)
        return result
