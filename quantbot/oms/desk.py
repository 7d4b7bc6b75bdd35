"""The order side, as the batch pipeline sees it: one face (``desk_api.Desk``), whatever the
execution mode.

``OrderDesk`` (paper, live): each batch begins with the venue's fills, the look-up of orders
whose outcome is unknown and the account's equity; an order goes through the daily risk
reservation, the OMS (pre-trade gates, journal, venue) and TCA. ``shadow_desk.ShadowDesk``:
the same questions, nothing sent (``EXEC_SHADOW_NOT_SENT``) and nothing written. The decision
side never learns which it talks to: it is told each intent's ``Outcome`` once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from quantbot.analytics.arrival import Arrival, ArrivalQuotes
from quantbot.analytics.tca import TcaRecorder
from quantbot.analytics.tca_samples import TcaFreshness
from quantbot.clock import Clock
from quantbot.config.ops import OmsConfig
from quantbot.decision.step import Decision, Outcome
from quantbot.domain.reasons import Reason
from quantbot.domain.values import Bar, Fill, OrderIntent, Side, SubmitOutcome
from quantbot.governance.quarantine import Quarantine
from quantbot.governance.tripwire import Tripwire
from quantbot.oms.desk_api import EMPTY as _EMPTY
from quantbot.oms.desk_api import Desk, Sent
from quantbot.oms.exits import ExitManager
from quantbot.oms.limit_timeout import LimitTimeout
from quantbot.oms.manager import ORDERS, POSITIONS, OrderManager, SubmitReport
from quantbot.oms.reconcile import Reconciler
from quantbot.oms.reservation import DailyReservation
from quantbot.oms.shadow_desk import ShadowDesk
from quantbot.ops.alerts import AlertSink
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.drawdown import DrawdownBreaker
from quantbot.venues.base import OrderVenue

T = TypeVar("T")
_QUARANTINED = {"verdict": "skipped", "why": "quarantined"}
_THROTTLED = {"verdict": "skipped", "why": "tripwire"}

_BY_SUBMIT = {
    SubmitOutcome.ACCEPTED.value: Outcome.SENT,
    SubmitOutcome.UNKNOWN.value: Outcome.SENT,  # it may be working: as if it went
    SubmitOutcome.REJECTED.value: Outcome.SENT,  # it went; the venue said no
    SubmitOutcome.NOT_SENT.value: Outcome.NOT_SENT,
}


class OrderDesk:
    """Paper and live: the daily reservation, the OMS and TCA around each order."""

    def __init__(
        self,
        *,
        oms: OrderManager,
        venue: OrderVenue,
        reconciler: Reconciler,
        reservation: DailyReservation,
        clock: Clock,
        profile: str,
        on_event: Callable[[str, Reason], None],
        tca: TcaRecorder | None = None,
        alerts: AlertSink | None = None,
        trade_external: bool = False,
        exits: ExitManager | None = None,
        limit_timeout: LimitTimeout | None = None,
        drawdown: DrawdownBreaker | None = None,
        quarantine: Quarantine | None = None,
        arrival: ArrivalQuotes | None = None,
    ) -> None:
        self.oms = oms
        self.tca_fresh: TcaFreshness | None = None  # entries blocked on stale TCA when set
        self._drawdown = drawdown
        self.quarantine = quarantine
        self.exits = exits
        self._limit_timeout = limit_timeout
        self.arrival = arrival  # each order's quote at arrival, for TCA (analytics/arrival)
        self._venue = venue
        self._reconciler = reconciler
        self._reservation = reservation
        self._clock = clock
        self._profile = profile
        self._on_event = on_event
        self._tca = tca
        self._alerts = alerts
        # True (reconcile.external_inventory = "manage"): the sleeves trade foreign
        # inventory too; otherwise they see only what their own orders made.
        self._trade_external = trade_external
        self._positions_ladder = oms.ladder(POSITIONS)  # the account read's, every batch
        self._held: tuple[dict[str, Decimal], dict[str, Decimal]] = ({}, {})
        self._held_at: int | None = None  # the ledger's event seq ``_held`` was read at
        # The ledger's event seq at which the last ``begin_batch`` found nothing to do and
        # left nothing working (None: not known quiet). See ``quiet_equity``.
        self._quiet_at: int | None = None
        self._ledger = oms.ledger
        self._may_hold_fills_after = venue.may_hold_fills_after
        self._known_equity = venue.known_equity
        # Told (client order id, sleeve) before each submit: the allocation's outcomes.
        self.on_order: Callable[[str, str], None] | None = None
        self.tripwire: Tripwire | None = None  # refuses a throttled sleeve's new risk

    @property
    def arrival(self) -> ArrivalQuotes | None:
        return self._arrival

    @arrival.setter
    def arrival(self, arrival: ArrivalQuotes | None) -> None:
        self._arrival = arrival
        observers = (self.oms.gates, self.exits, self._limit_timeout, arrival)
        self.bar_observers = tuple(o.on_bar for o in observers if o is not None)

    def on_bar(self, bar: Bar) -> None:
        """The price gates, exits, limit timeouts and arrival quotes see an admitted bar."""
        for observe in self.bar_observers:
            observe(bar)

    def quiet_equity(self) -> Decimal | None:
        # Quiet is a property of the state, never of the mode: the journal has not moved
        # since a ``begin_batch`` that found nothing to do and left no order open (so no
        # UNKNOWN look-up, no limit timeout, no reservation to release, exits in line), the
        # venue knows it holds no fill above the cursor (a venue behind a network always
        # says it may: it is polled every batch), no provider is disabled and the venue has
        # the equity in hand.
        ledger = self._ledger
        if ledger.last_event_seq != self._quiet_at or self._may_hold_fills_after(ledger.fill_seq):
            return None
        providers = self.oms.providers
        if providers is not None and not (providers.allow(ORDERS) and providers.allow(POSITIONS)):
            return None
        equity = self._known_equity()
        if equity is not None and self._drawdown is not None:
            self._drawdown.on_equity(float(equity))
        return equity

    async def begin_batch(self, market_open: bool | None = None) -> tuple[int, Decimal | None]:
        """Fills, UNKNOWN look-ups, exits and limit timeouts, and equity; a failed read is
        recorded and skipped."""
        oms = self.oms
        self._quiet_at = None
        start = oms.ledger.last_event_seq
        fills = await oms.poll_fills()
        self._reservation.release_ended(oms.ledger)
        equity = None
        with self._positions_ladder:
            for found in await self._reconciler.resolve_unknown():
                self._on_event("RECONCILE", found)
            if self._limit_timeout is not None:
                await self._limit_timeout.cancel_expired()
            if self.exits is not None:
                await self.exits.sync(market_open)
            # The venue's equity in hand (the embedded paper venue), else its account read;
            # a disabled provider refuses either (the read raises CircuitOpenError).
            providers = oms.providers
            equity = self._venue.known_equity()
            if equity is None or (providers is not None and not providers.allow(POSITIONS)):
                equity = (await oms.read(POSITIONS, self._venue.account)).equity
        if equity is not None and self._drawdown is not None:
            self._drawdown.on_equity(float(equity))
        ledger = oms.ledger
        if (
            ledger.last_event_seq == start
            and not fills
            and not ledger.open_orders()
            and (self.exits is None or self.exits.idle())
        ):
            self._quiet_at = start
        return fills, equity

    def exit_view(self) -> tuple[Mapping[str, Any], Mapping[str, int]]:
        if self.exits is None:
            return _EMPTY, _EMPTY
        return self.exits.locks(), self.exits.protected()

    async def read(self, dependency: str, fn: Callable[[], Awaitable[T]]) -> T | None:
        return await self.oms.read_or_none(dependency, fn)

    def holdings(self) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        ledger = self.oms.ledger
        # Positions and working orders move only with journal events: on a bar where the
        # journal did not move (most bars), the last answer still holds. Read-only to callers.
        if ledger.last_event_seq == self._held_at:
            return self._held
        if self._trade_external:
            positions = {s: p.qty for s, p in ledger.positions.items() if p.qty}
        else:  # foreign inventory is not the sleeves' to trade
            positions = ledger.own_positions()
        self._held = (positions, ledger.pending_by_symbol())
        self._held_at = ledger.last_event_seq
        return self._held

    def view(
        self,
    ) -> tuple[dict[str, Decimal], dict[str, Decimal], Mapping[str, Any], Mapping[str, int]]:
        held = self._held
        if self._ledger.last_event_seq != self._held_at:  # else the last answer holds
            held = self.holdings()
        positions, pending = held
        exits = self.exits
        if exits is None:
            return positions, pending, _EMPTY, _EMPTY
        return positions, pending, exits.locks(), exits.protected()

    def last_fills(self) -> Mapping[str, Fill]:
        return self.oms.ledger.last_fills

    async def send(self, decision: Decision, market_open: bool | None) -> Sent:
        """Reserve, then send. A reversal the guard refuses still sends its closing part."""
        intent = decision.intent
        assert intent is not None
        # The drawdown breaker, then the quarantine: a blocked entry reserves nothing
        # (DESIGN.md 4: no new risk past a limit). An order with no entry only reduces and is
        # never blocked; a reversal's closing part still goes.
        q = self.quarantine
        denial = self._drawdown.block(decision.entry) if self._drawdown is not None else None
        why = "drawdown_breaker"
        if denial is None and self.tca_fresh is not None:  # tca.block_trading_if_tca_stale
            denial, why = self.tca_fresh.block(decision.entry), "tca_stale"
        if denial is not None:
            assert decision.entry is not None  # only entries are blocked
            daily = {"verdict": "skipped", "why": why, "sleeve": decision.entry.sleeve}
        else:
            adds = decision.entry is not None
            blocked = q.entry_block(decision.sleeve, intent.symbol, adds) if q is not None else None
            tw = self.tripwire if blocked is None and adds else None
            throttled = tw.throttle(decision.sleeve) if tw is not None else None
            if blocked is not None:  # a quarantined sleeve or symbol
                daily, denial = _QUARANTINED, blocked
            elif throttled is not None:  # a sleeve a tripwire THROTTLE policy fired for
                daily, denial = _THROTTLED, throttled
            else:
                daily, denial = self._reservation.reserve(decision.entry, intent)
        if denial is None:
            exits = decision.entry.exits if decision.entry is not None else None
            order = await self._submit(
                intent, decision.reducing, decision, market_open,
                None if exits is None or self.exits is None
                else {**exits.to_record(), "sleeve": decision.sleeve},
            )  # fmt: skip
            self._reservation.release_unsent(decision.entry, intent, order["outcome"])
            return Sent(_BY_SUBMIT[order["outcome"]], order, daily, order["outcome"])
        closing = self._closing_part(decision, intent)
        if closing is None:
            decision.refused(denial)
            order = {"outcome": SubmitOutcome.NOT_SENT.value, "reason": denial.to_record()}
            return Sent(Outcome.REFUSED, order, daily, SubmitOutcome.NOT_SENT.value)
        decision.close_only(closing.qty, denial)
        order = await self._submit(closing, True, decision, market_open)
        went = _BY_SUBMIT[order["outcome"]]
        return Sent(Outcome.CLOSE_ONLY if went is Outcome.SENT else went, order, daily,
                    order["outcome"])  # fmt: skip

    def _closing_part(self, decision: Decision, intent: OrderIntent) -> OrderIntent | None:
        """The part of a refused reversal that closes the position it reverses, or None.

        Daily limits cap new risk and must never trap a position the signal wants out of
        (DESIGN.md section 4): like a reversal an entry rule refuses, only the close goes.
        """
        if decision.entry is None:
            return None
        ledger = self.oms.ledger
        held = (
            ledger.position_qty(intent.symbol)
            if self._trade_external
            else ledger.own_qty(intent.symbol)
        )
        if not (held < 0 if intent.side is Side.BUY else held > 0):
            return None  # nothing on the other side: a plain entry, refused whole
        return attrs.evolve(intent, qty=min(intent.qty, abs(held)))

    async def _submit(
        self,
        intent: OrderIntent,
        reducing: bool,
        decision: Decision,
        market_open: bool | None,
        exits: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        tca = self._tca
        if tca is not None:
            tca.on_decision(
                intent,
                decision_ts_ns=self._clock.now_ns(),
                decision_price=intent.arrival_price or Decimal(0),
                sleeve=decision.sleeve,
                profile=self._profile,
                venue=self._venue.name,
            )
        if self.exits is not None:
            await self.exits.before_order(intent, market_open)
        q, breakers = self.quarantine, self.oms.breakers
        opens = breakers.opens if breakers is not None else 0
        if q is not None:
            q.on_order(intent.client_order_id, decision.sleeve)
        if self.on_order is not None:
            self.on_order(intent.client_order_id, decision.sleeve)
        report, arrival = await self._measured(intent, reducing, market_open, exits)
        if tca is not None and arrival is not None:
            tca.on_arrival(intent.client_order_id, arrival)
        # Outcomes count the orders a sleeve opened risk with: an order that only reduces has
        # no sleeve of its own when none pushes its way (the attribution would then depend on
        # which sleeves run: a replay has no inbox sleeve), and a run and its replay must agree.
        outcome = report.outcome.value  # each read of an enum's .value is a Python call
        code = report.reason.code.value if report.reason is not None else None
        if q is not None and decision.entry is not None:
            q.on_submit(
                sleeve=decision.sleeve, symbol=intent.symbol, outcome=outcome, code=code,
                breaker_opened=breakers is not None and breakers.opens > opens,
            )  # fmt: skip
        if self.tripwire is not None and decision.entry is not None:
            self.tripwire.feed.on_submit(
                sleeve=decision.sleeve, symbol=intent.symbol, outcome=outcome
            )
        if tca is not None:
            tca.on_submitted(
                intent.client_order_id,
                outcome=outcome,
                reason_code=code,
                submit_price=intent.arrival_price,
            )
        if report.outcome is SubmitOutcome.REJECTED and self._alerts is not None:
            self._alerts.note_reject(intent.symbol)
        record = report.to_record(outcome)
        if arrival is not None:
            record["arrival_quote"] = arrival.to_record()
        return record

    async def _measured(
        self,
        intent: OrderIntent,
        reducing: bool,
        market_open: bool | None,
        exits: dict[str, Any] | None,
    ) -> tuple[SubmitReport, Arrival | None]:
        """The OMS submit, and the market at the order's arrival (analytics/arrival): the
        quote is read around the submit, never before it."""
        quotes = self.arrival
        if quotes is None:
            submitted = self.oms.submit(
                intent, reducing=reducing, market_open=market_open, exits=exits
            )
            return await submitted, None
        pending = quotes.begin(intent, reducing=reducing)
        try:
            report = await self.oms.submit(
                intent, reducing=reducing, market_open=market_open, exits=exits
            )
        except asyncio.CancelledError:  # the quote read does not outlive its order
            quotes.abandon(pending)
            raise
        if report.outcome is SubmitOutcome.NOT_SENT:  # nothing arrived: nothing to wait for
            quotes.abandon(pending)
            return report, None
        return report, await quotes.end(pending)

    def end_batch(self) -> None:
        tca = self._tca
        if tca is not None and tca.tracked:  # no order in flight: no tick
            tca.tick()
        self.oms.journal.maybe_sync()


def open_desk(
    *,
    oms: OrderManager | None,
    venue: OrderVenue,
    daily: DailyRiskGuard | None,
    clock: Clock,
    profile: str,
    mode: str,
    on_event: Callable[[str, Reason], None],
    reconciler: Reconciler | None = None,
    tca: TcaRecorder | None = None,
    alerts: AlertSink | None = None,
    trade_external: bool = False,
    exits: ExitManager | None = None,
    limit_timeout: LimitTimeout | None = None,
    drawdown: DrawdownBreaker | None = None,
    quarantine: Quarantine | None = None,
) -> Desk:
    """The order side for ``oms``: shadow mode's when there is none (nothing is sent)."""
    reservation = DailyReservation(daily)
    if oms is None:
        return ShadowDesk(venue=venue, reservation=reservation, mode=mode)
    return OrderDesk(
        oms=oms,
        venue=venue,
        reconciler=reconciler or Reconciler(oms, OmsConfig()),
        reservation=reservation,
        clock=clock,
        profile=profile,
        on_event=on_event,
        tca=tca,
        alerts=alerts,
        trade_external=trade_external,
        exits=exits,
        limit_timeout=limit_timeout,
        drawdown=drawdown,
        quarantine=quarantine,
    )
