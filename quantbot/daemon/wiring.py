"""The parts of a run, built in start-up order and handed what each needs: the venue (and its
instruments), the daily risk guard and TCA, the order side reconciled with the venue (paper
and live), the operator loop, the decision step, the order desk and the pipeline, the
TradeIntent intake and the real venue's bar stream. ``open_parts`` returns them frozen."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from quantbot.analytics.kpi import KpiFeed
from quantbot.analytics.tca import TcaRecorder
from quantbot.analytics.tca_parts import open_tca_parts
from quantbot.clock import BarClock, Clock
from quantbot.config.orders import entry_types
from quantbot.config.risk import parse_hhmm
from quantbot.config.schema import Config, LoadedConfig
from quantbot.daemon.golive_watch import open_golive_watch
from quantbot.daemon.intake import open_intake
from quantbot.daemon.operator import ControlLoop
from quantbot.daemon.order_side import OrderSide, open_order_side
from quantbot.daemon.parts import Parts
from quantbot.daemon.pipeline import Pipeline
from quantbot.daemon.services import Services
from quantbot.daemon.snapshot_parts import open_snapshots
from quantbot.daemon.venue_side import (
    connect_venue,
    open_daily,
    open_drawdown,
    open_venue_stream,
)
from quantbot.decision.step import DecisionStep
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import Fill, Instrument, Position
from quantbot.governance.allocation import Allocation
from quantbot.governance.charter import Charter
from quantbot.governance.learning import open_learning
from quantbot.governance.quarantine import Quarantine
from quantbot.governance.tripwire import Tripwire
from quantbot.governance.tripwire_wiring import bind_tripwire, open_tripwire
from quantbot.models.startup import halt_on_failure, verify_declared
from quantbot.oms.capability import exit_modes
from quantbot.oms.desk import Desk, OrderDesk, open_desk
from quantbot.oms.exits import ExitManager
from quantbot.oms.limit_timeout import LimitTimeout
from quantbot.oms.reservation import fill_listener
from quantbot.oms.running_compaction import open_running_compaction
from quantbot.records.durability import Durability
from quantbot.risk.cost_gate import CostModel
from quantbot.risk.daily import DailyRiskGuard
from quantbot.venues.base import OrderVenue
from quantbot.venues.factory import make_venue


@attrs.frozen
class Layout:
    """Where and how a run runs: what every part is built against."""

    mode: str
    run_id: str
    clock: Clock
    market_clock: Clock  # the wall clock, or the bars' own time for a file feed
    bar_clock: BarClock | None
    state_dir: Path
    runtime_dir: Path
    durability: Durability


def _open_tca(config: Config, run: Layout, venue: Any, halt: Callable[..., Any]) -> TcaRecorder:
    tca = TcaRecorder(
        run.runtime_dir / config.tca.file,
        run.clock,
        config.tca,
        rotate=config.records.rotate_daily,
        durability=run.durability,
    )
    tca.on_write_failure = halt
    if venue.embedded is not None:  # the embedded paper venue: its fills are a model's
        model = venue.embedded.fill_model_record()
        tca.fill_model = " ".join(f"{k}={v}" for k, v in model.items())
    return tca


def _watch_golive(
    loaded: LoadedConfig, run: Layout, services: Services, operator: ControlLoop, side: Any
) -> None:
    """A live run watches state/go_live.json: a disable stops new risk at the decision, and
    at the submit for a disable since the decision."""
    operator.golive = open_golive_watch(
        run.state_dir, run.clock, loaded.hash, write_event=services.writer.write_event,
        alert=services.alerts.emit, cancel_all=operator.cancel_all,
    )  # fmt: skip
    services.halting.golive = watch = operator.golive.watch
    if side is not None:
        side.oms.blocks_new_risk = lambda: watch.blocked


async def open_parts(
    loaded: LoadedConfig,
    run: Layout,
    services: Services,
    *,
    decision_step: Callable[..., DecisionStep],
    report_status: Callable[[], None],
    status: Callable[[], dict[str, Any]],
) -> Parts:
    config, clock = loaded.config, run.clock
    if run.mode != "live":  # refused before anything opens; live halts instead (models.startup)
        verify_declared(config)
    venue = make_venue(
        config,
        mode=run.mode,
        clock=clock,
        state_dir=run.state_dir,
        sync_each_change=run.durability.sync_before_submit,
    )
    # Every configured order type against what the venue declares it takes: native,
    # emulated, or a refusal to start that names the type and the venue, before the venue is
    # even connected (nothing opened, nothing to close, nothing sent).
    modes = exit_modes(
        config.orders, venue.capabilities, venue=venue.name, profile=config.run.trading_profile
    )
    # From the connect on, the venue holds a session: a start that fails closes it (else ccxt
    # and aiohttp warn of an unclosed connector on the way out).
    async with contextlib.AsyncExitStack() as on_failure:
        on_failure.push_async_callback(venue.close)
        parts = await _open_connected(
            loaded, run, services, venue, modes,
            decision_step=decision_step, report_status=report_status, status=status,
        )  # fmt: skip
        on_failure.pop_all()  # opened: the daemon's close closes the venue from now on
    return parts


async def _open_connected(
    loaded: LoadedConfig,
    run: Layout,
    services: Services,
    venue: OrderVenue,
    modes: dict[str, str],
    *,
    decision_step: Callable[..., DecisionStep],
    report_status: Callable[[], None],
    status: Callable[[], dict[str, Any]],
) -> Parts:
    config, clock = loaded.config, run.clock
    halt = services.halting.halt
    instruments, start_equity = await connect_venue(config, venue)
    daily = open_daily(
        config,
        mode=run.mode,
        state_dir=run.state_dir,
        market_clock=run.market_clock,
        durability=run.durability,
    )
    daily.on_write_failure = halt
    drawdown = open_drawdown(
        config, mode=run.mode, state_dir=run.state_dir, market_clock=run.market_clock
    )
    if drawdown is not None:
        drawdown.on_trip = _on_trip(services)
        drawdown.on_write_failure = halt
        daily.on_pnl = drawdown.on_pnl  # each fill's realised pnl, as booked to sleeves
    tca = _open_tca(config, run, venue, halt)
    quarantine = _quarantine(config, run, services)
    allocation = _allocation(config, run, services)
    tripwire = _tripwire(config, run, services)
    on_fill = _on_fill(
        fill_listener(daily), tca, quarantine, allocation,
        tripwire.feed if tripwire is not None else None,
    )  # fmt: skip
    side = None
    if run.mode in ("paper", "live"):
        side = await open_order_side(
            config,
            venue=venue,
            clock=clock,
            market_clock=run.market_clock,
            state_dir=run.state_dir,
            durability=run.durability,
            services=services,
            on_fill=on_fill,
            on_canceled=tca.on_canceled,
        )
    operator = ControlLoop(
        config,
        clock=clock,
        services=services,
        order_side=side,
        report_status=report_status,
        status=status,
        run_id=run.run_id,
        mode=run.mode,
        drawdown=drawdown,
    )
    if run.mode == "live":  # `go-live disable` reaches the running daemon
        _watch_golive(loaded, run, services, operator, side)
    if side is not None:
        code = ReasonCode.RECONCILE_POSITION_MISMATCH
        mismatches = [f for f in side.findings if f.code is code]
        if mismatches:
            await operator.on_mismatch(mismatches)
    step = decision_step(
        config,
        clock,
        instruments,
        {
            "run_id": run.run_id,
            "execution_mode": run.mode,
            "profile": config.run.trading_profile,
            "config_hash": loaded.hash,
        },
        check_staleness=config.market.source != "csv",
        **({"on_model_failure": halt_on_failure(halt)} if run.mode == "live" else {}),
    )
    _bind_step(step, side, daily, quarantine)
    step.risk.charter = open_charter(config, run, services)
    records = services.records
    open_learning(config, run, services, step=step, tca=tca, side=side, start_equity=start_equity)
    step.snapshots = open_snapshots(
        config, runtime_dir=run.runtime_dir, clock=clock, quarantine=step.quarantine,
        drawdown=drawdown, halt=halt, learned=step.learned, allocation=allocation,
        charter=step.risk.charter,
    )  # fmt: skip

    def on_event(event: str, why: Any, **fields: Any) -> None:
        records.write(step.event_record(event, why, **fields))

    exits = limit_timeout = None
    if side is not None:
        side.startup["exit_modes"] = modes
        exits, limit_timeout = _exit_parts(
            config, side, instruments=instruments, clock=clock, modes=modes,
            on_event=on_event, halt=halt, tca=tca,
        )  # fmt: skip
    desk = open_desk(
        oms=side.oms if side is not None else None,
        venue=venue,
        daily=daily,
        clock=clock,
        profile=config.run.trading_profile,
        mode=run.mode,
        on_event=on_event,
        reconciler=side.reconciler if side is not None else None,
        tca=tca,
        alerts=services.alerts,
        trade_external=config.reconcile.external_inventory == "manage",
        exits=exits,
        limit_timeout=limit_timeout,
        drawdown=drawdown,
        quarantine=step.quarantine,
    )
    _bind_allocation(allocation, step, desk)
    bind_tripwire(tripwire, step, desk, tca)
    open_tca_parts(config, run, services, tca=tca, desk=desk, venue=venue, step=step,
                   allocation=allocation)  # fmt: skip
    embedded = venue.embedded  # the paper venue matches each bar before the step
    pipeline = Pipeline(
        step=step,
        desk=desk,
        venue=venue,
        records=records,
        market_sink=embedded.on_bar if embedded is not None else None,
        blocked_by=services.halting.blocked_by,
        alerts=services.alerts,
        breakers=services.breakers,
        canary_symbols=tuple(config.pretrade.canary_symbols),
        bar_clock=run.bar_clock,
        on_session_close=operator.session_close,
        disable_symbol=(
            side.gates.disable_symbol if side is not None else services.halting.disable_symbol
        ),
    )
    if side is not None:
        pipeline.compaction = open_running_compaction(
            config.compaction, durable=run.durability.sync_before_submit, journal=side.journal,
            ledger=side.oms.ledger, daily=daily, book=embedded, clock=clock,
            market_clock=run.market_clock, roll_minute=daily.roll_minute,
        )  # fmt: skip
    return Parts(
        run_id=run.run_id,
        mode=run.mode,
        services=services,
        venue=venue,
        instruments=instruments,
        start_equity=start_equity,
        daily=daily,
        drawdown=drawdown,
        tca=tca,
        order_side=side,
        operator=operator,
        step=step,
        pipeline=pipeline,
        intake=open_intake(config, mode=run.mode, clock=clock, step=step, records=records),
        venue_stream=open_venue_stream(
            config,
            venue=venue,
            clock=clock,
            read=side.oms.read if side is not None else None,
            services=services,
        ),
    )


def _on_fill(
    book_fill: Callable[[Fill, Position, Position], None],
    tca: TcaRecorder,
    *books: Quarantine | Allocation | KpiFeed | None,
) -> Callable[[Fill, Position, Position], None]:
    """Each new fill: the daily guard settles and books PnL, TCA completes the order, the
    quarantine's and the allocation's outcomes count it."""
    counting = [book for book in books if book is not None]

    def on_fill(fill: Fill, before: Position, after: Position) -> None:
        book_fill(fill, before, after)
        tca.on_fill(fill)
        for book in counting:
            book.on_fill(fill, before, after)

    return on_fill


def _on_trip(services: Services) -> Callable[[Reason], None]:
    """A drawdown trip: one alert and one DRAWDOWN_BREAKER event line in the records."""

    def on_trip(why: Reason) -> None:
        services.alerts.emit(why.code, **why.context)
        services.writer.write_event("DRAWDOWN_BREAKER", why)

    return on_trip


def _bind_step(
    step: DecisionStep,
    side: OrderSide | None,
    daily: DailyRiskGuard,
    quarantine: Quarantine | None,
) -> None:
    """What the decision step's stages read from the order side, the daily guard and the
    quarantine."""
    if side is not None:  # an entry's collars tighten in a THIN liquidity regime
        side.gates.collar_mult = step.liquidity.collar_mult
    step.risk.gates.cost.cost_mult = step.liquidity.cost_mult  # and its costs widen
    step.risk.gates.turnover.bind(daily.turnover)  # the caps count the daily guard's book
    if quarantine is not None and side is not None:
        quarantine.exit_roles = side.oms.ledger.exit_roles  # stop-outs: stop_loss legs
        step.quarantine = quarantine


def _quarantine(config: Config, run: Layout, services: Services) -> Quarantine | None:
    """The run's quarantines (paper and live: only a run that sends orders has outcomes)."""
    if not config.quarantine.enabled or run.mode not in ("paper", "live"):
        return None
    control = services.halting.control
    quarantine = Quarantine.open(
        config.quarantine,
        run.state_dir,
        write_event=services.writer.write_event,
        alert=services.alerts.emit,
        releases=lambda: control.cached.sleeve_releases,
        durable=run.durability.sync_before_submit,
    )
    quarantine.on_write_failure = services.halting.halt
    return quarantine


