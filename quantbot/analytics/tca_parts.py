"""TCA's parts of a run, wired in one place (``daemon.wiring`` calls ``open_tca_parts``):

- the arrival quotes of each order (``analytics.arrival``), on the order desk;
- the ORDER_FILLED line of each order whose fills change, in the decision records
  (``analytics.tca_samples.fill_line``);
- ``tca.block_trading_if_tca_stale``: the staleness gate on the order desk;
- the daily execution report at each roll of ``tca.rollup_time_zone`` (runs, not replays);
- ``tca.require_tca_for_allocation``: the allocation counts each sleeve's TCA samples.

Post-trade learning reads the TCA records on its own (``governance.learning``).
"""

from __future__ import annotations

from typing import Any

from quantbot.analytics.arrival import ArrivalQuotes
from quantbot.analytics.daily_report import DailyReport
from quantbot.analytics.tca import TcaRecorder
from quantbot.analytics.tca_samples import FILLED_EVENT, TcaFreshness, fill_line


def open_tca_parts(
    config: Any,
    run: Any,
    services: Any,
    *,
    tca: TcaRecorder,
    desk: Any,
    venue: Any,
    step: Any,
    allocation: Any = None,
) -> DailyReport | None:
    """Wire the parts above; the daily report job when there is one."""
    records, settings = services.records, config.tca

    def on_record(record: dict[str, Any]) -> None:
        fields = fill_line(record)
        if fields is not None:
            records.write(step.event_record(FILLED_EVENT, None, **fields))

    tca.listeners.append(on_record)
    if allocation is not None:
        tca.listeners.append(allocation.on_tca)
    oms = getattr(desk, "oms", None)
    if oms is None:  # shadow: nothing is sent, nothing is measured
        return None
    desk.arrival = ArrivalQuotes(venue, settings, oms.quotes)
    if settings.block_trading_if_tca_stale:
        fresh = TcaFreshness(run.clock, settings.stale_after_s)
        tca.listeners.append(fresh.on_record)
        desk.tca_fresh = fresh
    if not settings.rollup_time_zone or not run.durability.sync_before_submit:
        return None  # a replay reports through its summary
    report = DailyReport(
        run.runtime_dir / "reports",
        run.clock,
        settings.rollup_time_zone,
        tca_file=tca.path,
        decisions_file=getattr(records, "path", None),
    )
    tca.listeners.append(report.on_tca)
    records.observers.append(report.on_decision_record)
    return report
