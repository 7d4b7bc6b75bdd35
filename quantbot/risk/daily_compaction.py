"""Compaction of the daily risk ledger (``state/daily_risk.jsonl``) at start-up.

The guard's book after a ROLL depends on the days before it only through the orders still
reserving (``remaining_usd > 0``) and the notional held per sleeve and symbol: the ROLL
starts realised pnl, opened notional and the turnover count again. So when at least
``min_events`` lines come before the last ROLL (``[compaction] min_events``), the file is
replaced by one ``SNAPSHOT`` line (the book just after that ROLL) followed, byte for byte, by
the lines after it. Steps, each safe to crash after (as ``oms.compaction``): the file is hard
linked to ``state/daily_risk.archive/<name>-<day>-<lines>.jsonl`` (nothing is lost), the new
file is written with ``fsutil.atomic_write``; before that, the new bytes are replayed and must
build the same book as the whole file, or the file is left whole.

While the daemon runs (``oms.running_compaction``, at the trading-day roll) the same is done by
``compact_running``: the guard's ROLL is written first, the file is read back (everything
appended is flushed; nothing is appended until this returns: one event loop, no await), and
the guard's append handle is moved onto the new file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.domain.errors import StartupError
from quantbot.fsutil import atomic_write, ensure_private_dir, read_private
from quantbot.oms.compaction import crash_step, fsync_dir
from quantbot.risk.daily_ledger import DailyBook, DailyLedger, EventType, LedgerReplay, read_events

ARCHIVE_SUFFIX = ".archive"


def book_doc(book: DailyBook) -> dict[str, Any]:
    """What a SNAPSHOT line carries: the book's day, reserving orders and holdings."""
    return {
        "day": book.day,
        "orders": {
            cid: [o.symbol, o.sleeve, o.notional_usd, o.risk_usd, o.remaining_usd]
            for cid, o in book.orders.items()
        },
        "held": [[s, sym, h.notional_usd, h.risk_usd] for (s, sym), h in book.held.items()],
    }


def _state(book: DailyBook) -> tuple[Any, ...]:
    turnover = book.turnover
    return (book.day, book.orders, book.held, book.opened, book.pnl, vars(turnover))


def maybe_compact_daily(
    path: Path, replay: LedgerReplay, book: DailyBook, min_events: int | None
) -> bool:
    """Compact ``path`` if due (see the module doc); True when it was replaced."""
    events = replay.events
    if min_events is None:
        return False
    last_roll = max((i for i, e in enumerate(events) if e["type"] == EventType.ROLL), default=-1)
    if last_roll + 1 < min_events:
        return False
    at_roll = DailyBook(events[0]["day"])
    for event in events[: last_roll + 1]:
        at_roll.apply(event)
    roll = events[last_roll]
    snapshot = {"ts": roll["ts"], **book_doc(at_roll), "type": EventType.SNAPSHOT}
    raw = read_private(path)
    offset = 0
    for _ in range(replay.line_numbers[last_roll]):
        offset = raw.index(b"\n", offset) + 1
    data = orjson.dumps(snapshot, option=orjson.OPT_APPEND_NEWLINE) + raw[offset:]
    rebuilt = DailyBook(snapshot["day"])
    for line in data.split(b"\n"):
        if line.strip():
            rebuilt.apply(orjson.loads(line))
    if _state(rebuilt) != _state(book):
        logger.error("{}: compaction skipped, the compacted ledger builds another book", path)
        return False
    crash_step("daily_start")
    folder = ensure_private_dir(path.with_name(path.name.split(".")[0] + ARCHIVE_SUFFIX))
    archive = folder / f"{path.stem}-{roll['day']}-{len(events):09d}.jsonl"
    if not archive.exists():
        os.link(path, archive)
        fsync_dir(folder)
    crash_step("daily_archived")
    atomic_write(path, data, before_replace=lambda: crash_step("daily_written"))
    logger.info(
        "{}: compacted {} lines before the {} roll into a snapshot ({} -> {} bytes; whole "
        "file in {})",
        path,
        last_roll + 1,
        roll["day"],
        len(raw),
        len(data),
        archive,
    )
    return True


def compact_running(ledger: DailyLedger, book: DailyBook) -> bool:
    """Compact the running guard's ledger file (the module doc): True when it was replaced.
    A file that cannot be flushed, read or written is left whole (logged): the next roll
    tries again."""
    if ledger.closed:
        return False
    pending = ledger.flush()
    if pending:
        logger.error("{}: not compacted, {} bytes are not written yet", ledger.path, pending)
        return False
    try:
        return maybe_compact_daily(ledger.path, read_events(ledger.path), book, 1)
    except (OSError, StartupError) as e:
        logger.error("{}: not compacted ({}); the file is left whole", ledger.path, e)
        return False
    finally:
        ledger.reopen()  # onto the new file if the rename happened, whatever came after it
