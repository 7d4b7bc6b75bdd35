"""Cancel-all with no daemon running: straight to the venue's book, through the journal.

Takes the state lock for its whole run, so a daemon cannot start half-way through, and
journals CANCEL_REQUESTED/CANCELED so the next daemon's ledger agrees with the venue.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantbot.clock import LiveClock
from quantbot.config import Config
from quantbot.fsutil import ensure_private_dir
from quantbot.oms.cancel_all import cancel_everything
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.ops.lock import StateLock
from quantbot.venues.factory import account_mode, make_venue


async def cancel_all_offline(config: Config, state_dir: Path, *, symbol: str | None) -> dict:
    if config.venue.name == "sim" and not (state_dir / "sim_venue.json").exists():
        return {
            "ok": True,
            "canceled": [],
            "still_open": [],
            "errors": [],
            "note": f"no paper venue book in {state_dir}: nothing was ever sent",
        }
    # A real venue's account may hold orders this machine never journaled (a first run here,
    # or another host): state/ is made, owner-only, to hold the lock and the journal.
    ensure_private_dir(state_dir)
    lock = StateLock(state_dir)
    lock.acquire()
    clock = LiveClock()
    try:
        mode = account_mode(config)
        venue = make_venue(config, mode=mode, clock=clock, state_dir=state_dir)
        await venue.connect()
        path = state_dir / "journal.jsonl"
        ledger = Ledger.from_events(read_journal(path).events)
        journal = Journal(path, clock, next_seq=ledger.last_event_seq + 1)
        try:
            oms = OrderManager(journal=journal, ledger=ledger, venue=venue, clock=clock)
            report = await cancel_everything(oms, symbol=symbol)
            result: dict[str, Any] = report.to_json()
        finally:
            journal.close()
            await venue.close()
        return result
    finally:
        lock.release()
