"""Cancel-all with no daemon running: straight to the venue's book, through the journal.

Takes the state lock for its whole run, so a daemon cannot start half-way through, and
journals CANCEL_REQUESTED/CANCELED so the next daemon's ledger agrees with the venue. A
journal that cannot be written (a full disk) does not stop a cancel: each goes out and is
reported, and the report names the file. Orders left open (or a venue that could not be
asked) halt trading in state/control.json with ``CANCEL_ALL_INCOMPLETE``, so the next daemon
start does not trade until a person has looked and run `quantbot resume`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantbot.clock import LiveClock
from quantbot.config.schema import Config
from quantbot.domain.reasons import Reason
from quantbot.fsutil import ensure_private_dir
from quantbot.oms.cancel_all import CancelAllReport, cancel_everything
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import VENUE_FAILURES, OrderManager
from quantbot.ops.lock import StateLock
from quantbot.risk.control import ControlStore
from quantbot.venues.base import OrderVenue
from quantbot.venues.factory import account_mode, make_venue
from quantbot.venues.registry import venue_package


async def cancel_all_offline(config: Config, state_dir: Path, *, symbol: str | None) -> dict:
    note = venue_package(config.venue.name).nothing_sent(state_dir)
    if note is not None:
        return {"ok": True, "canceled": [], "still_open": [], "errors": [], "note": note}
    # A real venue's account may hold orders this machine never journaled (a first run here,
    # or another host): state/ is made, owner-only, to hold the lock and the journal.
    ensure_private_dir(state_dir)
    lock = StateLock(state_dir)
    lock.acquire()
    clock = LiveClock()
    try:
        mode = account_mode(config)
        venue = make_venue(config, mode=mode, clock=clock, state_dir=state_dir)
        try:
            report = await _cancel(venue, state_dir / "journal.jsonl", clock, symbol)
        finally:
            await venue.close()
        result: dict[str, Any] = report.to_json()
        result["halt"] = _halt_if_left_open(report, state_dir, clock)
        return result
    finally:
        lock.release()


async def _cancel(
    venue: OrderVenue, path: Path, clock: LiveClock, symbol: str | None
) -> CancelAllReport:
    try:
        await venue.connect()
    except VENUE_FAILURES as e:
        report = CancelAllReport(symbol)
        report.errors.append(f"connect to the {venue.name} venue: {type(e).__name__}: {e}")
        return report
    ledger = Ledger.from_events(read_journal(path).events)
    failures: list[Reason] = []  # reported by cancel_everything, which counts them
    journal = Journal(
        path, clock, next_seq=ledger.last_event_seq + 1, on_write_failure=failures.append
    )
    try:
        oms = OrderManager(journal=journal, ledger=ledger, venue=venue, clock=clock)
        return await cancel_everything(oms, symbol=symbol)
    finally:
        journal.close()


def _halt_if_left_open(report: CancelAllReport, state_dir: Path, clock: LiveClock) -> Any:
    """Persist ``CANCEL_ALL_INCOMPLETE`` when anything is (or may be) left open; the halt as
    saved, or why it could not be, for the report."""
    why = report.halt_reason(trigger="operator_offline")
    if why is None:
        return None
    store = ControlStore(state_dir / "control.json", clock)
    try:
        state = store.halt(why.code.value, str(why))
    except OSError as e:
        return {**why.to_record(), "saved": False, "error": f"{store.path}: {e}"}
    return {**why.to_record(), "saved": True, "halt_code": state.halt_code}
