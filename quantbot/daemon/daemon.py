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
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.analytics.tca import TcaRecorder
from quantbot.clock import BarClock, Clock, iso_utc
from quantbot.config.schema import LoadedConfig
from quantbot.daemon.intake import IntentIntake, open_intake
from quantbot.daemon.manifest import manifest_for
from quantbot.daemon.operator import ControlLoop
from quantbot.daemon.order_side import open_oms
from quantbot.daemon.pipeline import Pipeline
from quantbot.daemon.status import StatusSnapshot, print_status_line
from quantbot.daemon.venue_side import connect_venue, open_daily, open_venue_stream
from quantbot.decision.step import DecisionStep
from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Fill, Position
from quantbot.fsutil import atomic_write, ensure_private_dir
from quantbot.marketdata.sources import open_stream
from quantbot.marketdata.venue_stream import VenueStream
from quantbot.oms.desk import Desk, open_desk
from quantbot.oms.journal import Journal
from quantbot.oms.manager import ORDERS, POSITIONS, SUBMIT, OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.reconcile import Reconciler
from quantbot.oms.reservation import fill_listener
from quantbot.ops.alerts import AlertSink, webhook_from_config
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.control_socket import ControlServer
from quantbot.ops.errors import ErrorHandler, safe_message
from quantbot.ops.lock import StateLock
from quantbot.ops.watchdog import Watchdog
from quantbot.records.durability import Durability
from quantbot.records.jsonl import RotatingJsonl
from quantbot.records.manifest import write_manifest
from quantbot.risk.control import ControlStore
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.golive import live_start_check
from quantbot.venues.factory import make_venue

EXIT_OK = 0
EXIT_HALTED = 3
# A level-2 (long window) escalation of these breakers halts: the order path cannot work
# through a storm that long. Data breakers do not: stale-data gates already block, and trading
# resumes by itself when data returns.
HALT_ON_ESCALATION = frozenset({SUBMIT, ORDERS, POSITIONS})
SUBMIT_DEADLINE_MARGIN_S = 1.0  # past the venue's submit deadline, before shutdown cancels


def make_run_id(clock: Clock) -> str:
    stamp = iso_utc(clock.now_ns())[:19].replace(":", "").replace("-", "")
    return f"{stamp}-{os.urandom(3).hex()}"


