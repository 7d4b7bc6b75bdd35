"""The order manager: the only code that sends orders to a venue.

pre-trade gates → breaker → journal INTENT (fsync) → venue submit → journal the outcome.
Every submit ends ACCEPTED, REJECTED, NOT_SENT or UNKNOWN, and is never retried blind: an
UNKNOWN (a timeout or 5xx after sending) counts as working until ``Reconciler`` finds the
client order id at the venue. Reads (fills, order status, positions) go through bounded
retries and the dependency breakers. Fills are journaled before the ledger counts them, so
the ledger can always be rebuilt from the journal alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

from quantbot.clock import Clock, LiveClock
from quantbot.config.ops import RetryConfig
from quantbot.domain.errors import (
    VenueAuthError,
    VenueBrokerState,
    VenueClockSkew,
    VenueConnectFailed,
    VenueError,
    VenueRateLimited,
    VenueRejected,
)
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Fill, Order, OrderIntent, OrderStatus, Position, SubmitOutcome
from quantbot.oms.journal import EventType, Journal
from quantbot.oms.ledger import Ledger, fill_to_event
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.ops.breakers import BreakerBoard, CircuitOpenError
from quantbot.ops.errors import ErrorHandler
from quantbot.ops.providers import ProviderSwitch
from quantbot.ops.retry import retry_read
from quantbot.venues.base import OrderVenue, SubmitResult

T = TypeVar("T")

SUBMIT = "broker_submit"
ORDERS = "broker_open_orders"
POSITIONS = "broker_positions"

# What a failed venue call can raise once adapters have translated vendor errors. Anything
# else (TypeError, KeyError ...) is a bug and goes to the supervisor, which halts.
VENUE_FAILURES = (VenueError, TimeoutError, ConnectionError)
# These prove the venue did not take the order; anything else after sending might have.
_NOT_TAKEN = (VenueRateLimited, VenueAuthError, VenueClockSkew, VenueConnectFailed)
_REFUSED = (VenueRejected, VenueBrokerState)
_ANSWER_EVENT = {  # the journal event a venue's answer to a submit is
    SubmitOutcome.ACCEPTED: EventType.ACK,
    SubmitOutcome.REJECTED: EventType.REJECT,
    SubmitOutcome.NOT_SENT: EventType.NOT_SENT,
    SubmitOutcome.UNKNOWN: EventType.UNKNOWN,
}


class Ladder:
    """What a failed venue read in the trading loop comes to, for one dependency: leaving the
    ``with`` block, an open breaker (it already said why) and a venue failure (classified,
    recorded and acted on by ``classify``) are swallowed; anything else is a bug and goes on
    up. A plain context manager, not a wrapping coroutine: it costs nothing per batch."""

    __slots__ = ("_classify", "_dependency")

    def __init__(self, classify: Callable[[BaseException, str, None], Reason], dependency: str):
        self._classify = classify
        self._dependency = dependency

    def __enter__(self) -> None:
        return None

    def __exit__(self, _kind: Any, exc: BaseException | None, _tb: Any) -> bool:
        if exc is None:
            return False
        if isinstance(exc, CircuitOpenError):
            return True
        if isinstance(exc, VENUE_FAILURES):
            self._classify(exc, self._dependency, None)
            return True
        return False


@attrs.frozen
class SubmitReport:
    outcome: SubmitOutcome
    order: Order | None
    reason: Reason | None

    def to_record(self, outcome: str | None = None) -> dict[str, Any]:
        """``outcome``: ``self.outcome.value`` when the caller has already read it."""
        return {
            "outcome": self.outcome.value if outcome is None else outcome,
            "venue_order_id": self.order.venue_order_id if self.order else None,
            "reason": self.reason.to_record() if self.reason else None,
        }


def intent_event(
    intent: OrderIntent, *, reducing: bool = False, exits: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The INTENT line's fields; ``reducing`` and ``exits`` (oms/exits) only when set."""
    event: dict[str, Any] = {
        "client_order_id": intent.client_order_id,
        "decision_id": intent.decision_id,
        "symbol": intent.symbol,
        "side": intent.side._value_,  # ``.value`` is a Python call per read; same string
        "qty": str(intent.qty),
        "order_type": intent.order_type._value_,
        "limit_price": None if intent.limit_price is None else str(intent.limit_price),
        "stop_price": None if intent.stop_price is None else str(intent.stop_price),
        "bar_ts_ns": intent.bar_ts_ns,
        "arrival_price": None if intent.arrival_price is None else str(intent.arrival_price),
    }
    # Written only when set, so an entry's INTENT line is what it always was.
    if intent.trail_pct is not None:
        event["trail_pct"] = str(intent.trail_pct)
    if intent.reduce_only:
        event["reduce_only"] = True
    if intent.oco_group is not None:
        event["oco_group"] = intent.oco_group
    if intent.exit_role is not None:
        event["exit_role"] = intent.exit_role.value
    if reducing:
        event["reducing"] = True
    if exits is not None:
        event["exits"] = exits
    return event


