"""The daemon's order side at start-up: the journal replayed into the ledger, the OMS with
its gates, breakers, error handler and hooks, and the start-up reconciliation. Kept out of
``daemon.py`` so the composition root reads as the order of start-up."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import atomic_write
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import VENUE_FAILURES, OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.breakers import CircuitOpenError

if TYPE_CHECKING:
    from quantbot.daemon.daemon import Daemon


async def open_oms(daemon: Daemon, startup: dict[str, Any]) -> None:
    """Replay the journal, build the OMS (gates, breakers, error handler, fill and cancel
    hooks) and reconcile with the venue before anything trades (DESIGN.md section 4)."""
    config = daemon.config
    path = daemon.state_dir / "journal.jsonl"
    replay = read_journal(path)
    if replay.torn_line is not None:
        logger.warning("journal: torn last line set aside in {}", replay.torn_saved_to)
        startup["journal_torn_line_saved_to"] = str(replay.torn_saved_to)
    ledger = Ledger.from_journal(replay, path)
    journal_missing = not replay.events and _marker(daemon).exists()
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
        alert=daemon.alerts.emit if daemon.alerts is not None else None,
        kill_engaged=lambda: daemon.control.cached.kill_switch,
        on_invariant=daemon.halt,
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
    if journal_missing:
        findings.append(_journal_missing(daemon, path))
    findings.extend(_reported_invariants(daemon.oms))
    atomic_write(_marker(daemon), b"a journal began here; see README, Files\n")
    startup["journal_events"] = len(replay.events)
    startup["reconcile"] = [f.to_record() for f in findings]
    startup["external_inventory"] = {
        "mode": config.reconcile.external_inventory,
        "positions": {s: str(q) for s, q in sorted(ledger.external.items()) if q},
    }
    for finding in findings:  # in the records too, beside the decisions they explain
        daemon.write_event("RECONCILE", finding)
    mismatches = [f for f in findings if f.code is ReasonCode.RECONCILE_POSITION_MISMATCH]
    if mismatches:
        await daemon.loop_tasks.on_mismatch(mismatches)


def _marker(daemon: Daemon) -> Path:
    """Written once a journal exists: a journal gone missing is then told from a first start."""
    return daemon.state_dir / "journal.began"


def _journal_missing(daemon: Daemon, path: Path) -> Reason:
    """state/ had a journal and it is gone: what the venue holds was adopted as external, and
    when it holds anything, only risk-reducing orders go until a person has looked
    (`quantbot resume`). A flat venue with nothing working has nothing to trade twice."""
    ledger = daemon.oms.ledger
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
    daemon.control.set_reduce_only(str(why))
    if daemon.alerts is not None:
        daemon.alerts.emit(ReasonCode.ALERT_EXTERNAL_INVENTORY, **why.context)
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
