"""One market-data batch through the whole path, as plain awaits in one coroutine.

venue matching (paper) → fills journaled → decision step per bar → OMS submit → decision
record. No queues between stages (DESIGN.md section 2): a bar is fully decided, sent and
recorded before the next one is looked at, so no stage ever reads a stale position.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs

from quantbot.decision import DecisionStep, PortfolioView
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Fill, SubmitOutcome
from quantbot.marketdata.contract import ContractVerdict
from quantbot.oms.manager import OrderManager
from quantbot.records.jsonl import RotatingJsonl
from quantbot.venues.base import OrderVenue


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
    ) -> None:
        self.step = step
        self.oms = oms  # None in shadow mode: nothing is ever sent
        self.venue = venue
        self.records = records
        self._market_sink = market_sink
        self._blocked_by = blocked_by
        self._mode = execution_mode
        self.counters = Counters()
        self.equity = Decimal(0)

    async def on_batch(self, bars: list[Bar]) -> None:
        verdicts = [self.step.admit(bar) for bar in bars]
        if self._market_sink is not None:
            for bar, verdict in zip(bars, verdicts, strict=True):
                if verdict.ok:  # a bad bar must not fill an order either
                    self._market_sink(bar)
        if self.oms is not None:
            self.counters.fills += await self.oms.sync_fills()
        account = await self.venue.account()
        self.equity = account.equity
        for bar, verdict in zip(bars, verdicts, strict=True):
            await self._decide(bar, verdict)
        self.records.flush()
        if self.oms is not None:
            self.oms.journal.sync()

    def _view(self) -> PortfolioView:
        if self.oms is None:
            return PortfolioView(float(self.equity), {}, {}, self._blocked_by())
        ledger = self.oms.ledger
        positions = {s: p.qty for s, p in ledger.positions.items() if p.qty}
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
            record["order"] = await self._send(decision.intent)
        self.records.write(record)

    async def _send(self, intent: Any) -> dict[str, Any]:
        if self.oms is None:
            why = reason(ReasonCode.EXEC_SHADOW_NOT_SENT, execution_mode=self._mode)
            return {"outcome": SubmitOutcome.NOT_SENT.value, "reason": why.to_record()}
        report = await self.oms.submit(intent)
        if report.outcome is SubmitOutcome.ACCEPTED:
            self.counters.orders_accepted += 1
        elif report.outcome is SubmitOutcome.REJECTED:
            self.counters.orders_rejected += 1
        return report.to_record()
