"""One market-data batch through the whole path, as plain awaits in one coroutine.

data contract → venue matching (paper) → the order side's fills, unknown orders and equity →
decision step per bar → the order side (daily reservation, pre-trade gates, OMS submit) →
the step told the outcome → decision record. No queues between stages (DESIGN.md section
2): a bar is fully decided, sent and recorded before the next one is looked at, so no stage
ever reads a stale position. Shadow mode is only another order side (``oms.desk``): this
module has one path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import attrs
from loguru import logger

from quantbot.clock import BarClock, Clock
from quantbot.decision.step import Decision, DecisionStep, Outcome, PortfolioView
from quantbot.domain.reasons import Reason
from quantbot.domain.values import Bar, Fill, SubmitOutcome
from quantbot.marketdata.contract import ContractVerdict
from quantbot.oms.desk import Desk
from quantbot.oms.running_compaction import RunningCompaction
from quantbot.ops.alerts import AlertSink
from quantbot.ops.breakers import BreakerBoard
from quantbot.records.jsonl import RotatingJsonl
from quantbot.signals.warmup import describe as describe_warmup
from quantbot.venues.base import OrderVenue

MARKET_CLOCK = "calendar_market_clock"


@attrs.define
class Counters:
    bars: int = 0
    rejected_bars: int = 0
    decisions: int = 0
    intents: int = 0
    orders_accepted: int = 0
    orders_rejected: int = 0
    orders_shadow: int = 0  # decided in shadow mode: recorded as if sent, never sent
    fills: int = 0


class Pipeline:
    def __init__(
        self,
        *,
        step: DecisionStep,
        desk: Desk,
        venue: OrderVenue,
        records: RotatingJsonl,
        market_sink: Callable[[Bar], list[Fill]] | None,
        blocked_by: Callable[[], Reason | None],
        alerts: AlertSink | None = None,
        breakers: BreakerBoard | None = None,
        canary_symbols: tuple[str, ...] = (),
        bar_clock: BarClock | None = None,
        on_session_close: Callable[[], Awaitable[None]] | None = None,
        disable_symbol: Callable[[str, Reason], None] | None = None,
    ) -> None:
        self.step = step
        self.desk = desk
        self._last_fills = desk.last_fills()  # the ledger's own mapping, kept up to date
        self.venue = venue
        self.records = records
        self._market_sink = market_sink
        self._blocked_by = blocked_by
        self._alerts = alerts
        self._breakers = breakers
        self._canary = (
            {"code": "CANARY_MODE_ACTIVE", "symbols": list(canary_symbols)}
            if canary_symbols
            else None
        )
        self._bar_clock = bar_clock  # market time for gates when bars come from a file
        self._sessions = bool(getattr(venue.capabilities, "has_sessions", False))
        self._on_session_close = on_session_close
        # The data contract's halt_symbol jump policy: the symbol is disabled until resumed.
        self._disable_symbol = disable_symbol
        self.market_open: bool | None = None  # None: the venue has no sessions
        self._next_close_ns: int | None = None  # the close the venue's clock last named
        self._session_lock = asyncio.Lock()  # a batch and the close watch read it in turn
        self.counters = Counters()
        self.equity = Decimal(0)
        self.batch_equity: Decimal | None = None  # the equity the last batch read (None: none)
        # Warm-up said in the log on live feeds (a replay's progress line says enough): None
        # before the first batch, then whether the last batch left every sleeve warm.
        self._was_warm: bool | None = None if bar_clock is None else True
        self._warmup = step.warmup  # its ``cold``, read per batch without a property call
        # Journal, daily ledger and paper book compacted at the day roll (None in a replay).
        self.compaction: RunningCompaction | None = None

    async def on_batch(self, bars: list[Bar]) -> None:
        if self._was_warm is None and bars:
            self._say_warmup(bars[0].interval_s)
        verdicts = self._admit(bars)
        desk = self.desk
        # Session, fills, unknown orders and equity, before any bar of the batch decides.
        if self._sessions:
            await self._check_session()
        equity = desk.quiet_equity()  # nothing but equity to begin with: no coroutine
        if equity is None:
            fills, equity = await desk.begin_batch(self.market_open)
            self.counters.fills += fills
        self.batch_equity = equity
        if equity is not None:
            self.equity = equity
        for bar, verdict in zip(bars, verdicts, strict=True):
            decision = self._decide(bar, verdict)  # a plain call: no coroutine for a bar
            if decision is not None:  # an intent: the order side's turn, then its record
                await self._send(decision)
        self.records.flush()
        desk.end_batch()
        if self.compaction is not None:
            self.compaction.maybe()  # between batches: nothing of this task is in flight
        if self._was_warm is not None and self._was_warm == self._warmup.cold:  # != warm
            self._say_warmup(bars[0].interval_s)

    def _admit(self, bars: list[Bar]) -> list[ContractVerdict]:
        """The data contract on each bar; an admitted bar moves the paper venue's matching,
        the market-time clock and the order side's price gates."""
        verdicts = list(map(self.step.admit, bars))
        desk = self.desk
        for bar, verdict in zip(bars, verdicts, strict=True):
            if not verdict.ok:
                if verdict.disable_symbol and self._disable_symbol is not None:
                    assert verdict.reason is not None
                    self._disable_symbol(bar.symbol, verdict.reason)
                continue  # a bad bar must not fill an order, nor look fresh to the gates
            if self._market_sink is not None:
                self._market_sink(bar)
            close_ns = bar.ts_ns + int(bar.interval_s * 1e9)
            if self._bar_clock is not None:
                self._bar_clock.advance_to(close_ns)
            for observe in desk.bar_observers:  # desk.on_bar's, called here: a frame less
                observe(bar)
            if self._alerts is not None and self._bar_clock is None:  # live feeds only
                self._alerts.note_bar(bar.symbol, close_ns)
        return verdicts

    def _say_warmup(self, bar_s: float) -> None:
        """One INFO line when sleeves start warming up (at the first bar, or again after a
        symbol's sleeves restart) and one when all are warm."""
        self._was_warm = warm = self.step.warm
        if warm:
            logger.info("sleeves warm: every sleeve is ready for every symbol")
        else:
            logger.info("sleeves warming up: {}", describe_warmup(self.step.warming_up(), bar_s))

    async def _check_session(self) -> None:
        async with self._session_lock:
            was_open = self.market_open
            clock = await self.desk.read(MARKET_CLOCK, self.venue.market_clock)
            if clock is None:
                self.market_open = False  # the session state cannot be read: fail closed
                return
            self.market_open = clock.is_open
            self._next_close_ns = clock.next_close_ns
            if was_open and not clock.is_open and self._on_session_close is not None:
                await self._on_session_close()

    async def watch_close(self, clock: Clock, poll_s: float = 60.0) -> None:
        """A live session's close comes whether bars do or not (Alpaca sends none after
        it): once past the close the venue's clock last named, read the session again, which
        runs the close's clean-up. Checked every ``poll_s`` at most; nothing to do in a
        replay (its bars carry the time) or on a venue without sessions."""
        if not self._sessions or self._bar_clock is not None:
            return
        while True:
            close, now = self._next_close_ns, clock.now_ns()
            wait_s = poll_s
            if self.market_open and close is not None and now >= close:
                await self._check_session()
            elif close is not None and close > now:
                wait_s = (close - now) / 1e9
            await clock.sleep(min(poll_s, max(1.0, wait_s)))

    def event(self, event: str, why: Reason) -> None:
        """A non-decision line in the records (a reconciliation finding ...)."""
        self.records.write(self.step.event_record(event, why))

    def _decide(self, bar: Bar, verdict: ContractVerdict) -> Decision | None:
        """Decide ``bar``; its record is written here, unless the decision has an intent
        (returned: ``_send`` sends it, then writes the record)."""
        counters = self.counters
        counters.bars += 1
        positions, pending, locks, protected = self.desk.view()
        view = PortfolioView(
            float(self.equity),
            positions,
            pending,
            self._blocked_by(),
            self._last_fills,
            locks,
            protected,
        )
        decision = self.step.step(bar, view, verdict)
        counters.decisions += 1
        if not verdict.ok:
            counters.rejected_bars += 1
        if decision.intent is not None:
            counters.intents += 1
            return decision
        self._write(decision.record)
        return None

    async def _send(self, decision: Decision) -> None:
        """The order side's answer to ``decision``'s intent, the step told it, the record."""
        counters = self.counters
        sent = await self.desk.send(decision, self.market_open)
        self.step.settle(decision, sent.outcome)
        decision.add_outcome(order=sent.order, daily_risk=sent.daily)
        if sent.outcome is Outcome.SHADOW:
            counters.orders_shadow += 1
        elif sent.submit == SubmitOutcome.ACCEPTED.value:
            counters.orders_accepted += 1
        elif sent.submit == SubmitOutcome.REJECTED.value:
            counters.orders_rejected += 1
        self._write(decision.record)

    def _write(self, record: dict[str, Any]) -> None:
        """The decision record, with the order side's keys after the step's."""
        breakers = self._breakers
        if breakers is not None:  # none ever opened (most runs): all closed, no look
            record["breakers_open"] = breakers.not_closed() if breakers.opens else []
        if self._canary is not None:
            record["canary_mode"] = dict(self._canary)
        self.records.write(record)
