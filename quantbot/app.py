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
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.analytics.tca import TcaRecorder
from quantbot.clock import BarClock, Clock, iso_utc
from quantbot.config import LoadedConfig
from quantbot.config_risk import parse_hhmm
from quantbot.control_loop import ControlLoop
from quantbot.decision import DecisionStep
from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Fill, Instrument, Position
from quantbot.fsutil import atomic_write, ensure_private_dir
from quantbot.intake import IntentIntake, open_intake
from quantbot.manifest_info import manifest_for
from quantbot.marketdata.sources import open_stream
from quantbot.marketdata.venue_stream import VenueStream, ccxt_push
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import VENUE_FAILURES, OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.alerts import AlertSink, webhook_from_config
from quantbot.ops.breakers import BreakerBoard, CircuitOpenError
from quantbot.ops.control_socket import ControlServer
from quantbot.ops.errors import ErrorHandler
from quantbot.ops.lock import StateLock
from quantbot.pipeline import Pipeline, fill_listener
from quantbot.records.jsonl import RotatingJsonl
from quantbot.records.manifest import write_manifest
from quantbot.risk.control import ControlStore
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.golive import live_start_check
from quantbot.status import StatusSnapshot, format_status_line
from quantbot.venues.factory import make_venue, sim_instruments

EXIT_OK = 0
EXIT_HALTED = 3


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
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.mode = execution_mode
        self.clock = clock
        self.state_dir = Path(self.config.run.state_dir)
        self.runtime_dir = Path(self.config.run.runtime_dir)
        if execution_mode == "live":
            self._refuse_live()
        # A replay passes an id derived from its inputs, so its records are reproducible.
        self.run_id = run_id or make_run_id(clock)
        self.lock = StateLock(self.state_dir)
        self.control = ControlStore(self.state_dir / "control.json", clock)
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()  # set while no batch is between decide and record
        self._idle.set()
        self._halted_this_run: Reason | None = None
        self._background: set[asyncio.Task] = set()
        self.journal: Journal | None = None
        self.venue: Any = None
        self.oms: OrderManager | None = None
        self.reconciler: Reconciler | None = None
        self.gates: PretradeGates | None = None
        self.alerts: AlertSink | None = None
        self.breakers: BreakerBoard | None = None
        self.errors: ErrorHandler | None = None
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
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        config = self.config
        self.records = RotatingJsonl(
            self.runtime_dir / config.records.decisions_file,
            self.clock,
            fsync_every=config.records.fsync_every_steps,
            rotate=config.records.rotate_daily,
        )
        self.alerts = AlertSink(
            path=self.runtime_dir / "alerts.jsonl",
            clock=self.clock,
            config=config.alerts,
            on_halt=self.halt,
            webhook=webhook_from_config(config.alerts),
        )
        if config.market.source != "csv":  # staleness means something for live feeds
            self.alerts.watch(config.market.symbols)
        self.breakers = BreakerBoard(config.breakers, self.clock, on_open=self._breaker_opened)
        self.errors = ErrorHandler(
            on_halt=self.halt,
            on_skip_symbol=self._skip_symbol,
            on_disable_provider=self._disable_provider,
            record=self.write_record,
            breakers=self.breakers,
        )
        self.venue = make_venue(config, mode=self.mode, clock=self.clock, state_dir=self.state_dir)
        instruments = await self._connect_venue()
        startup: dict[str, Any] = {}
        self.daily = self._open_daily()
        self.tca = TcaRecorder(
            self.runtime_dir / config.tca.file,
            self.clock,
            config.tca,
            rotate=config.records.rotate_daily,
        )
        self._book_fill = fill_listener(self.daily)
        if self.mode in ("paper", "live"):
            await self._open_oms(startup)
        step = DecisionStep.from_config(
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
        self.pipeline = Pipeline(
            step=step,
            oms=self.oms,
            venue=self.venue,
            records=self.records,
            market_sink=getattr(self.venue, "on_bar", None),  # the paper venue matches bars
            blocked_by=self._blocked_by,
            execution_mode=self.mode,
            reconciler=self.reconciler,
            alerts=self.alerts,
            breakers=self.breakers,
            canary_symbols=tuple(config.pretrade.canary_symbols),
            bar_clock=self.bar_clock,
            on_session_close=self.loop_tasks.session_close,
            daily=self.daily,
            tca=self.tca if self.mode != "shadow" else None,
        )
        self.intake = open_intake(self, step, self.records)
        self.venue_stream = self._open_venue_stream()
        self.server = ControlServer(
            self.state_dir / config.control.socket_name,
            self.loop_tasks.socket_handlers(),
        )
        await self.server.start()
        self.manifest_path = write_manifest(self.runtime_dir, manifest_for(self, startup))
        self._announce()

    def _on_fill(self, fill: Fill, before: Position, after: Position) -> None:
        """Each new fill: the daily guard settles and books PnL, TCA completes the order."""
        self._book_fill(fill, before, after)
        self.tca.on_fill(fill)

    def _open_daily(self) -> DailyRiskGuard:
        """The daily risk guard. Paper keeps its ledger in state/ (it survives restarts);
        shadow sends nothing, so it asks a guard of its own that writes nothing."""
        config = self.config
        roll = parse_hhmm(config.daily_risk.roll_time_utc)
        assert roll is not None  # checked when the config was loaded
        params = config.risk_params.daily
        if self.mode == "shadow":
            return DailyRiskGuard(params, roll_minute=roll, clock=self.market_clock)
        path = self.state_dir / config.daily_risk.ledger_file
        return DailyRiskGuard.open(path, params, roll_minute=roll, clock=self.market_clock)

    async def _connect_venue(self) -> dict[str, Instrument]:
        """Connect and load instruments; a venue that cannot be reached, or that does not list
        a configured symbol, stops start-up with what and where."""
        name = self.config.venue.name
        try:
            await self.venue.connect()
            listed = await self.venue.instruments()
            if name != "sim":  # pnl in the status line counts from here
                self.start_equity = (await self.venue.account()).equity
        except VENUE_FAILURES as e:
            raise StartupError(
                f"could not connect to the {name} venue: {type(e).__name__}: {e}"
            ) from e
        if name == "sim":
            return sim_instruments(self.config)
        missing = [s for s in self.config.market.symbols if s not in listed]
        if missing:
            raise StartupError(
                f"market.symbols {missing} are not listed by the {name} venue "
                f"({len(listed)} instruments listed)"
            )
        return {s: listed[s] for s in self.config.market.symbols}

    async def _open_oms(self, startup: dict[str, Any]) -> None:
        config = self.config
        path = self.state_dir / "journal.jsonl"
        replay = read_journal(path)
        if replay.torn_line is not None:
            logger.warning("journal: torn last line set aside in {}", replay.torn_saved_to)
            startup["journal_torn_line_saved_to"] = str(replay.torn_saved_to)
        ledger = Ledger.from_events(replay.events)
        self.journal = Journal(
            path,
            self.clock,
            next_seq=ledger.last_event_seq + 1,
            sync_every=config.records.fsync_every_steps,
        )
        self.gates = PretradeGates(
            config.pretrade,
            self.market_clock,
            configured_symbols=config.market.symbols,
            disabled_symbols=set(self.control.cached.disabled_symbols),
            on_disable=self._disable_symbol,
            seen_client_ids=ledger.orders.keys(),
        )
        self.oms = OrderManager(
            journal=self.journal,
            ledger=ledger,
            venue=self.venue,
            clock=self.clock,
            gates=self.gates,
            breakers=self.breakers,
            errors=self.errors,
            retry=config.retry,
            on_journal_failure=self.halt,
            on_fill=self._on_fill,
        )
        self.oms.on_canceled = self.tca.on_canceled
        self.reconciler = Reconciler(self.oms, config.oms)
        try:
            findings = await self.reconciler.startup(
                cancel_unexpected=config.reconcile.cancel_unexpected_at_start
            )
        except (*VENUE_FAILURES, CircuitOpenError) as e:
            raise StartupError(
                f"start-up reconciliation with the {self.venue.name} venue failed "
                f"({type(e).__name__}: {e}); not trading on an unreconciled book"
            ) from e
        startup["journal_events"] = len(replay.events)
        startup["reconcile"] = [f.to_record() for f in findings]
        for finding in findings:  # in the records too, beside the decisions they explain
            self.write_event("RECONCILE", finding)
        mismatches = [f for f in findings if f.code is ReasonCode.RECONCILE_POSITION_MISMATCH]
        if mismatches:
            await self.loop_tasks.on_mismatch(mismatches)

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
        """Halt trading (no new risk) with a structured reason; persisted until resume."""
        first = self.control.cached.halt_code is None
        self.control.halt(why.code.value, str(why))
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

    def _skip_symbol(self, symbol: str, why: Reason) -> None:
        logger.warning("skipping {} this step: {}", symbol, why)

    def _disable_provider(self, provider: str, why: Reason) -> None:
        logger.error("provider {} failing: {}", provider, why)

    def _disable_symbol(self, symbol: str, why: Reason) -> None:
        self.control.disable_symbol(symbol)
        self.write_event("SYMBOL_DISABLED", why, symbol=symbol)

    def _breaker_opened(self, dependency: str, snapshot: dict[str, Any]) -> None:
        code = getattr(ReasonCode, f"CIRCUIT_OPEN_{dependency}")
        self.write_event("BREAKER_OPEN", reason(code, **snapshot))
        if self.alerts is not None:
            self.alerts.breaker_opened(dependency, snapshot)
        escalated = snapshot.get("level") == 2
        if (
            dependency == "broker_submit"
            and escalated
            and (self.config.control.cancel_all_on_submit_escalation)
        ):
            self._spawn(
                self.loop_tasks.cancel_all(
                    reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="broker_submit_escalation")
                )
            )

    def _blocked_by(self) -> Reason | None:
        state = self.control.cached
        if self._stop.is_set():
            return reason(ReasonCode.SHUTDOWN_IN_PROGRESS)
        if state.kill_switch:
            return reason(ReasonCode.KILL_SWITCH_ACTIVE, reason=state.kill_reason)
        if state.halt_code:
            return reason(ReasonCode.HALT_ACTIVE, halt_code=state.halt_code)
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
            return open_stream(market, self.clock, self.venue.marks())
        return self.venue_stream.stream()

    def _open_venue_stream(self) -> VenueStream | None:
        """A real venue's bars: pushed over its websocket (ccxt.pro) when it has one and the
        config allows it, else polled. Which, and why, goes in the manifest."""
        config = self.config
        if config.market.source != "venue":
            return None
        name = config.venue.name
        settings = getattr(config.venue, name)
        push, why = None, f"{name}: polled"
        if name == "ccxt":
            push, why = ccxt_push(
                settings,
                enabled=settings.stream,
                symbols=list(config.market.symbols),
                clock=self.clock,
                sandbox=settings.sandbox,
                ws_url=settings.ws_url,
            )
        errors = self.errors
        return VenueStream(
            self.venue,
            list(config.market.symbols),
            self.clock,
            poll_interval_s=settings.poll_interval_s,
            read=self.oms.read if self.oms is not None else None,
            on_error=(lambda exc, dep: errors.handle(exc, dependency=dep)) if errors else None,
            push=push,
            why=why,
        )

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
        print(format_status_line(snapshot), flush=True)
        atomic_write(
            self.state_dir / "status.json",
            orjson.dumps(snapshot.to_json(), option=orjson.OPT_INDENT_2),
        )

    # -- supervision --------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, duration_s: float | None = None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
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
        self.halt(reason(code, task=task.get_name(), error=f"{type(exc).__name__}: {exc}"))
        self._halted_this_run = self._halted_this_run or reason(code)
        self.request_stop()

    async def _shutdown(self, feed: asyncio.Task, others: list[asyncio.Task]) -> None:
        """No new intents; let the batch in flight settle (bounded), then flush everything."""
        self._stop.set()
        grace = self.config.run.shutdown_grace_s
        if not feed.done() and not self._idle.is_set():
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                logger.warning("shutdown grace of {}s passed with a batch in flight", grace)
        for task in [feed, *others, *self._background]:
            task.cancel()
        await asyncio.gather(feed, *others, *self._background, return_exceptions=True)
        await self.close()

    async def close(self) -> None:
        if self.oms is not None:
            await self.oms.poll_fills()
        if self.server is not None:
            await self.server.close()
        if self.pipeline is not None:
            self.report_status()
        if self.records is not None:
            self.records.close()
        if self.tca is not None:
            self.tca.close()
        if self.alerts is not None:
            await self.alerts.aclose()
            self.alerts.close()
        if self.journal is not None:
            self.journal.close()
        if self.venue is not None:
            await self.venue.close()
        self.lock.release()
        logger.info("run {} stopped", self.run_id)
