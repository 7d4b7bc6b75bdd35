"""The daemon: composition root. Wires the stages, owns the tasks, signals and shutdown.

Startup order (DESIGN.md section 4): take the lock, replay the journal, open the venue,
reconcile, write the manifest, then trade. A crashed task halts trading with a reason code
(persisted in state/control.json) instead of dying silently.
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

from quantbot.clock import Clock, iso_utc
from quantbot.config import Config, LoadedConfig, redacted
from quantbot.decision import DecisionStep
from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Instrument
from quantbot.fsutil import atomic_write, ensure_private_dir
from quantbot.marketdata.csv_bars import CsvFeed, load_csv_bars, merge_by_time
from quantbot.marketdata.synthetic import SyntheticFeed, SyntheticMarket
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.ops.lock import StateLock
from quantbot.pipeline import Pipeline
from quantbot.records.jsonl import RotatingJsonl
from quantbot.records.manifest import build_manifest, write_manifest
from quantbot.risk.control import ControlStore
from quantbot.status import StatusSnapshot, format_status_line
from quantbot.venues.sim.venue import SimVenue

EXIT_OK = 0
EXIT_HALTED = 3


def make_run_id(clock: Clock) -> str:
    return f"{iso_utc(clock.now_ns())[:19].replace(':', '').replace('-', '')}-{os.urandom(3).hex()}"


def sim_instruments(config: Config) -> dict[str, Instrument]:
    d = config.instrument_defaults
    return {
        s: Instrument(s, d.tick_size, d.lot_size, d.min_notional, "sim")
        for s in config.market.symbols
    }


class Daemon:
    def __init__(self, loaded: LoadedConfig, *, execution_mode: str, clock: Clock) -> None:
        if execution_mode == "live":
            raise StartupError(
                "live execution needs go-live enabled in state/, credentials and a real venue "
                "adapter; this build has only the embedded paper venue. Use --execution-mode "
                "paper or shadow."
            )
        self.loaded = loaded
        self.config = loaded.config
        self.mode = execution_mode
        self.clock = clock
        self.state_dir = Path(self.config.run.state_dir)
        self.runtime_dir = Path(self.config.run.runtime_dir)
        self.run_id = make_run_id(clock)
        self.lock = StateLock(self.state_dir)
        self.control = ControlStore(self.state_dir / "control.json", clock)
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()  # set while no batch is between decide and record
        self._idle.set()
        self._halted_this_run: Reason | None = None
        self.journal: Journal | None = None
        self.venue: SimVenue | None = None
        self.pipeline: Pipeline | None = None
        self.manifest_path: Path | None = None

    # -- startup ------------------------------------------------------------------------------
    async def start(self) -> None:
        ensure_private_dir(self.state_dir)
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        instruments = sim_instruments(self.config)
        startup: dict[str, Any] = {}
        oms = None
        sim = self.config.venue.sim
        paper = self.mode == "paper"
        self.venue = SimVenue(
            clock=self.clock,
            instruments=instruments,
            state_path=self.state_dir / "sim_venue.json" if paper else None,
            initial_cash=sim.initial_cash,
            fee_bps=sim.fee_bps,
            slippage_bps=sim.slippage_bps,
            participation_cap=sim.participation_cap,
            buying_power_multiple=sim.buying_power_multiple,
            seed=self.config.market.seed,
        )
        await self.venue.connect()
        if paper:
            oms = await self._open_oms(startup)
        record_base = {
            "run_id": self.run_id,
            "execution_mode": self.mode,
            "profile": self.config.run.trading_profile,
            "config_hash": self.loaded.hash,
        }
        step = DecisionStep.from_config(
            self.config,
            self.clock,
            instruments,
            record_base,
            check_staleness=self.config.market.source == "synthetic",
        )
        records = RotatingJsonl(
            self.runtime_dir / self.config.records.decisions_file,
            self.clock,
            fsync_every=self.config.records.fsync_every_steps,
        )
        self.pipeline = Pipeline(
            step=step,
            oms=oms,
            venue=self.venue,
            records=records,
            market_sink=self.venue.on_bar,
            blocked_by=self._blocked_by,
            execution_mode=self.mode,
        )
        self.manifest_path = write_manifest(self.runtime_dir, self._manifest(startup))
        blocked = self.control.cached
        if blocked.blocks_new_risk:
            logger.warning(
                "starting {}: no new orders until `quantbot resume` ({})",
                blocked.describe(),
                blocked.halt_detail or blocked.kill_reason,
            )
        logger.info(
            "run {} started: mode={} profile={} manifest={}",
            self.run_id,
            self.mode,
            self.config.run.trading_profile,
            self.manifest_path,
        )

    async def _open_oms(self, startup: dict[str, Any]) -> OrderManager:
        path = self.state_dir / "journal.jsonl"
        replay = read_journal(path)
        if replay.torn_line is not None:
            logger.warning("journal: torn last line set aside in {}", replay.torn_saved_to)
            startup["journal_torn_line_saved_to"] = str(replay.torn_saved_to)
        ledger = Ledger.from_events(replay.events)
        self.journal = Journal(path, self.clock, next_seq=ledger.last_event_seq + 1)
        oms = OrderManager(journal=self.journal, ledger=ledger, venue=self.venue)
        findings = await oms.reconcile()
        startup["journal_events"] = len(replay.events)
        startup["reconcile"] = [f.to_record() for f in findings]
        mismatch = [f for f in findings if f.code is ReasonCode.RECONCILE_POSITION_MISMATCH]
        if mismatch:
            self.control.halt(mismatch[0].code.value, str(mismatch[0]))
        return oms

    def _manifest(self, startup: dict[str, Any]) -> dict[str, Any]:
        return build_manifest(
            run_id=self.run_id,
            started_ns=self.clock.now_ns(),
            execution_mode=self.mode,
            trading_profile=self.config.run.trading_profile,
            account_id="sim-paper",
            config=redacted(self.loaded.plain()),
            config_hash=self.loaded.hash,
            config_path=str(self.loaded.path) if self.loaded.path else None,
            env_keys=self.loaded.env_keys,
            feature_flags={"ai_sizer": "off", "market_source": self.config.market.source},
            canary_symbols=[],
            startup=startup,
        )

    def _blocked_by(self) -> Reason | None:
        state = self.control.cached
        if state.kill_switch:
            return reason(ReasonCode.KILL_SWITCH_ACTIVE, reason=state.kill_reason)
        if state.halt_code:
            return reason(ReasonCode.HALT_ACTIVE, halt_code=state.halt_code)
        if self._stop.is_set():
            return reason(ReasonCode.SHUTDOWN_IN_PROGRESS)
        return None

    # -- market data --------------------------------------------------------------------------
    def _stream(self) -> AsyncIterator[list[Bar]]:
        market = self.config.market
        if market.source == "csv":
            series = [load_csv_bars(Path(p)) for p in market.csv_paths]
            wanted = set(market.symbols)
            series = [[b for b in s if b.symbol in wanted] for s in series]
            return CsvFeed(
                merge_by_time(series), self.clock, pace=market.csv_pace, speed=market.csv_speed
            ).stream()
        marks = {s: float(p) for s, p in self.venue.marks().items()} if self.venue else {}
        synthetic = SyntheticMarket(
            symbols=market.symbols,
            seed=market.seed,
            interval_s=market.bar_interval_s,
            start_prices=marks or None,
            spread_bps=market.spread_bps,
        )
        return SyntheticFeed(synthetic, self.clock).stream()

    async def _feed_loop(self) -> None:
        async for batch in self._stream():
            if self._stop.is_set():
                return
            self._idle.clear()
            try:
                await self.pipeline.on_batch(batch)
            finally:
                self._idle.set()

    async def _status_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.run.status_interval_s)
            self._report_status()

    def _report_status(self) -> None:
        snapshot = StatusSnapshot.collect(self)
        print(format_status_line(snapshot), flush=True)
        atomic_write(
            self.state_dir / "status.json",
            orjson.dumps(snapshot.to_json(), option=orjson.OPT_INDENT_2),
        )

    # -- supervision --------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def _halt(self, code: ReasonCode, exc: BaseException) -> None:
        detail = f"{type(exc).__name__}: {exc}"
        self._halted_this_run = reason(code, error=detail)
        self.control.halt(code.value, detail)
        logger.opt(exception=exc).error("trading halted: {} ({})", code.value, detail)
        if self.pipeline is not None:
            self.pipeline.records.write(
                {
                    "ts": iso_utc(self.clock.now_ns()),
                    "run_id": self.run_id,
                    "event": "HALT",
                    "execution_mode": self.mode,
                    "reason": self._halted_this_run.to_record(),
                }
            )
            self.pipeline.records.flush()

    async def run(self, duration_s: float | None = None) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop)
        feed = asyncio.create_task(self._feed_loop(), name="market-data")
        status = asyncio.create_task(self._status_loop(), name="status")
        stop = asyncio.create_task(self._stop.wait(), name="stop")
        timer = asyncio.create_task(self._timer(duration_s), name="duration")
        pending = {feed, status, stop, timer}
        try:
            while not self._stop.is_set():
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self._supervise(task)
        finally:
            await self._shutdown(feed, [status, timer, stop])
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
        code = (
            ReasonCode.HALT_INVARIANT_VIOLATION
            if isinstance(exc, InvariantViolation | ArithmeticError)
            else ReasonCode.HALT_PROGRAMMING_ERROR
            if isinstance(exc, TypeError | KeyError | AttributeError)
            else ReasonCode.HALT_TASK_CRASHED
        )
        self._halt(code, exc)
        if task.get_name() != "status":
            self.request_stop()

    async def _shutdown(self, feed: asyncio.Task, others: list[asyncio.Task]) -> None:
        """No new intents; let the batch in flight settle (bounded), then flush everything."""
        self._stop.set()
        if not feed.done() and not self._idle.is_set():
            try:
                await asyncio.wait_for(self._idle.wait(), self.config.run.shutdown_grace_s)
            except TimeoutError:
                logger.warning(
                    "shutdown grace of {}s passed with a batch in flight; cancelling it",
                    self.config.run.shutdown_grace_s,
                )
        for task in [feed, *others]:
            task.cancel()
        await asyncio.gather(feed, *others, return_exceptions=True)
        await self.close()

    async def close(self) -> None:
        if self.pipeline is not None and self.pipeline.oms is not None:
            await self.pipeline.oms.sync_fills()
        if self.pipeline is not None:
            self._report_status()
            self.pipeline.records.close()
        if self.journal is not None:
            self.journal.close()
        if self.venue is not None:
            await self.venue.close()
        self.lock.release()
        logger.info("run {} stopped", self.run_id)


def equity_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
