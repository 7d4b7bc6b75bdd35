"""The daemon's order side at start-up: the journal replayed into the ledger, the OMS with
its gates, breakers, error handler and hooks, and the start-up reconciliation. Kept out of
``daemon.py`` so the composition root reads as the order of start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.daemon.services import Services
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Fill, Position
from quantbot.fsutil import atomic_write
from quantbot.oms.compaction import maybe_compact
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import VENUE_FAILURES, OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.alerts import AlertSink
from quantbot.ops.breakers import CircuitOpenError
from quantbot.records.durability import Durability
from quantbot.risk.control import ControlStore
from quantbot.venues.base import OrderVenue


@attrs.frozen
class OrderSide:
    """The order side of a paper or live run, reconciled with the venue and ready to trade."""

    journal: Journal
    oms: OrderManager
    gates: PretradeGates
    reconciler: Reconciler
    findings: list[Reason]  # what start-up reconciliation found (the operator acts on them)
    startup: dict[str, Any]  # for the run manifest


async def open_order_side(
    config: Config,
    *,
    venue: OrderVenue,
    clock: Clock,
    market_clock: Clock,
    state_dir: Path,
    durability: Durability,
    services: Services,
    on_fill: Callable[[Fill, Position, Position], None],
    on_canceled: Callable[[str], None],
) -> OrderSide:
    """Replay the journal, build the OMS (gates, breakers, error handler, fill and cancel
    hooks) and reconcile with the venue before anything trades (DESIGN.md section 4)."""
    halting, alerts = services.halting, services.alerts
    control = halting.control
    startup: dict[str, Any] = {}
    path = state_dir / "journal.jsonl"
    replay = read_journal(path)
    if replay.torn_line is not None:
        logger.warning("journal: torn last line set aside in {}", replay.torn_saved_to)
        startup["journal_torn_line_saved_to"] = str(replay.torn_saved_to)
    ledger = Ledger.from_journal(replay, path)
    ledger, compacted = maybe_compact(path, replay, ledger, config.compaction)
    if compacted is not None:
        startup["journal_compacted"] = compacted.to_record()
    if replay.snapshot_fallback is not None:
        startup["journal_snapshot_fallback"] = str(replay.snapshot_fallback)
    journal_missing = not replay.events and _marker(state_dir).exists()
    journal = Journal(
        path,
        clock,
        next_seq=ledger.last_event_seq + 1,
        sync_every=durability.fsync_every_steps,
        sync_durable=durability.sync_before_submit,
        on_write_failure=halting.halt,  # JOURNAL_WRITE_FAILED (disk full): halts, names the file
    )
    gates = PretradeGates(
        config.pretrade,
        market_clock,
        configured_symbols=config.market.symbols,
        disabled_symbols=set(control.cached.disabled_symbols),
        on_disable=halting.disable_symbol,
    )
    oms = OrderManager(
        journal=journal,
        ledger=ledger,
        venue=venue,
        clock=clock,
        gates=gates,
        breakers=services.breakers,
        errors=services.errors,
        retry=config.retry,
        on_journal_failure=halting.halt,
        on_fill=on_fill,
        quotes=QuoteGate(config.pretrade, clock, venue, gates, services.errors),
        alert=alerts.emit,
        kill_engaged=lambda: control.cached.kill_switch,
        on_invariant=halting.halt,
        providers=services.providers,
    )
    oms.on_canceled = on_canceled
    reconciler = Reconciler(oms, config.oms)
    try:
        findings = await reconciler.startup(
            cancel_unexpected=config.reconcile.cancel_unexpected_at_start
        )
    except (*VENUE_FAILURES, CircuitOpenError) as e:
        raise StartupError(
            f"start-up reconciliation with the {venue.name} venue failed "
            f"({type(e).__name__}: {e}); not trading on an unreconciled book"
        ) from e
    if journal_missing:
        findings.append(_journal_missing(ledger, path, control, alerts))
    findings.extend(_reported_invariants(oms))
    atomic_write(_marker(state_dir), b"a journal began here; see README, Files\n")
    startup["journal_events"] = len(replay.events)
    startup["reconcile"] = [f.to_record() for f in findings]
    startup["external_inventory"] = {
        "mode": config.reconcile.external_inventory,
        "positions": {s: str(q) for s, q in sorted(ledger.external.items()) if q},
    }
    for finding in findings:  # in the records too, beside the decisions they explain
        services.writer.write_event("RECONCILE", finding)
    return OrderSide(journal, oms, gates, reconciler, findings, startup)


def _marker(state_dir: Path) -> Path:
    """Written once a journal exists: a journal gone missing is then told from a first start."""
    return state_dir / "journal.began"


def _journal_missing(
    ledger: Ledger, path: Path, control: ControlStore, alerts: AlertSink
) -> Reason:
    """state/ had a journal and it is gone: what the venue holds was adopted as external, and
    when it holds anything, only risk-reducing orders go until a person has looked
    (`quantbot resume`). A flat venue with nothing working has nothing to trade twice."""
    positions = {s: str(q) for s, q in ledger.external.items() if q}
    why = reason(
        ReasonCode.RECONCILE_JOURNAL_MISSING,
        journal=str(path),
        adopted_positions=positions,
        adopted_orders=len(ledger.external_ids),
    )
    if not positions and not ledger.external_ids:
        logger.warning("{} is missing though state/ had one; the venue holds nothing", path)
        return why
    logger.error("{} is missing though state/ had one: reduce-only until resume", path)
    control.set_reduce_only(str(why))
    alerts.emit(ReasonCode.ALERT_EXTERNAL_INVENTORY, **why.context)
    return why


def _reported_invariants(oms: OrderManager) -> list[Reason]:
    """An overfill in the journal is reported, never a crash: the first time it is seen it
    is journaled (INVARIANT) and trading halts; seen again at a later start, it is reported
    (the halt it caused holds until a person resumes)."""
    found = []
    for cid, problem in sorted(oms.ledger.overfilled.items()):
        if cid in oms.ledger.invariants_logged:
            found.append(reason(ReasonCode.HALT_INVARIANT_VIOLATION, client_order_id=cid,
                                problem=problem, first_seen="earlier"))  # fmt: skip
        else:
            found.append(oms.flag_invariant(cid, problem))
    return found
