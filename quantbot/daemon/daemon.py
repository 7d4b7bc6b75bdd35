"""The daemon: composition root. Wires the stages, owns the tasks, signals and shutdown.

Startup order (DESIGN.md section 4): take the lock, replay the journal, open the venue,
reconcile, write the manifest, then trade. A crashed task halts trading with a reason code
(persisted in state/control.json) instead of dying silently; the error handler halts on
auth failures, invariant violations and bugs, and halted means no new risk.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.clock import BarClock, Clock, iso_utc
from quantbot.config.schema import LoadedConfig
from quantbot.daemon.manifest import manifest_for
from quantbot.daemon.parts import Parts
from quantbot.daemon.services import Services, open_services
from quantbot.daemon.status import StatusSnapshot, print_status_line
from quantbot.daemon.views import View
from quantbot.daemon.wiring import Layout, open_parts
from quantbot.decision.step import DecisionStep
from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar
from quantbot.fsutil import atomic_write, ensure_private_dir
from quantbot.marketdata.sources import open_stream
from quantbot.ops.control_socket import ControlServer
from quantbot.ops.errors import safe_message
from quantbot.ops.feed import RunFeed
from quantbot.ops.lock import StateLock
from quantbot.records.durability import Durability
from quantbot.records.manifest import mark_ended, write_manifest
from quantbot.risk.control import ControlStore
from quantbot.risk.golive import live_start_check

EXIT_OK = 0
EXIT_HALTED = 3
SUBMIT_DEADLINE_MARGIN_S = 1.0  # past the venue's submit deadline, before shutdown cancels


def make_run_id(clock: Clock) -> str:
    stamp = iso_utc(clock.now_ns())[:19].replace(":", "").replace("-", "")
    return f"{stamp}-{os.urandom(3).hex()}"


class Daemon:
    """The composition root: builds the services and the parts in ``start``, owns the tasks,
    signals and shutdown. It alone knows all the parts; each part is handed what it needs."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        execution_mode: str,
        clock: Clock,
        run_id: str | None = None,
        durability: Durability | None = None,
        control_socket: bool = True,
        decision_step: Callable[..., DecisionStep] = DecisionStep.from_config,
        views: Sequence[View] = (),
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.mode = execution_mode
        self.clock = clock
        self.state_dir = Path(self.config.run.state_dir)
        self.runtime_dir = Path(self.config.run.runtime_dir)
        # When writes reach the disk: a replay passes records.durability.REPLAY.
        self.durability = durability or Durability.live(self.config.records.fsync_every_steps)
        self._serve_control = control_socket
        # As DecisionStep.from_config (the replay bench passes its reference sleeve and sizer).
        self._decision_step = decision_step
        if execution_mode == "live" and not self.durability.sync_before_submit:
            raise StartupError("live mode fsyncs every INTENT before its submit; not a replay")
        if execution_mode == "live":
            self._refuse_live()
        # A replay passes an id derived from its inputs, so its records are reproducible.
        self.run_id = run_id or make_run_id(clock)
        self.lock = StateLock(self.state_dir)
        # A run with no control socket (a replay) has no operator: no `quantbot kill` reaches
        # its private state dir, so its control file is not watched between its own saves.
        self.control = ControlStore(self.state_dir / "control.json", clock, watch=control_socket)
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()  # set while no batch is between decide and record
        self._idle.set()
        self.print_status = True  # a replay prints its own result line instead
        self._background: set[asyncio.Task] = set()
        self.services: Services | None = None  # built first in ``start``
        self.parts: Parts | None = None  # built once in ``start``; frozen
        self.server: ControlServer | None = None
        self.manifest_path: Path | None = None
        # Gates measure data age and message rates in market time: the wall clock for a live
        # feed, the bars' own time for a file feed played at any pace.
        self.bar_clock = BarClock() if self.config.market.source == "csv" else None
        self.market_clock: Clock = self.bar_clock or clock
        # The operator's views (notifications, dashboard) and the feed they watch; a run
        # without views (a replay) publishes nothing.
        self.views = list(views)
        self.feed = RunFeed()
        self._run_start_equity: Decimal | None = None  # this run's pnl counts from here

    def _refuse_live(self) -> None:
        refusal = live_start_check(self.state_dir, self.clock)
        if refusal is not None:
            raise StartupError(f"live execution refused: {refusal} (see `quantbot go-live`)")
        if self.config.venue.name == "sim":
            raise StartupError(
                "live execution needs a real venue (venue.name = ccxt or alpaca); the embedded "
                "paper venue is for paper and shadow runs."
            )

    # -- startup ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take the lock, build the services and the parts (venue, order side reconciled
        with the venue, decision step, pipeline ...), serve the control socket, write the
        manifest: from then on the daemon is up."""
        ensure_private_dir(self.state_dir)
        ensure_private_dir(self.runtime_dir)
        self.lock.acquire()
        # Read first: a corrupt state/control.json stops the start before anything is written.
        _ = self.control.cached
        config, clock = self.config, self.clock
        self.services = open_services(
            config,
            clock=clock,
            runtime_dir=self.runtime_dir,
            durability=self.durability,
            control=self.control,
            run_id=self.run_id,
            mode=self.mode,
            is_stopping=self._stop.is_set,
            cancel_all=self._cancel_all_later,
        )
        self.parts = await open_parts(
            self.loaded,
            Layout(self.mode, self.run_id, clock, self.market_clock, self.bar_clock,
                   self.state_dir, self.runtime_dir, self.durability),
            self.services,
            decision_step=self._decision_step,
            report_status=self.report_status,
            status=lambda: self.snapshot().to_json(),
        )  # fmt: skip
        if self._serve_control:  # a replay has nobody to take commands from
            self.server = ControlServer(
                self.state_dir / config.control.socket_name,
                self.parts.operator.socket_handlers(),
            )
            await self.server.start()
            # The manifest tells the operator the daemon is up: from then on SIGTERM stops it.
            self._catch_stop_signals()
        embedded = self.parts.venue.embedded
        self._run_start_equity = (
            embedded.equity() if embedded is not None else self.parts.start_equity
        )
        side = self.parts.order_side
        startup = side.startup if side is not None else {}
        manifest = manifest_for(self.parts, self.loaded, started_ns=clock.now_ns(), startup=startup)
        self.manifest_path = write_manifest(self.runtime_dir, manifest)
        await self._start_views()
        self._announce()

    async def _start_views(self) -> None:
        """Each view watches the feed from here on: every record, journal event, alert and
        status report, and the run's start and stop."""
        if not self.views:
            return
        assert self.parts is not None and self.services is not None
        feed = self.feed
        self.services.records.observers.append(feed.records)
        self.services.alerts.observers.append(feed.alerts)
        if self.parts.order_side is not None:
            self.parts.order_side.journal.observers.append(feed.journal)
        for view in self.views:
            await view.start(feed, lambda: self.snapshot().to_json())
        feed.publish(
            "run",
            {
                "phase": "started",
                "run_id": self.run_id,
                "mode": self.mode,
                "profile": self.config.run.trading_profile,
                "ts": iso_utc(self.clock.now_ns()),
            },
        )

    def _cancel_all_later(self, why: Reason) -> None:
        """What an auth halt or a broker_submit escalation triggers: a cancel-all beside the
        task that saw it (nothing to cancel before the order side exists)."""
        if self.parts is not None:
            self._spawn(self.parts.operator.cancel_all(why))

    def _announce(self) -> None:
        assert self.services is not None
        blocked = self.services.halting.describe_start()
        if blocked is not None:
            logger.warning(
                "starting {}: no new risk until `quantbot resume` ({})",
                blocked["state"],
                blocked["detail"],
            )
        logger.info(
            "run {} started: mode={} profile={} manifest={}",
            self.run_id,
            self.mode,
            self.config.run.trading_profile,
            self.manifest_path,
        )

    def halt(self, why: Reason) -> None:
        """Halt trading (no new risk) with a structured reason; persisted until resume."""
        assert self.services is not None
        self.services.halting.halt(why)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- market data --------------------------------------------------------------------------
    def _stream(self, parts: Parts) -> AsyncIterator[list[Bar]]:
        market = self.config.market
        if market.source != "venue":
            embedded = parts.venue.embedded  # the paper venue: the synthetic market resumes there
            marks = embedded.marks() if embedded is not None else {}
            return open_stream(market, self.clock, marks)
        assert parts.venue_stream is not None
        return parts.venue_stream.stream()

    async def _feed_loop(self, parts: Parts) -> None:
        async for batch in self._stream(parts):
            if self._stop.is_set():
                return
            self._idle.clear()
            try:
                await parts.pipeline.on_batch(batch)
            finally:
                self._idle.set()

    def snapshot(self, *, stopped: bool = False) -> StatusSnapshot:
        assert self.parts is not None
        return StatusSnapshot.collect(
            self.parts,
            now_ns=self.clock.now_ns(),
            initial_cash=self.config.venue.sim.initial_cash,
            run_start_equity=self._run_start_equity,
            stopped=stopped,
        )

    def report_status(self, *, final: bool = False) -> None:
        """The status line and state/status.json; once the stop is asked for, only the
        ``final`` report (as the daemon closes: it says stopped) is made, so the last line
        is printed once."""
        if self._stop.is_set() and not final:
            return
        snapshot = self.snapshot(stopped=final)
        drawdown = self.parts.drawdown if self.parts is not None else None
        if drawdown is not None:  # its HWMs, once per report and at close (trips at once)
            drawdown.save()
        if self.print_status:
            self.print_status = print_status_line(snapshot)
        if self.views:
            self.feed.publish("status", snapshot.to_json())
        path = self.state_dir / "status.json"
        try:
            atomic_write(path, orjson.dumps(snapshot.to_json(), option=orjson.OPT_INDENT_2))
        except OSError as e:  # state/ is full: the journal is next, stop adding risk now
            error = f"[Errno {e.errno}] {e.strerror or e}"
            self.halt(reason(ReasonCode.DISK_WRITE_FAILED, file=str(path), error=error))

    # -- supervision --------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def _catch_stop_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)

    async def run(self, duration_s: float | None = None) -> int:
        parts = self.parts
        assert parts is not None, "daemon not started"
        operator = parts.operator
        loop = asyncio.get_running_loop()
        self._catch_stop_signals()
        watchdog = parts.services.watchdog
        watchdog.start()
        feed = asyncio.create_task(self._feed_loop(parts), name="market-data")
        others = [
            asyncio.create_task(operator.report_status_forever(), name="status"),
            asyncio.create_task(operator.watch_control(), name="control"),
            asyncio.create_task(operator.housekeeping(), name="housekeeping"),
            asyncio.create_task(parts.pipeline.watch_close(self.clock), name="session-close"),
            asyncio.create_task(self._stop.wait(), name="stop"),
            asyncio.create_task(self._timer(duration_s), name="duration"),
        ]
        if parts.intake is not None:
            others.append(asyncio.create_task(parts.intake.run_forever(), name="intent-inbox"))
        pending = {feed, *others}
        try:
            while not self._stop.is_set():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self._supervise(task)
        finally:
            watchdog.stop()
            await self._shutdown(feed, others)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return EXIT_HALTED if parts.services.halting.halted_this_run else EXIT_OK

    async def _timer(self, duration_s: float | None) -> None:
        if duration_s is None:
            await asyncio.Event().wait()
        await self.clock.sleep(duration_s)
        logger.info("duration of {}s reached, stopping", duration_s)
        self.request_stop()

    def _supervise(self, task: asyncio.Task) -> None:
        """The one place that catches what a task raised: halt with a reason, never die quietly."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            if task.get_name() == "market-data":
                logger.info("market data ended; stopping")
                self.request_stop()
            return
        if isinstance(exc, InvariantViolation | ArithmeticError):
            code = ReasonCode.HALT_INVARIANT_VIOLATION
        elif isinstance(exc, TypeError | KeyError | AttributeError):
            code = ReasonCode.HALT_PROGRAMMING_ERROR
        else:
            code = ReasonCode.HALT_TASK_CRASHED
        logger.opt(exception=exc).error("task {} crashed", task.get_name())
        error = f"{type(exc).__name__}: {safe_message(exc)}"
        assert self.services is not None
        self.services.halting.crashed(reason(code, task=task.get_name(), error=error))
        self.request_stop()

    async def _shutdown(self, feed: asyncio.Task, others: list[asyncio.Task]) -> None:
        """No new intents; let the batch in flight settle (bounded), then flush everything."""
        self._stop.set()
        grace = self._shutdown_grace_s()
        if not feed.done() and not self._idle.is_set():
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:  # a submit cut off here is journaled UNKNOWN by the OMS
                logger.warning("shutdown grace of {}s passed with a batch in flight", grace)
        for task in [feed, *others, *self._background]:
            task.cancel()
        await asyncio.gather(feed, *others, *self._background, return_exceptions=True)
        await self.close()

    def _shutdown_grace_s(self) -> float:
        """``run.shutdown_grace_s``, or the venue's own submit deadline (plus a margin) when
        longer: a submit in flight when the stop comes gets its answer, not cut off."""
        assert self.parts is not None
        grace = self.config.run.shutdown_grace_s
        deadline = self.parts.venue.capabilities.submit_deadline_s
        if self.parts.order_side is None or deadline is None:
            return grace
        return max(grace, deadline + SUBMIT_DEADLINE_MARGIN_S)

    async def close(self) -> None:
        """Flush and close everything. A write that fails here (a full disk) halts like any
        other (exit 3) and the rest still closes; the journal and the daily ledger first, so
        their failure still reaches the records."""
        parts, services = self.parts, self.services
        assert parts is not None and services is not None, "daemon not started"
        side = parts.order_side
        if side is not None:
            await side.oms.poll_fills()
        if self.server is not None:
            await self.server.close()
        self.report_status(final=True)
        if side is not None:
            side.journal.close()
        parts.daily.close()
        if parts.step.quarantine is not None:
            parts.step.quarantine.close()
        if parts.step.snapshots is not None:
            parts.step.snapshots.close()
        if parts.step.allocation is not None:
            parts.step.allocation.close()
        if parts.step.tripwire is not None:
            parts.step.tripwire.close()
        if parts.step.risk.charter is not None:
            parts.step.risk.charter.close()
        services.halting.save_unsaved()
        parts.tca.close()
        services.writer.close()
        await services.alerts.aclose()
        services.alerts.close()
        await parts.venue.close()
        await self._stop_views()
        self._mark_ended()
        self.lock.release()
        logger.info("run {} stopped", self.run_id)

    def _mark_ended(self) -> None:
        """The manifest says the run closed (``quantbot review`` tells a crash by its absence)."""
        if self.manifest_path is None:
            return
        halted = self.services.halting.halted_this_run if self.services is not None else None
        try:
            mark_ended(self.manifest_path, ended_ns=self.clock.now_ns(),
                       halted=halted.code.value if halted is not None else None)  # fmt: skip
        except (OSError, ValueError) as e:  # ValueError: orjson's decode error
            logger.error("{}: the run's end could not be stamped: {}", self.manifest_path, e)

    async def _stop_views(self) -> None:
        """The last item each view sees, then each stops (bounded: see ``daemon.views``)."""
        if not self.views:
            return
        self.feed.publish(
            "run",
            {"phase": "stopped", "run_id": self.run_id, "ts": iso_utc(self.clock.now_ns())},
        )
        for view in self.views:
            await view.stop()