class Daemon:
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
        self._halted_this_run: Reason | None = None
        self._unsaved_halt: Reason | None = None  # halted, but control.json could not be written
        self.print_status = True  # a replay prints its own result line instead
        self._background: set[asyncio.Task] = set()
        self.journal: Journal | None = None
        self.venue: Any = None
        self.oms: OrderManager | None = None
        self.reconciler: Reconciler | None = None
        self.gates: PretradeGates | None = None
        self.alerts: AlertSink | None = None
        self.breakers: BreakerBoard | None = None
        self.errors: ErrorHandler | None = None
        self.watchdog: Watchdog | None = None  # a thread beside the loop, while `run` runs
        self.records: RotatingJsonl | None = None
        self.pipeline: Pipeline | None = None
        self.daily: DailyRiskGuard | None = None
        self.tca: TcaRecorder | None = None
        self.start_equity: Decimal | None = None  # a real venue's equity at start-up
        self.intake: IntentIntake | None = None
        self.venue_stream: VenueStream | None = None
        self.server: ControlServer | None = None
        self.loop_tasks = ControlLoop(self)
        self.manifest_path: Path | None = None
        # Gates measure data age and message rates in market time: the wall clock for a live
        # feed, the bars' own time for a file feed played at any pace.
        self.bar_clock = BarClock() if self.config.market.source == "csv" else None
        self.market_clock: Clock = self.bar_clock or clock

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
        ensure_private_dir(self.state_dir)
        ensure_private_dir(self.runtime_dir)
        self.lock.acquire()
        config = self.config
        self.records = RotatingJsonl(
            self.runtime_dir / config.records.decisions_file,
            self.clock,
            fsync_every=self.durability.fsync_every_steps,
            rotate=config.records.rotate_daily,
            flush_every=self.durability.flush_every_steps,
        )
        self.records.on_write_failure = self.halt  # DISK_WRITE_FAILED: a full disk halts
        self.alerts = AlertSink(
            path=self.runtime_dir / "alerts.jsonl",
            clock=self.clock,
            config=config.alerts,
            on_halt=self.halt,
            webhook=webhook_from_config(config.alerts),
        )
        if config.market.source != "csv":  # staleness means something for live feeds
            self.alerts.watch(config.market.symbols)
        self.watchdog = Watchdog(
            clock=self.clock,
            config=config.watchdog,
            alerts=self.alerts,
            on_stall=self.halt,
            record=self.write_event,
        )
        self.breakers = BreakerBoard(config.breakers, self.clock, on_open=self._breaker_opened)
        self.errors = ErrorHandler(
            on_halt=self.halt,
            on_skip_symbol=self._skip_symbol,
            on_disable_provider=self._disable_provider,
            record=self.write_record,
            breakers=self.breakers,
        )
        self.venue = make_venue(
            config,
            mode=self.mode,
            clock=self.clock,
            state_dir=self.state_dir,
            sync_each_change=self.durability.sync_before_submit,
        )
        instruments = await connect_venue(self)
        startup: dict[str, Any] = {}
        self.daily = open_daily(self)
        self.daily.on_write_failure = self.halt
        self.tca = TcaRecorder(
            self.runtime_dir / config.tca.file,
            self.clock,
            config.tca,
            rotate=config.records.rotate_daily,
            durability=self.durability,
        )
        self.tca.on_write_failure = self.halt
        self._book_fill = fill_listener(self.daily)
        if self.mode in ("paper", "live"):
            await open_oms(self, startup)
        step = self._decision_step(
            config,
            self.clock,
            instruments,
            {
                "run_id": self.run_id,
                "execution_mode": self.mode,
                "profile": config.run.trading_profile,
                "config_hash": self.loaded.hash,
            },
            check_staleness=config.market.source != "csv",
        )
        embedded = self.venue.embedded  # the paper venue matches each bar before the step
        self.pipeline = Pipeline(
            step=step,
            desk=self._desk(step),
            venue=self.venue,
            records=self.records,
            market_sink=embedded.on_bar if embedded is not None else None,
            blocked_by=self._blocked_by,
            alerts=self.alerts,
            breakers=self.breakers,
            canary_symbols=tuple(config.pretrade.canary_symbols),
            bar_clock=self.bar_clock,
            on_session_close=self.loop_tasks.session_close,
        )
        self.intake = open_intake(self, step, self.records)
        self.venue_stream = open_venue_stream(self)
        if self._serve_control:  # a replay has nobody to take commands from
            self.server = ControlServer(
                self.state_dir / config.control.socket_name,
                self.loop_tasks.socket_handlers(),
            )
            await self.server.start()
            # The manifest tells the operator the daemon is up: from then on SIGTERM stops it.
            self._catch_stop_signals()
        self.manifest_path = write_manifest(self.runtime_dir, manifest_for(self, startup))
        self._announce()

    def _desk(self, step: DecisionStep) -> Desk:
        """The order side the pipeline talks to: the OMS's, or shadow mode's (sends nothing)."""
        records = self.records
        return open_desk(
            oms=self.oms,
            venue=self.venue,
            daily=self.daily,
            clock=self.clock,
            profile=self.config.run.trading_profile,
            mode=self.mode,
            on_event=lambda event, why: records.write(step.event_record(event, why)),
            reconciler=self.reconciler,
            tca=self.tca,
            alerts=self.alerts,
            trade_external=self.config.reconcile.external_inventory == "manage",
        )

    def on_fill(self, fill: Fill, before: Position, after: Position) -> None:
        """Each new fill: the daily guard settles and books PnL, TCA completes the order."""
        self._book_fill(fill, before, after)
        self.tca.on_fill(fill)

    def _announce(self) -> None:
        blocked = self.control.cached
        if blocked.blocks_new_risk:
            logger.warning(
                "starting {}: no new risk until `quantbot resume` ({})",
                blocked.describe(),
                blocked.halt_detail or blocked.kill_reason or blocked.reduce_only_reason,
            )
        logger.info(
            "run {} started: mode={} profile={} manifest={}",
            self.run_id,
            self.mode,
            self.config.run.trading_profile,
            self.manifest_path,
        )

    # -- what the stages call back into ---------------------------------------------------------
    def write_record(self, record: dict[str, Any]) -> None:
        if self.records is None:
            return
        self.records.write(
            {
                "ts": iso_utc(self.clock.now_ns()),
                "run_id": self.run_id,
                "execution_mode": self.mode,
                **record,
            }
        )
        self.records.flush()

    def write_event(self, event: str, why: Reason, **extra: Any) -> None:
        self.write_record({"event": event, "reason": why.to_record(), **extra})

    def halt(self, why: Reason) -> None:
        """Halt trading (no new risk) with a structured reason; persisted until resume.

        A halt that cannot be saved (a full disk) still holds in this process, and saving it
        is tried again every control poll and at close (``save_unsaved_halt``)."""
        if self._unsaved_halt is not None:
            return  # halted already (a failing write reports again and again)
        first = self.control.cached.halt_code is None
        try:
            self.control.halt(why.code.value, str(why))
        except OSError as e:
            self._unsaved_halt = why
            logger.error(
                "{} could not be written ({}): the halt holds in this process only; free "
                "space, or run `quantbot kill` before starting again",
                self.control.path,
                e,
            )
        if not first:
            return
        self._halted_this_run = why
        logger.error("trading halted: {}", why)
        self.write_event("HALT", why)
        if self.alerts is not None:
            self.alerts.halt_trading(why)
        if why.code is ReasonCode.AUTH_HALT:  # try to leave nothing working behind
            self._spawn(
                self.loop_tasks.cancel_all(
                    reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="auth_halt")
                )
            )

    def save_unsaved_halt(self) -> None:
        why = self._unsaved_halt
        if why is None:
            return
        try:
            self.control.halt(why.code.value, str(why))
        except OSError:
            return  # still full: the next poll tries again
        self._unsaved_halt = None
        logger.warning("halt {} saved to {} at last", why.code.value, self.control.path)

    def _skip_symbol(self, symbol: str, why: Reason) -> None:
        logger.warning("skipping {} this step: {}", symbol, why)

    def _disable_provider(self, provider: str, why: Reason) -> None:
        logger.error("provider {} failing: {}", provider, why)

    def disable_symbol(self, symbol: str, why: Reason) -> None:
        self.control.disable_symbol(symbol)
        self.write_event("SYMBOL_DISABLED", why, symbol=symbol)

    def _breaker_opened(self, dependency: str, snapshot: dict[str, Any]) -> None:
        code = getattr(ReasonCode, f"CIRCUIT_OPEN_{dependency}")
        self.write_event("BREAKER_OPEN", reason(code, **snapshot))
        if self.alerts is not None:
            self.alerts.breaker_opened(dependency, snapshot)
        if snapshot.get("level") != 2:
            return
        if dependency in HALT_ON_ESCALATION:  # a storm this long is not ridden out
            keys = ("level", "failures_in_long_window", "reopens_in_s", "last_failure")
            context = {k: snapshot.get(k) for k in keys}
            self.halt(reason(ReasonCode.HALT_BREAKER_ESCALATED, dependency=dependency, **context))
        if dependency == SUBMIT and self.config.control.cancel_all_on_submit_escalation:
            self._spawn(
                self.loop_tasks.cancel_all(
                    reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="broker_submit_escalation")
                )
            )

    def _blocked_by(self) -> Reason | None:
        self.watchdog.apply_pending()  # a stall the watchdog saw halts before any decision
        state = self.control.cached
        if self._stop.is_set():
            return reason(ReasonCode.SHUTDOWN_IN_PROGRESS)
        if state.kill_switch:
            return reason(ReasonCode.KILL_SWITCH_ACTIVE, reason=state.kill_reason)
        if state.halt_code:
            return reason(ReasonCode.HALT_ACTIVE, halt_code=state.halt_code)
        if self._unsaved_halt is not None:
            return reason(ReasonCode.HALT_ACTIVE, halt_code=self._unsaved_halt.code.value)
        if state.reduce_only:
            return reason(ReasonCode.REDUCE_ONLY_ACTIVE, reason=state.reduce_only_reason)
        return None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- market data --------------------------------------------------------------------------
    def _stream(self) -> AsyncIterator[list[Bar]]:
        market = self.config.market
        if market.source != "venue":
            embedded = self.venue.embedded  # the paper venue: the synthetic market resumes there
            marks = embedded.marks() if embedded is not None else {}
            return open_stream(market, self.clock, marks)
        return self.venue_stream.stream()

    async def _feed_loop(self) -> None:
        async for batch in self._stream():
            if self._stop.is_set():
                return
            self._idle.clear()
            try:
                await self.pipeline.on_batch(batch)
            finally:
                self._idle.set()

    def report_status(self) -> None:
        snapshot = StatusSnapshot.collect(self)
        if self.print_status:
            self.print_status = print_status_line(snapshot)
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
        loop = asyncio.get_running_loop()
        self._catch_stop_signals()
        self.watchdog.start()
        feed = asyncio.create_task(self._feed_loop(), name="market-data")
        others = [
            asyncio.create_task(self.loop_tasks.report_status_forever(), name="status"),
            asyncio.create_task(self.loop_tasks.watch_control(), name="control"),
            asyncio.create_task(self.loop_tasks.housekeeping(), name="housekeeping"),
            asyncio.create_task(self._stop.wait(), name="stop"),
            asyncio.create_task(self._timer(duration_s), name="duration"),
        ]
        if self.intake is not None:
            others.append(asyncio.create_task(self.intake.run_forever(), name="intent-inbox"))
        pending = {feed, *others}
        try:
            while not self._stop.is_set():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self._supervise(task)
        finally:
            self.watchdog.stop()
            await self._shutdown(feed, others)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return EXIT_HALTED if self._halted_this_run else EXIT_OK

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
        self.halt(reason(code, task=task.get_name(), error=error))
        self._halted_this_run = self._halted_this_run or reason(code)
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
        grace = self.config.run.shutdown_grace_s
        deadline = self.venue.capabilities.submit_deadline_s
        if self.oms is None or deadline is None:
            return grace
        return max(grace, deadline + SUBMIT_DEADLINE_MARGIN_S)

    async def close(self) -> None:
        """Flush and close everything. A write that fails here (a full disk) halts like any
        other (exit 3) and the rest still closes; the journal and the daily ledger first, so
        their failure still reaches the records."""
        if self.oms is not None:
            await self.oms.poll_fills()
        if self.server is not None:
            await self.server.close()
        if self.pipeline is not None:
            self.report_status()
        if self.journal is not None:
            self.journal.close()
        if self.daily is not None:
            self.daily.close()
        self.save_unsaved_halt()
        if self.tca is not None:
            self.tca.close()
        records, self.records = self.records, None  # a failure closing it is not written to it
        if records is not None:
            records.close()
        if self.alerts is not None:
            await self.alerts.aclose()
            self.alerts.close()
        if self.venue is not None:
            await self.venue.close()
        self.lock.release()
        logger.info("run {} stopped", self.run_id)
