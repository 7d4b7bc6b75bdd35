"""The daemon's order side at start-up: the journal replayed into the ledger, the OMS with
its gates, breakers, error handler and hooks, and the start-up reconciliation. Kept out of
``app.py`` so the composition root reads as the order of start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loguru import logger

from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import ReasonCode
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import VENUE_FAILURES, OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.breakers import CircuitOpenError

if TYPE_CHECKING:
    from quantbot.app import Daemon


async def open_oms(daemon: Daemon, startup: dict[str, Any]) -> None:
    """Replay the journal, build the OMS (gates, breakers, error handler, fill and cancel
    hooks) and reconcile with the venue before anything trades (DESIGN.md section 4)."""
    config = daemon.config
    path = daemon.state_dir / "journal.jsonl"
    replay = read_journal(path)
    if replay.torn_line is not None:
        logger.warning("journal: torn last line set aside in {}", replay.torn_saved_to)
        startup["journal_torn_line_saved_to"] = str(replay.torn_saved_to)
    ledger = Ledger.from_events(replay.events)
    daemon.journal = Journal(
        path,
        daemon.clock,
        next_seq=ledger.last_event_seq + 1,
        sync_every=daemon.durability.fsync_every_steps,
        sync_durable=daemon.durability.sync_before_submit,
        on_write_failure=daemon.halt,  # JOURNAL_WRITE_FAILED (disk full): halts, names the file
    )
    daemon.gates = PretradeGates(
        config.pretrade,
        daemon.market_clock,
        configured_symbols=config.market.symbols,
        disabled_symbols=set(daemon.control.cached.disabled_symbols),
        on_disable=daemon.disable_symbol,
        seen_client_ids=ledger.orders.keys(),
    )
    daemon.oms = OrderManager(
        journal=daemon.journal,
        ledger=ledger,
        venue=daemon.venue,
        clock=daemon.clock,
        gates=daemon.gates,
        breakers=daemon.breakers,
        errors=daemon.errors,
        retry=config.retry,
        on_journal_failure=daemon.halt,
        on_fill=daemon.on_fill,
        quotes=QuoteGate(config.pretrade, daemon.clock, daemon.venue, daemon.gates, daemon.errors),
    )
    daemon.oms.on_canceled = daemon.tca.on_canceled
    daemon.reconciler = Reconciler(daemon.oms, config.oms)
    try:
        findings = await daemon.reconciler.startup(
            cancel_unexpected=config.reconcile.cancel_unexpected_at_start
        )
    except (*VENUE_FAILURES, CircuitOpenError) as e:
        raise StartupError(
            f"start-up reconciliation with the {daemon.venue.name} venue failed "
            f"({type(e).__name__}: {e}); not trading on an unreconciled book"
        ) from e
    startup["journal_events"] = len(replay.events)
    startup["reconcile"] = [f.to_record() for f in findings]
    for finding in findings:  # in the records too, beside the decisions they explain
        daemon.write_event("RECONCILE", finding)
    mismatches = [f for f in findings if f.code is ReasonCode.RECONCILE_POSITION_MISMATCH]
    if mismatches:
        await daemon.loop_tasks.on_mismatch(mismatches)