class OrderManager:
    def __init__(
        self,
        *,
        journal: Journal,
        ledger: Ledger,
        venue: OrderVenue,
        clock: Clock | None = None,
        gates: PretradeGates | None = None,
        breakers: BreakerBoard | None = None,
        errors: ErrorHandler | None = None,
        retry: RetryConfig | None = None,
        on_journal_failure: Callable[[Reason], None] | None = None,
        on_fill: Callable[[Fill, Position, Position], None] | None = None,
        quotes: QuoteGate | None = None,
        alert: Callable[..., Any] | None = None,
        kill_engaged: Callable[[], bool] | None = None,
        on_invariant: Callable[[Reason], None] | None = None,
        providers: ProviderSwitch | None = None,
    ) -> None:
        self.journal = journal
        self.ledger = ledger
        self.venue = venue
        self.clock = clock or LiveClock()
        self.gates = gates
        self.quotes = quotes  # awaited right after the gates (pretrade_quotes)
        self.breakers = breakers
        self.errors = errors
        self.retry = retry
        self._on_journal_failure = on_journal_failure
        # Told of each new fill with the position before and after it (the daily risk guard
        # settles reservations and books realised PnL from this).
        self.on_fill = on_fill
        self.on_canceled: Callable[[str], None] | None = None  # told of each CANCELED event
        # ``alert(code, **context)``: an ALERT_* line (UNKNOWN, LOST, resurrected, external).
        self._alert = alert
        # Read fresh after every submit: an order that settles after a kill is cancelled.
        self._kill_engaged = kill_engaged or (lambda: False)
        # Why new risk is refused at the submit too (a live run's go-live watch: a disable
        # that landed between the decision and its submit), or None.
        self.blocks_new_risk: Callable[[], Reason | None] = lambda: None
        # Told of a value that must never exist (an overfill): the daemon halts on it.
        self._on_invariant = on_invariant
        self._ladders: dict[str, Ladder] = {}  # one per dependency, reused every batch
        self.providers = providers  # disabled providers refuse their calls (ops/providers)

    def record_event(self, event_type: str, *, durable: bool = False, **fields: Any) -> None:
        self.ledger.apply(self.journal.append(event_type, durable=durable, **fields))
        if event_type == EventType.CANCELED and self.on_canceled is not None:
            self.on_canceled(fields["client_order_id"])

    def alert(self, code: ReasonCode, **context: Any) -> None:
        if self._alert is not None:
            self._alert(code, **context)

    # -- submit -------------------------------------------------------------------------------
    async def submit(
        self,
        intent: OrderIntent,
        *,
        reducing: bool = False,
        market_open: bool | None = None,
        exits: dict[str, Any] | None = None,
    ) -> SubmitReport:
        """``exits``: the exit parameters an entry's fill will carry, journaled with its
        INTENT (oms/exits arms the position's plan from them, also after a restart)."""
        blocked = self._pre_submit(intent, reducing=reducing, market_open=market_open)
        if blocked is not None:
            return SubmitReport(SubmitOutcome.NOT_SENT, None, blocked)
        if self.quotes is not None:  # the venue's quote, and a MARKET order's protection price
            intent, blocked = await self.quotes.check(intent, reducing=reducing, read=self.read)
            if blocked is not None:
                return SubmitReport(SubmitOutcome.NOT_SENT, None, blocked)
        cid = intent.client_order_id
        try:
            fields = intent_event(intent, reducing=reducing, exits=exits)
            self.record_event(EventType.INTENT, durable=True, **fields)
        except OSError as e:
            # Without a durable INTENT a crash could leave an order nobody knows about.
            why = reason(ReasonCode.JOURNAL_WRITE_FAILED, error=f"{type(e).__name__}: {e}")
            if self._on_journal_failure is not None:
                self._on_journal_failure(why)
            return SubmitReport(SubmitOutcome.NOT_SENT, None, why)
        if self.gates is not None:
            self.gates.on_submitted(intent)
        try:
            result = await self.venue.submit(intent)
        except VENUE_FAILURES as exc:
            return self._submit_failed(intent, exc)
        except asyncio.CancelledError:
            # Cancelled mid-submit (a shutdown past its grace): the venue may hold the order,
            # so its INTENT ends UNKNOWN now, for reconciliation to look up; cancel goes on.
            why = reason(ReasonCode.ORDER_UNKNOWN_PENDING, client_order_id=cid, cause="cancelled")
            with contextlib.suppress(OSError):  # the journal has logged a failed write
                self.record_event(EventType.UNKNOWN, client_order_id=cid, reason=str(why))
                self.journal.sync()
            raise
        if self.breakers is not None:
            self.breakers.record_success(SUBMIT)
        report = self._submit_answered(cid, result)
        if not reducing and report.outcome is SubmitOutcome.ACCEPTED:
            await self.cancel_if_killed(cid)
        return report

    async def submit_oco(
        self, take_profit: OrderIntent, stop_loss: OrderIntent, *, market_open: bool | None = None
    ) -> tuple[SubmitReport, SubmitReport]:
        """Two exit legs as one order list at a venue that links them (``OcoVenue``): both
        pass the gates (as reducing orders) or neither goes; both INTENTs are durable before
        the one request; each leg ends in its own outcome."""
        legs = (take_profit, stop_loss)
        for leg in legs:
            blocked = self._pre_submit(leg, reducing=True, market_open=market_open)
            if blocked is not None:
                refused = SubmitReport(SubmitOutcome.NOT_SENT, None, blocked)
                return refused, refused
        refused = self._journal_legs(legs)
        if refused is not None:
            return refused, refused
        if self.gates is not None:
            for leg in legs:
                self.gates.on_submitted(leg)
        venue: Any = self.venue
        try:
            first, second = await venue.submit_oco(take_profit, stop_loss)
        except asyncio.CancelledError:
            self._legs_unknown(legs)  # as in ``submit``: the venue may hold them
            raise
        except VENUE_FAILURES as exc:
            why = self._classified(exc, SUBMIT, take_profit.symbol)
            return (
                self._submit_failed(take_profit, exc, why),
                self._submit_failed(stop_loss, exc, why),
            )
        if self.breakers is not None:
            self.breakers.record_success(SUBMIT)
        return (
            self._submit_answered(take_profit.client_order_id, first),
            self._submit_answered(stop_loss.client_order_id, second),
        )

    def _journal_legs(self, legs: tuple[OrderIntent, ...]) -> SubmitReport | None:
        """Both legs' INTENTs, the last one durable; a failed write settles what made it."""
        try:
            for index, leg in enumerate(legs):
                fields = intent_event(leg, reducing=True)
                self.record_event(EventType.INTENT, durable=index == len(legs) - 1, **fields)
        except OSError as e:
            why = reason(ReasonCode.JOURNAL_WRITE_FAILED, error=f"{type(e).__name__}: {e}")
            if self._on_journal_failure is not None:
                self._on_journal_failure(why)
            for leg in legs:  # a first INTENT that made it is settled, never left open
                if leg.client_order_id in self.ledger.orders:
                    with contextlib.suppress(OSError):
                        self.record_event(EventType.NOT_SENT, client_order_id=leg.client_order_id,
                                          reason=str(why))  # fmt: skip
            return SubmitReport(SubmitOutcome.NOT_SENT, None, why)
        return None

    def _legs_unknown(self, legs: tuple[OrderIntent, ...]) -> None:
        """Cancelled mid-request: each leg ends UNKNOWN, for reconciliation to look up."""
        for leg in legs:
            cid = leg.client_order_id
            why = reason(ReasonCode.ORDER_UNKNOWN_PENDING, client_order_id=cid, cause="cancelled")
            with contextlib.suppress(OSError):
                self.record_event(EventType.UNKNOWN, client_order_id=cid, reason=str(why))
        with contextlib.suppress(OSError):
            self.journal.sync()

    def _pre_submit(
        self, intent: OrderIntent, *, reducing: bool, market_open: bool | None
    ) -> Reason | None:
        cid = intent.client_order_id
        if cid in self.ledger.orders:
            # The same decision again (a restart re-deciding a bar): never a second copy.
            return reason(
                ReasonCode.DUPLICATE_ORDER_BLOCK,
                by="client_order_id",
                where="ledger",
                client_order_id=cid,
            )
        if not reducing and (late := self._new_risk_refusal(cid)) is not None:
            return late
        if self.gates is not None:
            blocked = self.gates.check(intent, reducing=reducing, market_open=market_open)
            if blocked is not None:
                return blocked
        return self._dependency_refusal()

    def _new_risk_refusal(self, cid: str) -> Reason | None:
        """What engaged since the decision: nothing that adds risk goes out after a kill (or
        whatever ``blocks_new_risk`` reports, such as a go-live disable)."""
        if self._kill_engaged():
            return reason(ReasonCode.KILL_SWITCH_ACTIVE, where="submit", client_order_id=cid)
        return self.blocks_new_risk()

    def _dependency_refusal(self) -> Reason | None:
        """An open submit breaker, or a disabled submit provider."""
        if self.breakers is not None and not self.breakers.allow(SUBMIT):
            return self.breaker_reason(SUBMIT)
        if self.providers is not None and not self.providers.allow(SUBMIT):
            return self.providers.blocked_reason(SUBMIT)
        return None

    def breaker_reason(self, dependency: str) -> Reason:
        if self.breakers is None:
            raise ValueError("no breakers configured")
        state = self.breakers.snapshot()[dependency]
        return reason(self.breakers.reason_code(dependency), **state)

    def _submit_answered(self, cid: str, result: SubmitResult) -> SubmitReport:
        fields: dict[str, Any] = {"client_order_id": cid}
        if result.order is not None:
            fields["venue_order_id"] = result.order.venue_order_id
        if result.reason is not None:
            fields["reason"] = str(result.reason)
        self.record_event(_ANSWER_EVENT[result.outcome], **fields)
        return SubmitReport(result.outcome, self.ledger.orders.get(cid), result.reason)

    def _submit_failed(
        self, intent: OrderIntent, exc: BaseException, why: Reason | None = None
    ) -> SubmitReport:
        """``why``: the failure already classified (the second leg of one failed request)."""
        cid = intent.client_order_id
        if why is None:
            why = self._classified(exc, SUBMIT, intent.symbol)
        if isinstance(exc, _NOT_TAKEN):
            self.record_event(EventType.NOT_SENT, client_order_id=cid, reason=str(why))
            outcome = SubmitOutcome.NOT_SENT
        elif isinstance(exc, _REFUSED):
            self.record_event(EventType.REJECT, client_order_id=cid, reason=str(why))
            outcome = SubmitOutcome.REJECTED
        else:
            # Timeout, reset, 5xx, unreadable reply: the venue may hold it. Never re-sent;
            # the reconciler looks the client id up (DESIGN.md section 4).
            why = reason(
                ReasonCode.ORDER_UNKNOWN_PENDING, client_order_id=cid, cause=why.code.value
            )
            self.record_event(EventType.UNKNOWN, client_order_id=cid, reason=str(why))
            self.alert(
                ReasonCode.ALERT_ORDER_UNKNOWN,
                client_order_id=cid,
                symbol=intent.symbol,
                cause=why.context.get("cause"),
            )
            outcome = SubmitOutcome.UNKNOWN
        self.journal.sync()
        return SubmitReport(outcome, self.ledger.orders.get(cid), why)

    def _classified(self, exc: BaseException, dependency: str, symbol: str | None) -> Reason:
        """Send a venue failure through the one error handler (records, breaker, action)."""
        if self.errors is None:
            return reason(ReasonCode.VENUE_REJECTED, error=f"{type(exc).__name__}: {exc}")
        return self.errors.handle(exc, dependency=dependency, symbol=symbol).reason()

    # -- reads --------------------------------------------------------------------------------
    async def read(self, dependency: str, fn: Callable[[], Awaitable[T]]) -> T:
        """An idempotent venue read: bounded retries and breaker feedback when configured
        (not for a venue inside this process, which has no network to fail). A disabled
        provider refuses it as an open breaker does."""
        if self.providers is not None and not self.providers.allow(dependency):
            raise CircuitOpenError(self.providers.blocked_reason(dependency), dependency)
        if self.retry is None or self.venue.capabilities.in_process:
            return await fn()
        return await retry_read(
            fn, dependency=dependency, config=self.retry, clock=self.clock, breakers=self.breakers
        )

    async def sync_fills(self, since: int | None = None) -> int:
        """Journal and apply every new venue fill (above the ledger's cursor, or ``since``);
        returns how many were new.

        The venue may return fills it returned before (its look-back for fills that became
        visible late): they are told apart by ``fill_id``, never by a time cursor. A fill
        attaches to the order that made it: one the ledger had settled as never held comes
        back to life (``RESURRECTED``, alerted); one for an order quantbot never sent is
        foreign inventory (journaled ``external``, alerted), never the sleeves'.
        """
        seq = self.ledger.fill_seq if since is None else since
        fills = await self.read(ORDERS, lambda: self.venue.fills_since(seq))
        new = 0
        for fill in fills:
            if fill.fill_id in self.ledger.fill_ids or self._in_baseline(fill):
                continue
            new += 1
            self._book_fill(fill)
        if new:
            await self.refresh_terminal_states()
        return new

    def _in_baseline(self, fill: Fill) -> bool:
        """A foreign fill from before this journal began: its result is in the baseline."""
        baseline = self.ledger.baseline_seq
        return (
            baseline is not None
            and fill.seq <= baseline
            and fill.client_order_id not in self.ledger.orders
        )

    def _book_fill(self, fill: Fill) -> None:
        ledger = self.ledger
        cid = fill.client_order_id
        order = ledger.orders.get(cid)
        before = ledger.positions.get(fill.symbol) or Position(fill.symbol)
        fields = fill_to_event(fill)
        if order is None:
            fields["external"] = True
            self.alert(
                ReasonCode.ALERT_EXTERNAL_FILL,
                client_order_id=cid,
                symbol=fill.symbol,
                side=fill.side.value,
                qty=str(fill.qty),
                price=str(fill.price),
            )
        elif order.status in (OrderStatus.NOT_SENT, OrderStatus.REJECTED):
            self.record_event(
                EventType.RESURRECTED,
                client_order_id=cid,
                venue_order_id=fill.venue_order_id,
                evidence="fill",
                was=order.status.value,
            )
            self.alert(
                ReasonCode.ALERT_ORDER_RESURRECTED,
                client_order_id=cid,
                symbol=fill.symbol,
                evidence="fill",
                was=order.status.value,
            )
        overfill = ledger.would_overfill(fill)
        # The venue executed it, so it is journaled whatever it means; an overfill is flagged
        # once (INVARIANT) and halts trading, and a restart reports it rather than crash.
        self.record_event(EventType.FILL, **fields)
        if overfill is not None:
            self.flag_invariant(cid, overfill)
        if order is None or ledger.is_external(cid):
            return  # not ours: no gate, reservation or PnL of ours moves
        if self.gates is not None:
            self.gates.on_fill(fill)
        if self.on_fill is not None:
            self.on_fill(fill, before, ledger.positions[fill.symbol])

    def flag_invariant(self, cid: str, problem: str) -> Reason:
        """An order broke an invariant (overfill): journaled once, then trading halts."""
        why = reason(ReasonCode.HALT_INVARIANT_VIOLATION, client_order_id=cid, problem=problem)
        if cid not in self.ledger.invariants_logged:
            self.record_event(EventType.INVARIANT, client_order_id=cid, problem=problem)
        if self._on_invariant is not None:
            self._on_invariant(why)
        return why

    async def poll_fills(self) -> int:
        """``sync_fills`` for the trading loop: a failed read is classified and recorded, and
        the loop goes on with what it knows (the next batch tries again)."""
        if not self.venue.may_hold_fills_after(self.ledger.fill_seq) and (
            self.providers is None or self.providers.allow(ORDERS)
        ):
            return 0  # nothing above the cursor (an answer only a venue in-process gives)
        with self.ladder(ORDERS):
            return await self.sync_fills()
        return 0

    def ladder(self, dependency: str) -> Ladder:
        """The one ladder for venue calls in the trading loop, as a ``with`` block: an open
        breaker already said why; a failure is classified, recorded and acted on by the
        error handler; either way the block ends there and the loop goes on."""
        ladder = self._ladders.get(dependency)
        if ladder is None:
            ladder = self._ladders[dependency] = Ladder(self._classified, dependency)
        return ladder

    async def or_none(self, dependency: str, fn: Callable[[], Awaitable[T]]) -> T | None:
        """``fn()`` through the ladder: its value, or None when it failed."""
        with self.ladder(dependency):
            return await fn()
        return None

    async def read_or_none(self, dependency: str, fn: Callable[[], Awaitable[T]]) -> T | None:
        """An idempotent read (retries, breaker) through the ladder of ``or_none``."""
        return await self.or_none(dependency, lambda: self.read(dependency, fn))

    async def refresh_terminal_states(self) -> None:
        """Orders the venue canceled (or expired) on its own are closed in the ledger too."""
        for order in self.ledger.open_orders():
            if order.status in (OrderStatus.UNKNOWN, OrderStatus.LOST):
                continue  # the reconciler owns those
            cid = order.client_order_id
            venue_order = await self.read(ORDERS, lambda c=cid: self.venue.order_by_client_id(c))
            if venue_order is not None and venue_order.status is OrderStatus.CANCELED:
                self.record_event(EventType.CANCELED, client_order_id=cid)

    async def cancel_if_killed(self, cid: str) -> Order | None:
        """An order of ours that adds risk and became working after the kill switch engaged
        (its submit was in flight, or a lookup found it late) is cancelled at once."""
        order = self.ledger.orders.get(cid)
        if (
            order is None
            or not order.status.is_open
            or cid in self.ledger.reducing_ids
            or self.ledger.is_external(cid)
            or not self._kill_engaged()
        ):
            return None
        after = await self.cancel_one(order)
        self.alert(
            ReasonCode.KILL_SWITCH_LATE_CANCEL,
            client_order_id=cid,
            symbol=order.symbol,
            status=after.status.value if after is not None else None,
        )
        return after

    async def cancel_one(self, order: Order) -> Order | None:
        """Ask the venue to cancel ``order`` by client id; journal what it answers. Returns
        the venue's order after the cancel, None when the venue says it holds no such order."""
        cid = order.client_order_id
        self.record_event(EventType.CANCEL_REQUESTED, client_order_id=cid)
        after = await self.venue.cancel(cid, symbol=order.symbol)
        if after is not None and after.status is OrderStatus.CANCELED:
            known = self.ledger.orders.get(cid)
            if known is not None and known.status.is_open:
                self.record_event(
                    EventType.CANCELED, client_order_id=cid, venue_order_id=after.venue_order_id
                )
        self.journal.sync()
        return after

    def record_cancel_requested(self, orders: list[Order]) -> None:
        for order in orders:
            if order.client_order_id in self.ledger.orders:
                self.record_event(EventType.CANCEL_REQUESTED, client_order_id=order.client_order_id)

    def record_canceled(self, orders: list[Order]) -> None:
        for order in orders:
            known = self.ledger.orders.get(order.client_order_id)
            if known is not None and known.status.is_open:
                # Not counted by the cancel-loop gate: that guards a strategy's cancel/replace,
                # and an operator's or a kill's cancel-all must never block a symbol.
                self.record_event(EventType.CANCELED, client_order_id=order.client_order_id)
        self.journal.sync()
