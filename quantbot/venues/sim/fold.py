"""Folding the paper venue's old history out of its book (``state/sim_venue.json``) at load.

The book keeps every order and fill it ever saw, and loading it is O(history). At load (the
daemon's start), orders that ended and were created more than ``keep_ns`` before the newest
activity, and fills older than that (never the newest fill: it is the fill cursor a new
journal's baseline takes), are moved out: appended to
``state/sim_venue.archive/folded-<next_seq>-<next_order_no>.jsonl`` (one order or fill per
line, written with ``fsutil.atomic_write``) before the smaller snapshot replaces the old one.
Cash, positions, marks, working orders and every client id the venue has seen (its duplicate
check) stay whole, so the account and what a restarted daemon reconciles against are the same.
A crash between the two writes folds the same items again into the same archive file
(the test hook's step ``book_folded``, ``ops.crash_hook``). The same runs while
the daemon runs, at the trading-day roll (``oms.running_compaction``, ``BookFiles.fold_now``).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from quantbot.fsutil import atomic_write, ensure_private_dir
from quantbot.ops.crash_hook import crash_step
from quantbot.venues.sim.codec import fill_doc, order_doc
from quantbot.venues.sim.state import SimBook

ARCHIVE_DIR = "sim_venue.archive"


def fold(book: SimBook, keep_ns: int, state_path: Path) -> int:
    """Fold ``book``'s old history out (see the module doc); how many items were folded."""
    newest = max(
        (book.fills[-1].ts_ns if book.fills else 0),
        max((o.created_ts_ns for o in book.orders.values()), default=0),
    )
    horizon = newest - keep_ns
    old_orders = [
        o for o in book.orders.values() if not o.status.is_open and o.created_ts_ns < horizon
    ]
    cut = 0
    while cut < len(book.fills) - 1 and book.fills[cut].ts_ns < horizon:
        cut += 1
    if not old_orders and not cut:
        return 0
    lines = [orjson.dumps({"order": order_doc(o)}) for o in old_orders]
    lines += [orjson.dumps({"fill": fill_doc(f)}) for f in book.fills[:cut]]
    folder = ensure_private_dir(state_path.parent / ARCHIVE_DIR)
    name = f"folded-{book.next_seq:012d}-{book.next_order_no:012d}.jsonl"
    atomic_write(folder / name, b"\n".join(lines) + b"\n")
    crash_step("book_folded")
    for order in old_orders:
        del book.orders[order.client_order_id]
    del book.fills[:cut]
    return len(lines)