def _tripwire(config: Config, run: Layout, services: Services) -> Tripwire | None:
    """The run's tripwire (paper and live: only a run that sends orders has KPI events)."""
    if not config.tripwire.enabled or run.mode not in ("paper", "live"):
        return None
    return open_tripwire(config, run, services)


def open_charter(config: Config, run: Layout, services: Services) -> Charter | None:
    """The confidence charter (every mode: a shadow run's proposals are trials too). A replay
    starts from its own empty state: nothing promoted, every recommendation only scored."""
    if not config.charter.enabled:
        return None
    roll = parse_hhmm(config.daily_risk.roll_time_utc)
    assert roll is not None  # checked when the config was loaded
    charter = Charter.open(
        config.charter,
        run.state_dir,
        cost=CostModel.from_sim(config.venue.sim),
        roll_minute=roll,
        clock=run.clock,
        write_event=services.writer.write_event,
        durable=run.durability.sync_before_submit,
        watch=run.durability.sync_before_submit,  # a replay's log is nobody's to write
    )
    charter.on_write_failure = services.halting.halt
    return charter


def _bind_allocation(allocation: Allocation | None, step: DecisionStep, desk: Desk) -> None:
    """Netting's weights, from the profile's (README "Allocation"), and the order desk telling
    it each order's sleeve (its fills are booked to that sleeve)."""
    if allocation is None:
        return
    allocation.start(step.base_weights)
    step.allocation = allocation
    if isinstance(desk, OrderDesk):
        desk.on_order = allocation.on_order


