"""The parts of a run, built in start-up order and handed what each needs: the venue (and its
instruments), the daily risk guard and TCA, the order side reconciled with the venue (paper
and live), the operator loop, the decision step, the order desk and the pipeline, the
TradeIntent intake and the real venue's bar stream. ``open_parts`` returns them frozen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from quantbot.analytics.tca import TcaRecorder
from quantbot.clock import BarClock, Clock
from quantbot.config.schema import LoadedConfig
from quantbot.daemon.intake import open_intake
from quantbot.daemon.operator import ControlLoop
from quantbot.daemon.order_side import open_order_side
from quantbot.daemon.parts import Parts
from quantbot.daemon.pipeline import Pipeline
from quantbot.daemon.services import Services
from quantbot.daemon.venue_side import connect_venue, open_daily, open_venue_stream
from quantbot.decision.step import DecisionStep
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Fill, Position
from quantbot.oms.desk import open_desk
from quantbot.oms.reservation import fill_listener
from quantbot.records.durability import Durability
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
    halt = services.halting.halt
    venue = make_venue(
        config,
        mode=run.mode,
        clock=clock,
        state_dir=run.state_dir,
        sync_each_change=run.durability.sync_before_submit,
    )
    instruments, start_equity = await connect_venue(config, venue)
    daily = open_daily(
        config,
        mode=run.mode,
        state_dir=run.state_dir,
        market_clock=run.market_clock,
        durability=run.durability,
    )
    daily.on_write_failure = halt
    tca = TcaRecorder(
        run.runtime_dir / config.tca.file,
        clock,
        config.tca,
        rotate=config.records.rotate_daily,
        durability=run.durability,
    )
    tca.on_write_failure = halt
    book_fill = fill_listener(daily)

    def on_fill(fill: Fill, before: Position, after: Position) -> None:
        """Each new fill: the daily guard settles and books PnL, TCA completes the order."""
        book_fill(fill, before, after)
        tca.on_fill(fill)

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
    )
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
    )
    records = services.records
    desk = open_desk(
        oms=side.oms if side is not None else None,
        venue=venue,
        daily=daily,
        clock=clock,
        profile=config.run.trading_profile,
        mode=run.mode,
        on_event=lambda event, why: records.write(step.event_record(event, why)),
        reconciler=side.reconciler if side is not None else None,
        tca=tca,
        alerts=services.alerts,
        trade_external=config.reconcile.external_inventory == "manage",
    )
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
    )
    return Parts(
        run_id=run.run_id,
        mode=run.mode,
        services=services,
        venue=venue,
        instruments=instruments,
        start_equity=start_equity,
        daily=daily,
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
            errors=services.errors,
        ),
    )
