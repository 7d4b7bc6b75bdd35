"""How a run's tripwire is built and told the run's events: the order desk asks it before a
sleeve's new risk and tells it each order and each entry's outcome, fills reach its KPI feed
with the quarantine's, TCA records (after post-trade learning's) give fill rates and the
implementation shortfall, the decision step rolls it, and the sleeves that report metrics
(``signals.base``: an optional ``kpis()``) are read at each roll."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from quantbot.analytics.tca import TcaRecorder
from quantbot.config.risk import parse_hhmm
from quantbot.config.schema import Config
from quantbot.decision.step import DecisionStep
from quantbot.governance.tripwire import Tripwire
from quantbot.oms.desk import Desk, OrderDesk


def open_tripwire(config: Config, run: Any, services: Any) -> Tripwire:
    """``run``: the wiring's Layout; ``services``: the daemon's Services."""
    roll = parse_hhmm(config.daily_risk.roll_time_utc)
    assert roll is not None  # checked when the config was loaded
    control = services.halting.control
    tripwire = Tripwire(
        config.tripwire,
        run.state_dir,
        clock=run.clock,
        roll_minute=roll,
        write_event=services.writer.write_event,
        alert=services.alerts.emit,
        kill=control.kill,
        durable=run.durability.sync_before_submit,
    )
    tripwire.on_write_failure = services.halting.halt
    return tripwire


def bind_tripwire(
    tripwire: Tripwire | None, step: DecisionStep, desk: Desk, tca: TcaRecorder
) -> None:
    if tripwire is None:
        return
    step.tripwire = tripwire
    tripwire.sleeve_kpis = lambda: _sleeve_kpis(step)
    if isinstance(desk, OrderDesk):
        desk.tripwire = tripwire
        before = desk.on_order
        feed = tripwire.feed

        def on_order(client_order_id: str, sleeve: str) -> None:
            if before is not None:
                before(client_order_id, sleeve)
            feed.on_order(client_order_id, sleeve)

        desk.on_order = on_order
    learning = tca.on_record

    def on_record(record: dict[str, Any]) -> None:
        if learning is not None:
            learning(record)
        tripwire.feed.on_tca(record)

    tca.on_record = on_record


def _sleeve_kpis(step: DecisionStep) -> Iterator[tuple[str, str, float]]:
    for sleeve in step.sleeves:
        kpis = getattr(sleeve, "kpis", None)
        if kpis is None:
            continue
        for name, value in sorted(kpis().items()):
            yield sleeve.name, str(name), value
