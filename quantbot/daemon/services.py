"""What every part of a run is handed before any venue or order exists: the decision-records
writer, the alert sink, the dependency breakers (and what their opening does), the error
handler, the event-loop watchdog, and the halting that all of them report to. Built once by
``open_services``; the daemon holds them, each part gets the ones it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from quantbot.clock import Clock, iso_utc
from quantbot.config.schema import Config
from quantbot.daemon.halting import Halting
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import refuse_symlink
from quantbot.oms.manager import ORDERS, POSITIONS, SUBMIT
from quantbot.ops.alerts import AlertSink, webhook_from_config
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.errors import ErrorHandler
from quantbot.ops.providers import ProviderSwitch
from quantbot.ops.watchdog import Watchdog
from quantbot.records.durability import Durability
from quantbot.records.jsonl import RotatingJsonl
from quantbot.records.snapshots import FILE as SNAPSHOTS
from quantbot.risk.control import ControlStore

# A level-2 (long window) escalation of these breakers halts: the order path cannot work
# through a storm that long. Data breakers do not: stale-data gates already block, and trading
# resumes by itself when data returns.
HALT_ON_ESCALATION = frozenset({SUBMIT, ORDERS, POSITIONS})


class EventWriter:
    """Event lines (reconciliation, halts, breakers ...) in the decision records, each with
    the run's envelope, flushed at once so `tail -f` shows them."""

    def __init__(self, records: RotatingJsonl, clock: Clock, run_id: str, mode: str) -> None:
        self.records = records
        self._clock = clock
        self._run_id = run_id
        self._mode = mode
        self._closed = False

    def close(self) -> None:
        """Close the records; a failure doing so (a full disk) halts like any other, and
        nothing is written to them after (the halt's own record included)."""
        self._closed = True
        self.records.close()

    def write_record(self, record: dict[str, Any]) -> None:
        if self._closed:
            return
        self.records.write(
            {
                "ts": iso_utc(self._clock.now_ns()),
                "run_id": self._run_id,
                "execution_mode": self._mode,
                **record,
            }
        )
        self.records.flush()

    def write_event(self, event: str, why: Reason, **extra: Any) -> None:
        self.write_record({"event": event, "reason": why.to_record(), **extra})


@attrs.frozen
class Services:
    writer: EventWriter
    halting: Halting
    alerts: AlertSink
    breakers: BreakerBoard
    errors: ErrorHandler
    watchdog: Watchdog
    providers: ProviderSwitch

    @property
    def records(self) -> RotatingJsonl:
        return self.writer.records


def open_services(
    config: Config,
    *,
    clock: Clock,
    runtime_dir: Path,
    durability: Durability,
    control: ControlStore,
    run_id: str,
    mode: str,
    is_stopping: Callable[[], bool],
    cancel_all: Callable[[Reason], None],
) -> Services:
    """``cancel_all`` is what an auth halt or a ``broker_submit`` escalation triggers (it runs
    once the order side exists; before, there is nothing to cancel)."""
    records = RotatingJsonl(
        runtime_dir / config.records.decisions_file,
        clock,
        fsync_every=durability.fsync_every_steps,
        rotate=config.records.rotate_daily,
        flush_every=durability.flush_every_steps,
        retention_days=config.records.retention_days,
        compress_rotated=config.records.compress_rotated,
    )
    refuse_symlink(runtime_dir / SNAPSHOTS)  # before anything is written (records.snapshots)
    writer = EventWriter(records, clock, run_id, mode)
    halting = Halting(control, write_event=writer.write_event, is_stopping=is_stopping)
    records.on_write_failure = halting.halt  # DISK_WRITE_FAILED: a full disk halts
    alerts = AlertSink(
        path=runtime_dir / "alerts.jsonl",
        clock=clock,
        config=config.alerts,
        on_halt=halting.halt,
        webhook=webhook_from_config(config.alerts),
    )
    if config.market.source != "csv":  # staleness means something for live feeds
        alerts.watch(config.market.symbols)
    halting.alerts = alerts
    halting.on_auth_halt = cancel_all
    watchdog = Watchdog(
        clock=clock,
        config=config.watchdog,
        alerts=alerts,
        on_stall=halting.halt,
        record=writer.write_event,
    )
    halting.before_decision = watchdog.apply_pending
    on_open = _breaker_reaction(config, writer, halting, alerts, cancel_all)
    breakers = BreakerBoard(config.breakers, clock, on_open=on_open)
    # DISABLE_PROVIDER: the provider is refused for providers.disable_s (ops/providers).
    providers = ProviderSwitch(
        config.providers, clock, write_event=writer.write_event, alert=alerts.emit
    )
    errors = ErrorHandler(
        on_halt=halting.halt,
        on_skip_symbol=_skip_symbol,
        on_disable_provider=providers.disable,
        record=writer.write_record,
        breakers=breakers,
    )
    return Services(writer, halting, alerts, breakers, errors, watchdog, providers)


def _breaker_reaction(
    config: Config,
    writer: EventWriter,
    halting: Halting,
    alerts: AlertSink,
    cancel_all: Callable[[Reason], None],
) -> Callable[[str, dict[str, Any]], None]:
    def opened(dependency: str, snapshot: dict[str, Any]) -> None:
        code = getattr(ReasonCode, f"CIRCUIT_OPEN_{dependency}")
        writer.write_event("BREAKER_OPEN", reason(code, **snapshot))
        alerts.breaker_opened(dependency, snapshot)
        if snapshot.get("level") != 2:
            return
        if dependency in HALT_ON_ESCALATION:  # a storm this long is not ridden out
            keys = ("level", "failures_in_long_window", "reopens_in_s", "last_failure")
            context = {k: snapshot.get(k) for k in keys}
            halting.halt(
                reason(ReasonCode.HALT_BREAKER_ESCALATED, dependency=dependency, **context)
            )
        if dependency == SUBMIT and config.control.cancel_all_on_submit_escalation:
            cancel_all(reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="broker_submit_escalation"))

    return opened


def _skip_symbol(symbol: str, why: Reason) -> None:
    logger.warning("skipping {} this step: {}", symbol, why)
