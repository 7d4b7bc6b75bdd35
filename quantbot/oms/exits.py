"""The exit-leg manager: every position an entry of ours opened carries its protective exits.

Level-based, so a restart, a partial fill or a reconciliation all end in the same place: at
the start of each batch (after the fills are booked) each symbol's own position is compared
with its exit plan (``exit_plan.ExitPlan``, journaled as EXIT events so the ledger rebuilds
it):

- a position without a plan gets one, from the exit parameters its entry was sent with (the
  INTENT's ``exits``; ``orders.default_harvest`` when there were none), priced from the
  position's average entry price, and its legs are placed: native legs rest at the venue
  (a stop and a take-profit as one OCO order list where the venue takes them), emulated
  ones are watched by ``on_bar``;
- a position whose size changed (a partial fill grew it, a reduction shrank it) has its
  resting legs cancelled and placed again for the new size, at the same prices;
- a position that is gone (a leg filled, anything else closed it) or flipped has its plan
  ended and its remaining legs cancelled; a stop-out locks the symbol and side for
  ``stop_lock_bars`` (EXIT_STOP_LOCK, read by the decision step);
- a leg the venue no longer holds while the position is (cancelled or expired there) is
  EXIT_LEG_MISSING: placed again, or trading halts (``orders.missing_leg``); a leg the
  venue refuses is EXIT_LEG_REJECTED and the daemon watches that trigger instead.

An emulated trigger is journaled (durably) as TRIGGERED with the exit's client id before the
exit's INTENT: a daemon killed in between sends that exit on restart, once; an exit whose
submit is proven never to have reached the venue (NOT_SENT) is sent again under a new id; one
whose outcome is unknown is waited for, never sent twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs

from quantbot.analytics.tca import TcaRecorder
from quantbot.clock import Clock
from quantbot.config.orders import OrdersConfig
from quantbot.config.risk import HarvestPresets
from quantbot.domain.errors import OrderBuildError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import (
    ZERO,
    Bar,
    ExitRole,
    Instrument,
    OrderIntent,
    OrderStatus,
    Side,
    SubmitOutcome,
    to_decimal,
)
from quantbot.oms.capability import EMULATED, NATIVE, stop_order_type
from quantbot.oms.exit_legs import LegBuilder, legs_record
from quantbot.oms.exit_plan import (
    ExitParams,
    ExitPlan,
    emulated_trigger,
    exit_params,
    plan_for,
    quote_trigger,
)
from quantbot.oms.journal import EventType
from quantbot.oms.manager import ORDERS, OrderManager, SubmitReport
from quantbot.oms.pretrade_quotes import QUOTES
from quantbot.venues.base import OcoVenue

_BPS = Decimal(10_000)
_STOP_ROLES = frozenset({ExitRole.STOP_LOSS.value, ExitRole.TRAILING_STOP.value})
# Builder refusals that mean "the market is already through this trigger".
_CROSSED = frozenset(
    {
        ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET,
        ReasonCode.ORDER_BUILD_WRONG_SIDE,
        ReasonCode.ORDER_BUILD_BAD_DISTANCE,
    }
)
# A fired exit in one of these is over: the position it left (if any) gets a new attempt.
# FILLED included: a position that outgrew its exit (a fill booked late) is exited in full.
_OVER = frozenset(
    {OrderStatus.NOT_SENT, OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.FILLED}
)


class ExitManager:
    def __init__(
        self,
        *,
        oms: OrderManager,
        orders: OrdersConfig,
        presets: HarvestPresets,
        stop_lock_bars: int,
        modes: dict[str, str],
        instruments: Mapping[str, Instrument],
        namespace: str,
        clock: Clock,
        on_event: Callable[..., None],
        halt: Callable[[Reason], None],
        tca: TcaRecorder | None = None,
        profile: str = "",
    ) -> None:
        self.oms = oms
        self._ledger = oms.ledger
        self._orders = orders
        self._presets = presets
        self._lock_bars = stop_lock_bars
        self.modes = modes
        self._instruments = instruments
        self._namespace = namespace
        self._clock = clock
        self._on_event = on_event  # (event, reason, **fields): a line in the records
        self._on_record = on_event
        self._halt = halt
        self._tca = tca
        self._profile = profile
        caps = oms.venue.capabilities
        self._reduce_only = caps.reduce_only
        self._oco = "OCO" in caps.order_lists and isinstance(oms.venue, OcoVenue)
        self._legs = LegBuilder(
            instruments=instruments,
            orders=orders,
            namespace=namespace,
            reduce_only=self._reduce_only,
            oco=self._oco,
            stop_type=stop_order_type(orders, caps),
        )
        self._last_bar: dict[str, Bar] = {}
        self._plans: dict[str, ExitPlan | None] = {}  # parsed plans, valid at _plans_at
        self._plans_at = -1
        self._synced_at = -1  # the journal's seq when a sync last found nothing left to do
        self._emulated = any(m != NATIVE for m in modes.values())
        self._quotes = caps.quotes  # the venue serves a quote: emulated triggers watch it too

    # -- what the decision step reads -----------------------------------------------------
    def locks(self) -> Mapping[str, Mapping[str, int]]:
        """Stop locks: symbol -> the side stopped out ("BUY": a long) -> until (ns)."""
        return self._ledger.stop_locks

    def protected(self) -> dict[str, int]:
        """Symbols whose position carries a live plan, with its direction (+1 long)."""
        return {s: 1 if p["side"] == "BUY" else -1 for s, p in self._ledger.exit_plans.items()}

    def plan(self, symbol: str) -> ExitPlan | None:
        """The symbol's plan as its EXIT events left it (parsed once per journal move)."""
        ledger = self._ledger
        if self._plans_at != ledger.last_event_seq:
            self._plans.clear()
            self._plans_at = ledger.last_event_seq
        if symbol in self._plans:
            return self._plans[symbol]
        raw = ledger.exit_plans.get(symbol)
        plan = self._plans[symbol] = None if raw is None else ExitPlan.from_event(symbol, raw)
        return plan

    # -- every bar: emulated triggers -------------------------------------------------------
    def on_bar(self, bar: Bar) -> None:
        self._last_bar[bar.symbol] = bar
        if not self._emulated:
            return
        plan = self.plan(bar.symbol)
        if plan is None or plan.fired is not None:
            return
        fired, ref = emulated_trigger(plan, bar)
        if ref is not None and plan.emulated(ExitRole.TRAILING_STOP) and fired is None:
            self._journal(plan.symbol, "MOVED", trail_ref=str(ref))
        if fired is None:
            return
        self._trigger(plan, fired.role.value, fired.price, bar.ts_ns)

    def _trigger(
        self, plan: ExitPlan, role: str, price: Decimal, bar_ts_ns: int, source: str = "bar"
    ) -> None:
        """An emulated trigger was crossed: journaled (durably) with its exit's client id
        before that exit's INTENT, so a restart sends it once, never twice."""
        cid = self._leg_id(plan, role, attempt=1)
        self._journal(
            plan.symbol,
            "TRIGGERED",
            durable=True,
            fired=role,
            fired_cid=cid,
            attempt=1,
            trigger_price=str(price),
            bar_ts_ns=bar_ts_ns,
            source=source,
        )
        self._on_event(
            "EXIT",
            reason(
                ReasonCode.EXIT_TRIGGERED,
                symbol=plan.symbol,
                role=role,
                trigger_price=str(price),
                client_order_id=cid,
                plan_id=plan.plan_id,
            ),
        )

    # -- every batch: positions against plans ---------------------------------------------
    def idle(self) -> bool:
        """True when ``sync`` would do nothing now: synced at the journal's seq, and no
        emulated exit watching quotes."""
        ledger = self._ledger
        return self._synced_at == ledger.last_event_seq and not (
            self._quotes and self._emulated and ledger.exit_plans
        )

    async def sync(self, market_open: bool | None = None) -> None:
        """Bring every symbol's plan in line with its position. What it compares moves only
        with journal events (fills, cancels, outcomes, EXIT lines): a batch in which the
        journal did not move since the last sync has nothing to bring in line."""
        ledger = self._ledger
        if self._quotes and self._emulated:
            await self._watch_quotes()
        start = ledger.last_event_seq
        if start == self._synced_at:
            return
        symbols = sorted(set(ledger.exit_plans) | set(ledger.own_positions()))
        settled = True
        for symbol in symbols:
            done = False
            with self.oms.ladder(ORDERS):
                done = await self._sync_symbol(symbol, market_open)
            settled = settled and done  # a failed venue call, a fired exit: again next batch
        if settled and ledger.last_event_seq == start:  # this sync found nothing to do
            self._synced_at = start

    async def _watch_quotes(self) -> None:
        """Between bars, on a venue that serves a quote: an emulated stop or take-profit the
        bid (a long's) or ask (a short's) has reached fires now (``quote_trigger``), not at
        the bar's close. A quote that cannot be read, or is crossed, is passed over: the bar
        check still holds."""
        venue: Any = self.oms.venue
        for symbol in sorted(self._ledger.exit_plans):
            plan = self.plan(symbol)
            if plan is None or plan.fired is not None or not _watches_quotes(plan):
                continue
            quote = await self.oms.read_or_none(QUOTES, lambda s=symbol: venue.quote(s))
            if quote is None or not 0 < quote.bid < quote.ask:
                continue
            bid, ask = to_decimal(quote.bid), to_decimal(quote.ask)
            fired = quote_trigger(plan, bid, ask)
            if fired is not None:
                self._trigger(plan, fired.role.value, fired.price, self._bar_ts(symbol),
                              source="quote")  # fmt: skip

    async def _sync_symbol(self, symbol: str, market_open: bool | None) -> bool:
        """One symbol's plan against its position; False while it has an exit to send."""
        qty = self._ledger.own_qty(symbol)
        plan = self.plan(symbol)
        if qty == 0:
            if plan is not None:
                await self._end(plan, "flat")
            return True
        side = Side.BUY if qty > 0 else Side.SELL
        if plan is not None and plan.side is not side:
            await self._end(plan, "flipped")
            plan = None
        if plan is not None and plan.fired is not None:
            await self._fire(plan, abs(qty), market_open)
            return False
        if self._orders.partial_fills == "full" and self._entry_working(symbol):
            return True  # legs once the entry is done, for all of it
        if plan is not None and self._closing_working(symbol, side):
            return True  # a sleeve's order is reducing it: its legs were set for what remains
        if plan is None:
            plan = self._arm(symbol, side, abs(qty))
        elif plan.qty != abs(qty):
            await self._cancel_legs(plan)
            plan = attrs.evolve(plan, qty=abs(qty), legs={})
            self._journal(symbol, "ARMED", **plan.to_event())
        await self._ensure_legs(plan, market_open)
        plan = self.plan(symbol)
        if plan is not None and plan.fired is not None:  # a leg found its trigger crossed
            await self._fire(plan, abs(qty), market_open)
            return False
        return True

    async def before_order(self, intent: OrderIntent, market_open: bool | None) -> None:
        """A sleeve's order against a protected position: its legs must never exit what
        that order already exits. Closing or flipping it: the legs are cancelled now; part
        of it: they are placed again at once for what will remain (same prices)."""
        plan = self.plan(intent.symbol)
        if plan is None or intent.side is plan.side or plan.fired is not None:
            return
        held = abs(self._ledger.own_qty(intent.symbol))
        remaining = held - intent.qty
        with self.oms.ladder(ORDERS):
            await self._cancel_legs(plan)
            if remaining <= 0:
                self._journal(plan.symbol, "LEGS", legs={}, ended="closing order")
                return
            plan = attrs.evolve(plan, qty=remaining, legs={})
            self._journal(plan.symbol, "ARMED", **plan.to_event())
            await self._ensure_legs(plan, market_open)

    def _closing_working(self, symbol: str, side: Side) -> bool:
        """A sleeve's order on the exit side of a ``side`` position is still working."""
        return self._closing_qty(symbol, side) > 0

    def _closing_qty(self, symbol: str, side: Side) -> Decimal:
        """What sleeves' orders still working on the exit side of a ``side`` position close."""
        roles = self._ledger.exit_roles
        return sum(
            (
                o.remaining_qty
                for o in self._ledger.open_orders()
                if o.symbol == symbol and o.side is not side and o.client_order_id not in roles
            ),
            ZERO,
        )

    def _entry_working(self, symbol: str) -> bool:
        roles = self._ledger.exit_roles
        return any(
            o.symbol == symbol and o.client_order_id not in roles
            for o in self._ledger.open_orders()
        )

    def _arm(self, symbol: str, side: Side, qty: Decimal) -> ExitPlan:
        ledger = self._ledger
        last = ledger.last_fills.get(symbol)
        raw = ledger.exit_params.get(last.client_order_id) if last is not None else None
        if raw is not None and last is not None:
            params, plan_id = ExitParams.from_record(raw), last.client_order_id
        else:
            params = self.default_params()
            plan_id = f"adopted-{symbol}-{ledger.last_event_seq}"
        bar = self._last_bar.get(symbol)
        position = ledger.positions[symbol]
        plan = plan_for(
            plan_id=plan_id,
            symbol=symbol,
            side=side,
            qty=qty,
            entry_price=position.avg_price,
            params=params,
            instrument=self._instruments[symbol],
            # Max hold is a bar-time rule: counted from the close of the bar the fill was
            # seen on, not from the clock, so a run (wall clock, late by its latency) and its
            # replay (clock at each bar's close) exit on the same bar.
            armed_ns=bar.ts_ns + int(bar.interval_s * 1e9)
            if bar is not None
            else self._clock.now_ns(),
            bar_interval_s=bar.interval_s if bar is not None else 60.0,
        )
        modes = {k: v for k, v in self.modes.items() if self._uses(plan, k)}
        plan = attrs.evolve(plan, modes=modes)
        self._journal(symbol, "ARMED", **plan.to_event())
        return plan

    def default_params(self) -> ExitParams:
        name = self._orders.default_harvest
        preset = getattr(self._presets, name.lower())
        return exit_params(
            name,
            preset,
            frozenset(self._orders.exit_legs),
            atr=None,
            price=0.0,
            mults=(0.0, 0.0, 0.0),
        )

    @staticmethod
    def _uses(plan: ExitPlan, role: str) -> bool:
        return {
            ExitRole.STOP_LOSS.value: plan.stop is not None,
            ExitRole.TAKE_PROFIT.value: plan.take_profit is not None,
            ExitRole.TRAILING_STOP.value: plan.trail_pct is not None,
            ExitRole.MAX_HOLD.value: plan.max_hold_until_ns is not None,
        }[role]

    # -- resting legs -------------------------------------------------------------------------
    async def _ensure_legs(self, plan: ExitPlan, market_open: bool | None) -> None:
        orders = self._ledger.orders
        legs = dict(plan.legs)
        missing = [
            role
            for role, mode in sorted(plan.modes.items())
            if mode == NATIVE and (role not in legs or not _working(orders.get(legs[role])))
        ]
        if not missing:
            return
        lost = [r for r in missing if r in legs]
        if lost:
            why = reason(
                ReasonCode.EXIT_LEG_MISSING,
                symbol=plan.symbol,
                roles=lost,
                action=self._orders.missing_leg,
                plan_id=plan.plan_id,
            )
            self._on_event("EXIT", why)
            if self._orders.missing_leg == "halt":
                self._halt(why)
                return
            await self._cancel_legs(plan)  # whatever is left of the old set goes too
            missing = [r for r, m in sorted(plan.modes.items()) if m == NATIVE]
            legs = {}
        generation = plan.generation + 1
        plan = attrs.evolve(plan, generation=generation)
        modes = dict(plan.modes)
        intents: dict[str, OrderIntent] = {}
        crossed: str | None = None  # a leg whose trigger the market has already passed
        for role in missing:
            try:
                intents[role] = self._leg(plan, role)
            except OrderBuildError as e:
                self._leg_refused(plan, role, None, e.reason, modes)
                if e.reason.code in _CROSSED and crossed is None:
                    crossed = role
        reports = await self._place(plan, intents, market_open)
        for role, report in reports.items():
            if report.outcome in (SubmitOutcome.ACCEPTED, SubmitOutcome.UNKNOWN):
                legs[role] = intents[role].client_order_id
            else:
                self._leg_refused(plan, role, intents[role].client_order_id, report.reason, modes)
        self._journal(plan.symbol, "LEGS", legs=legs, modes=modes, generation=generation)
        self._record_legs(plan, intents, reports, modes)
        if crossed is not None and self._orders.allow_emulation:
            # The market is already through that trigger: the exit it stands for is due now.
            self._trigger(
                plan,
                crossed,
                self._arrival(plan.symbol) or plan.entry_price,
                self._bar_ts(plan.symbol),
            )

    async def _place(
        self, plan: ExitPlan, intents: dict[str, OrderIntent], market_open: bool | None
    ) -> dict[str, SubmitReport]:
        """Send the legs: a stop and a take-profit as one OCO order list where the venue
        takes one, every other leg on its own; each through TCA."""
        reports: dict[str, SubmitReport] = {}
        tp, sl = ExitRole.TAKE_PROFIT.value, ExitRole.STOP_LOSS.value
        for intent in intents.values():
            self._tca_decided(plan, intent)
        if self._oco and tp in intents and sl in intents:
            reports[tp], reports[sl] = await self.oms.submit_oco(
                intents[tp], intents[sl], market_open=market_open
            )
        for role, intent in intents.items():
            if role not in reports:
                reports[role] = await self.oms.submit(
                    intent, reducing=True, market_open=market_open
                )
        for role, report in reports.items():
            self._tca_submitted(intents[role], report)
        return reports

    def _leg_refused(
        self,
        plan: ExitPlan,
        role: str,
        cid: str | None,
        why_not: Reason | None,
        modes: dict[str, str],
    ) -> None:
        """A leg that could not rest (refused by the builder, a gate or the venue): the daemon
        watches its trigger instead, or trading halts when emulation is off."""
        fallback = EMULATED if self._orders.allow_emulation else None
        why = reason(
            ReasonCode.EXIT_LEG_REJECTED,
            symbol=plan.symbol,
            role=role,
            client_order_id=cid,
            refused_by=None if why_not is None else why_not.code.value,
            detail=None if why_not is None else why_not.context,
            now=fallback or "halt",
        )
        self._on_event("EXIT", why)
        if fallback is None:
            self._halt(why)
        else:
            modes[role] = fallback
            self._emulated = True

    def _record_legs(
        self,
        plan: ExitPlan,
        intents: dict[str, OrderIntent],
        reports: dict[str, SubmitReport],
        modes: dict[str, str],
    ) -> None:
        """One EXIT_LEGS line in the records (``exit_legs.legs_record``)."""
        self._on_record("EXIT_LEGS", None, **legs_record(plan, intents, reports, modes))

    def _leg(self, plan: ExitPlan, role: str) -> OrderIntent:
        return self._legs.leg(
            plan,
            role,
            market=self._arrival(plan.symbol) or plan.entry_price,
            bar_ts_ns=self._bar_ts(plan.symbol),
        )

    async def _cancel_legs(self, plan: ExitPlan) -> None:
        orders = self._ledger.orders
        for cid in sorted(plan.legs.values()):
            order = orders.get(cid)
            if order is not None and order.status.is_open:
                await self.oms.cancel_one(order)

    # -- emulated exits -------------------------------------------------------------------------
    async def _fire(self, plan: ExitPlan, qty: Decimal, market_open: bool | None) -> None:
        cid = plan.fired_cid
        assert cid is not None and plan.fired is not None
        order = self._ledger.orders.get(cid)
        if order is not None and order.status in _OVER:
            attempt = plan.attempt + 1
            cid = self._leg_id(plan, plan.fired, attempt=attempt)
            self._journal(
                plan.symbol,
                "TRIGGERED",
                durable=True,
                fired=plan.fired,
                fired_cid=cid,
                attempt=attempt,
            )
            order = None
        if order is not None:
            return  # working, filled in part, or unknown: never a second exit
        qty -= self._closing_qty(plan.symbol, plan.side)
        if qty <= 0:
            return  # a sleeve's order already exits it all: wait for its outcome
        await self._cancel_legs(plan)  # resting legs go first: nothing may exit twice
        if any(_working(self._ledger.orders.get(c)) for c in plan.legs.values()):
            return  # a cancel did not go through yet: the next batch tries again
        try:
            intent = self._legs.exit_order(
                plan,
                qty=qty,
                client_id=cid,
                market=self._arrival(plan.symbol) or plan.entry_price,
                bar_ts_ns=self._bar_ts(plan.symbol),
            )
        except OrderBuildError as e:  # below the minimum notional: nothing a venue would take
            self._on_event("EXIT", e.reason)
            return
        self._tca_decided(plan, intent, trigger=plan.trigger_price)
        report = await self.oms.submit(intent, reducing=True, market_open=market_open)
        self._tca_submitted(intent, report)
        if report.outcome is SubmitOutcome.NOT_SENT and report.reason is not None:
            self._on_event("EXIT", report.reason)

    async def _end(self, plan: ExitPlan, why: str) -> None:
        orders = self._ledger.orders
        orphans = sorted(c for c in plan.legs.values() if _working(orders.get(c)))
        await self._cancel_legs(plan)
        if orphans:
            self._on_event(
                "EXIT",
                reason(
                    ReasonCode.EXIT_LEG_ORPHAN_CANCELED,
                    symbol=plan.symbol,
                    plan_id=plan.plan_id,
                    position=why,
                    legs=orphans,
                ),
            )
        last = self._ledger.last_fills.get(plan.symbol)
        role = self._ledger.exit_roles.get(last.client_order_id) if last is not None else None
        fields: dict[str, Any] = {"ended": why, "plan_id": plan.plan_id, "side": plan.side.value}
        if why == "flat" and role is not None and role.value in _STOP_ROLES and self._lock_bars:
            bar = self._last_bar.get(plan.symbol)
            interval = bar.interval_s if bar is not None else 60.0
            start = bar.ts_ns if bar is not None else self._clock.now_ns()
            fields["lock_until_ns"] = start + int((self._lock_bars + 1) * interval * 1e9)
            fields["stopped_by"] = role.value
        self._journal(plan.symbol, "DONE", **fields)
        self._on_record("EXIT_DONE", None, symbol=plan.symbol, **fields)

    # -- TCA: exit fills are measured against their trigger ------------------------------------
    def _tca_decided(self, plan: ExitPlan, intent: OrderIntent, trigger: Any = None) -> None:
        """The leg's TCA decision price is its trigger (a stop's stop, a take-profit's limit,
        an emulated exit's crossing price), so slippage is measured against it; it is booked
        to the sleeve whose entry opened the position."""
        if self._tca is None:
            return
        price = trigger if trigger is not None else intent.stop_price or intent.limit_price
        price = price or intent.arrival_price or plan.entry_price
        self._tca.on_decision(
            intent,
            decision_ts_ns=self._clock.now_ns(),
            decision_price=Decimal(str(price)),
            sleeve=plan.params.sleeve,
            profile=self._profile,
            venue=self.oms.venue.name,
        )

    def _tca_submitted(self, intent: OrderIntent, report: SubmitReport) -> None:
        if self._tca is None:
            return
        self._tca.on_submitted(
            intent.client_order_id,
            outcome=report.outcome.value,
            reason_code=report.reason.code.value if report.reason is not None else None,
            submit_price=intent.arrival_price,
        )

    # -- helpers --------------------------------------------------------------------------------
    def _leg_id(self, plan: ExitPlan, role: str, *, generation: int = 0, attempt: int = 0) -> str:
        return self._legs.leg_id(plan, role, generation=generation, attempt=attempt)

    def _bar_ts(self, symbol: str) -> int:
        bar = self._last_bar.get(symbol)
        return bar.ts_ns if bar is not None else 0

    def _arrival(self, symbol: str) -> Decimal | None:
        bar = self._last_bar.get(symbol)
        if bar is None:
            return None
        return self._instruments[symbol].round_price(bar.close)

    def _journal(self, symbol: str, action: str, *, durable: bool = False, **fields: Any) -> None:
        fields.pop("symbol", None)
        self.oms.record_event(
            EventType.EXIT, durable=durable, symbol=symbol, action=action, **fields
        )


def _watches_quotes(plan: ExitPlan) -> bool:
    return any(
        plan.emulated(r) for r in (ExitRole.STOP_LOSS, ExitRole.TRAILING_STOP, ExitRole.TAKE_PROFIT)
    )


def _working(order: Any) -> bool:
    return order is not None and order.status.is_open


__all__ = ["ExitManager"]
