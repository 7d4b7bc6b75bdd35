"""What the state files on disk say of the account, for the compaction crash tests: the order
journal's ledger, the daily risk ledger's book and the paper venue's positions."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def journal_account(path: Path) -> dict[str, Any]:
    """The journal at ``path`` rebuilt: positions, open and unresolved orders, fill cursor and
    last seq."""
    from quantbot.oms.journal import read_journal
    from quantbot.oms.ledger import Ledger

    ledger = Ledger.from_journal(read_journal(path, repair=False), path)
    return {
        "positions": {s: p.qty for s, p in ledger.positions.items() if p.qty},
        "open": {o.client_order_id: o.status.value for o in ledger.open_orders()},
        "unresolved": sorted(o.client_order_id for o in ledger.unresolved()),
        "fill_seq": ledger.fill_seq,
        "last_seq": ledger.last_event_seq,
    }


def daily_book(path: Path) -> tuple:
    """The daily risk ledger at ``path`` replayed: its day, orders, held, opened and PnL."""
    from quantbot.risk.daily_ledger import DailyBook, read_events

    events = read_events(path).events
    book = DailyBook(events[0]["day"])
    for event in events:
        book.apply(event)
    return book.day, book.orders, book.held, book.opened, book.pnl


def book_positions(workdir: Path) -> dict:
    """The paper venue's positions, from its book under ``workdir/state``."""
    from quantbot.venues.sim.book import load_book

    book = load_book(workdir / "state" / "sim_venue.json")
    return {s: p.qty for s, p in book.positions.items() if p.qty}