def _allocation(config: Config, run: Layout, services: Services) -> Allocation | None:
    """The run's sleeve weights (paper and live: only a run that sends orders has outcomes)."""
    if not config.allocation.enabled or run.mode not in ("paper", "live"):
        return None
    roll = parse_hhmm(config.daily_risk.roll_time_utc)
    assert roll is not None  # checked when the config was loaded
    allocation = Allocation.open(
        config.allocation,
        run.state_dir,
        roll_minute=roll,
        write_event=services.writer.write_event,
        durable=run.durability.sync_before_submit,
        require_tca=config.tca.require_tca_for_allocation,
    )
    allocation.on_write_failure = services.halting.halt
    return allocation


def _exit_parts(
    config: Config,
    side: OrderSide,
    *,
    instruments: dict[str, Instrument],
    clock: Clock,
    modes: dict[str, str],
    on_event: Callable[[str, Reason], None],
    halt: Callable[[Reason], None],
    tca: TcaRecorder,
) -> tuple[ExitManager | None, LimitTimeout | None]:
    """The exit-leg manager (when exits are on) and the LIMIT entry timeout (when a LIMIT
    entry can be chosen), both on the order side's OMS."""
    params = config.order_params
    exits = None
    if config.orders.exits:
        exits = ExitManager(
            oms=side.oms,
            orders=config.orders,
            presets=config.sizer.harvest,
            stop_lock_bars=params.stop_lock_bars,
            modes=modes,
            instruments=instruments,
            namespace=config.run.client_id_namespace,
            clock=clock,
            on_event=on_event,
            halt=halt,
            tca=tca,
            profile=config.run.trading_profile,
        )
    limit_timeout = None
    if "LIMIT" in entry_types(config.orders, config.run.trading_profile):
        limit_timeout = LimitTimeout(
            oms=side.oms, bars=params.limit_entry_timeout_bars, on_event=on_event
        )
    return exits, limit_timeout
