"""One market-data batch through the whole path, as plain awaits in one coroutine.

data contract → venue matching (paper) → fills journaled, UNKNOWN submits looked up →
decision step per bar → daily risk guard reserve → pre-trade gates and OMS submit →
decision record. No queues between
stages (DESIGN.md section 2): a bar is fully decided, sent and recorded before the next one
is looked at, so no stage ever reads a stale position.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import attrs

from quantbot.analytics.tca import TcaRecorder
from quantbot.clock import BarClock
from quantbot.decision.step import Decision, DecisionStep, PortfolioView
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import (
    Bar,
    Fill,
    OrderIntent,
    OrderStatus,
    Position,
    Side,
    SubmitOutcome,
)
from quantbot.marketdata.contract import ContractVerdict
from quantbot.oms.manager import POSITIONS, VENUE_FAILURES, OrderManager
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.alerts import AlertSink
from quantbot.ops.breakers import BreakerBoard, CircuitOpenError
from quantbot.records.jsonl import RotatingJsonl
from quantbot.risk.daily import DailyRiskGuard
from quantbot.venues.base import OrderVenue

MARKET_CLOCK = "calendar_market_clock"
# Order states after which a reservation's unfilled rest is freed.
ENDED = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.NOT_SENT}
)


def _rec(why: Reason | None) -> dict[str, Any] | None:
    return None if why is None else why.to_record()


@attrs.define
class Counters:
    bars: int = 0
    rejected_bars: int = 0
    decisions: int = 0
    intents: int = 0
    orders_accepted: int = 0
    orders_rejected: int = 0
    fills: int = 0


class Pipeline:
    def __init__(
        self,
        *,
        step: DecisionStep,
        oms: OrderManager | None,
        venue: OrderVenue,
        records: RotatingJsonl,
        market_sink: Callable[[Bar], list[Fill]] | None,
        blocked_by: Callable[[], Reason | None],
        execution_mode: str,
        reconciler: Reconciler | None = None,
        alerts: AlertSink | None = None,
        breakers: BreakerBoard | None = None,
        canary_symbols: tuple[str, ...] = (),
        bar_clock: BarClock | None = None,
        on_session_close: Callable[[], Awaitable[None]] | None = None,
        daily: DailyRiskGuard | None = None,
        tca: TcaRecorder | None = None,
        trade_external: bool = False,
    ) -> None:
        self.step = step
        self.oms = oms  # None in shadow mode: nothing is ever sent
        self.venue = venue
        self.records = records
        self._market_sink = market_sink
        self._blocked_by = blocked_by
        self._mode = execution_mode
        self._reconciler = reconciler
        self._alerts = alerts
        self._breakers = breakers
        self._canary = canary_symbols
        self._bar_clock = bar_clock  # market time for gates when bars come from a file
        self._sessions = bool(getattr(venue.capabilities, "has_sessions", False))
        self._on_session_close = on_session_close
        self.daily = daily
        self.tca = tca  # transaction cost records, one per order sent
        # True (reconcile.external_inventory = "manage"): the sleeves trade foreign
        # inventory too; otherwise they see only what their own orders made.
        self._trade_external = trade_external
        self.market_open: bool | None = None  # None: the venue has no sessions
        self.counters = Counters()
        self.equity = Decimal(0)
        self._swept_at_seq: int | None = None  # ledger event seq at the last reserve sweep

    async def on_batch(self, bars: list[Bar]) -> None:
        verdicts = [self.step.admit(bar) for bar in bars]
        gates = self.oms.gates if self.oms is not None else None
        for bar, verdict in zip(bars, verdicts, strict=True):
            if not verdict.ok:
                continue  # a bad bar must not fill an order, nor look fresh to the gates
            if self._market_sink is not None:
                self._market_sink(bar)
            close_ns = bar.ts_ns + int(bar.interval_s * 1e9)
            if self._bar_clock is not None:
                self._bar_clock.advance_to(close_ns)
            if gates is not None:
                gates.on_bar(bar)
            if self._alerts is not None and self._bar_clock is None:  # live feeds only
                self._alerts.note_bar(bar.symbol, close_ns)
        await self._settle()
        for bar, verdict in zip(bars, verdicts, strict=True):
            await self._decide(bar, verdict)
        self.records.flush()
        if self.tca is not None:
            self.tca.tick()
        if self.oms is not None:
            self.oms.journal.maybe_sync()

    async def _settle(self) -> None:
        """Fills, UNKNOWN look-ups, session and equity; a failed read is recorded, skipped."""
        if self._sessions:
            await self._check_session()
        if self.oms is None:
            self.equity = (await self.venue.account()).equity
            return
        self.counters.fills += await self.oms.poll_fills()
        self._release_ended()
        try:
            if self._reconciler is not None:
                for found in await self._reconciler.resolve_unknown():
                    self._event("RECONCILE", found)
            self.equity = (await self.oms.read(POSITIONS, self.venue.account)).equity
        except CircuitOpenError:
            pass  # the breaker already recorded why; decide on the last known equity
        except VENUE_FAILURES as exc:
            if self.oms.errors is not None:
                self.oms.errors.handle(exc, dependency=POSITIONS)

    async def _check_session(self) -> None:
        was_open = self.market_open
        try:
            if self.oms is None:
                clock = await self.venue.market_clock()
            else:
                clock = await self.oms.read(MARKET_CLOCK, self.venue.market_clock)
        except CircuitOpenError:
            self.market_open = False  # unknown session state: fail closed
            return
        except VENUE_FAILURES as exc:
            self.market_open = False
            if self.oms is not None and self.oms.errors is not None:
                self.oms.errors.handle(exc, dependency=MARKET_CLOCK)
            return
        self.market_open = clock.is_open
        if was_open and not clock.is_open and self._on_session_close is not None:
            await self._on_session_close()

    def _event(self, event: str, why: Reason) -> None:
        self.records.write(self.step.event_record(event, why))

    def _view(self) -> PortfolioView:
        if self.oms is None:
            return PortfolioView(float(self.equity), {}, {}, self._blocked_by())
        ledger = self.oms.ledger
        if self._trade_external:
            positions = {s: p.qty for s, p in ledger.positions.items() if p.qty}
        else:  # foreign inventory is not the sleeves' to trade
            positions = ledger.own_positions()
        return PortfolioView(
            float(self.equity), positions, ledger.pending_by_symbol(), self._blocked_by()
        )

    async def _decide(self, bar: Bar, verdict: ContractVerdict) -> None:
        self.counters.bars += 1
        decision = self.step.step(bar, self._view(), verdict)
        record = decision.record
        self.counters.decisions += 1
        reason_code = (record.get("reason") or {}).get("code", "")
        if reason_code.startswith("DATA_"):
            self.counters.rejected_bars += 1
        if decision.intent is not None:
            self.counters.intents += 1
            record["order"] = await self._submit(decision, decision.intent)
            if record["order"]["outcome"] == SubmitOutcome.NOT_SENT.value and self.oms:
                self.step.not_sent(decision)
        if self._breakers is not None:
            record["breakers_open"] = self._breakers.not_closed()
        if self._canary:
            record["canary_mode"] = {"code": "CANARY_MODE_ACTIVE", "symbols": list(self._canary)}
        self.records.write(record)

    # -- daily risk guard ---------------------------------------------------------------------
    async def _submit(self, decision: Decision, intent: OrderIntent) -> dict[str, Any]:
        """Reserve, then send. A reversal the guard refuses still sends its closing part."""
        denial = self._reserve(decision)
        if denial is None:
            order = await self._send(intent, decision.reducing, decision)
            self._release_unsent(decision, order["outcome"])
            return order
        closing = self._closing_part(decision, intent, denial)
        if closing is None:
            decision.record["reason"] = denial.to_record()
            return {"outcome": SubmitOutcome.NOT_SENT.value, "reason": denial.to_record()}
        return await self._send(closing, True, decision)

    def _closing_part(
        self, decision: Decision, intent: OrderIntent, denial: Reason
    ) -> OrderIntent | None:
        """The part of a refused reversal that closes the position it reverses, or None.

        Daily limits cap new risk and must never trap a position the signal wants out of
        (DESIGN.md section 4): like a reversal an entry rule refuses, only the close goes.
        """
        if self.oms is None or decision.entry is None:
            return None
        ledger = self.oms.ledger
        held = (
            ledger.position_qty(intent.symbol)
            if self._trade_external
            else ledger.own_qty(intent.symbol)
        )
        if not (held < 0 if intent.side is Side.BUY else held > 0):
            return None  # nothing on the other side: a plain entry, refused whole
        closing = attrs.evolve(intent, qty=min(intent.qty, abs(held)))
        self.step.risk.revert(intent.symbol, decision.entry)  # the new side was not entered
        record = decision.record
        why = reason(ReasonCode.ENTRY_BLOCKED_CLOSE_ONLY, blocked_by=denial.code.value)
        record["clamps"].append(why.to_record())
        record["intent"] = {**record["intent"], "qty": str(closing.qty), "reducing": True}
        return closing

    def _reserve(self, decision: Decision) -> Reason | None:
        """Reserve the exposure an entry adds, before it is sent (GLOBAL and its sleeve must
        both allow it). Shadow mode sends nothing, so it only asks and records the answer."""
        entry, record = decision.entry, decision.record
        if entry is None:
            record["daily_risk"] = {"verdict": "skipped", "why": "reducing"}
            return None
        if self.daily is None:
            record["daily_risk"] = {"verdict": "skipped", "why": "no_guard"}
            return None
        detail = {
            "sleeve": entry.sleeve,
            "notional_usd": round(entry.notional_usd, 6),
            "risk_usd": round(entry.risk_usd, 6),
        }
        args = {
            "sleeve": entry.sleeve,
            "notional_usd": entry.notional_usd,
            "risk_usd": entry.risk_usd,
        }
        if self.oms is None:
            would = self.daily.check(**args)
            verdict = "would_block" if would else "would_reserve"
            record["daily_risk"] = {"verdict": verdict, **detail, "denial": _rec(would)}
            return None
        assert decision.intent is not None
        denial = self.daily.reserve(
            client_order_id=decision.intent.client_order_id, symbol=decision.intent.symbol, **args
        )
        verdict = "block" if denial else "reserved"
        record["daily_risk"] = {"verdict": verdict, **detail, "denial": _rec(denial)}
        return denial

    def _release_unsent(self, decision: Decision, outcome: str) -> None:
        """A rejected or unsent order frees its reservation; an UNKNOWN one keeps it (it may be
        working at the venue, so it counts against the limits until it is resolved)."""
        if self.daily is None or decision.entry is None or decision.intent is None:
            return
        if outcome in (SubmitOutcome.REJECTED.value, SubmitOutcome.NOT_SENT.value):
            self.daily.release(decision.intent.client_order_id)

    def _release_ended(self) -> None:
        """Orders that ended without filling in full (canceled, expired, rejected later) free
        the rest of their reservation. So does one the journal never saw: its INTENT is
        durable before any submit, so it was never sent (a crash between the two writes)."""
        if self.daily is None or self.oms is None:
            return
        # Orders end only by journal events, so nothing can have ended since the last sweep
        # when the journal has not moved (the first sweep, at start, always runs).
        seq = self.oms.ledger.last_event_seq
        if seq == self._swept_at_seq:
            return
        self._swept_at_seq = seq
        orders = self.oms.ledger.orders
        for cid in self.daily.open_reservations():
            order = orders.get(cid)
            if order is None or order.status in ENDED:
                self.daily.release(cid)

    async def _send(
        self, intent: OrderIntent, reducing: bool, decision: Decision
    ) -> dict[str, Any]:
        if self.oms is None:
            why = reason(ReasonCode.EXEC_SHADOW_NOT_SENT, execution_mode=self._mode)
            return {"outcome": SubmitOutcome.NOT_SENT.value, "reason": why.to_record()}
        if self.tca is not None:
            self.tca.on_decision(
                intent,
                decision_ts_ns=self.step.now_ns(),
                decision_price=intent.arrival_price or Decimal(0),
                sleeve=_sleeve_of(decision, intent),
                profile=str(decision.record.get("profile", "")),
                venue=self.venue.name,
            )
        report = await self.oms.submit(intent, reducing=reducing, market_open=self.market_open)
        if self.tca is not None:
            self.tca.on_submitted(
                intent.client_order_id,
                outcome=report.outcome.value,
                reason_code=report.reason.code.value if report.reason is not None else None,
                submit_price=intent.arrival_price,
            )
        if report.outcome is SubmitOutcome.ACCEPTED:
            self.counters.orders_accepted += 1
        elif report.outcome is SubmitOutcome.REJECTED:
            self.counters.orders_rejected += 1
            if self._alerts is not None:
                self._alerts.note_reject(intent.symbol)
        return report.to_record()


def _sleeve_of(decision: Decision, intent: OrderIntent) -> str:
    """The sleeve an order is booked to: its entry's, or for an order that only reduces, the
    sleeve that pushed hardest in the order's direction."""
    if decision.entry is not None:
        return decision.entry.sleeve
    contributions = (decision.record.get("net") or {}).get("contributions") or {}
    sign = 1.0 if intent.side.value == "BUY" else -1.0
    best = max(sorted(contributions), key=lambda k: contributions[k] * sign, default="")
    return best


def fill_listener(daily: DailyRiskGuard) -> Callable[[Fill, Position, Position], None]:
    """What the OMS calls for each new fill: settle its reservation, book realised PnL.

    Wired into the OMS before start-up reconciliation, so fills that happened while the
    daemon was down settle too.
    """

    def on_fill(fill: Fill, before: Position, after: Position) -> None:
        daily.on_fill(
            client_order_id=fill.client_order_id,
            symbol=fill.symbol,
            notional_usd=float(fill.qty * fill.price),
            realized_pnl_usd=float(after.realized_pnl - before.realized_pnl),
            position_before=float(before.qty),
            position_after=float(after.qty),
        )

    return on_fill
