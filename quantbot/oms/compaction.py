"""Journal compaction: start-up that reads what changed since the last start, not all history.

When it runs: at daemon start-up, after the journal is read and before it is opened for
appending (the lock is held, nothing else writes it), if at least ``min_events`` events were
journaled since its last ``SNAPSHOT`` (``[compaction]`` in config.toml). A replay never
compacts (its state starts empty), so its journal stays byte for byte what it was.

What it writes, in order, each step safe to crash after:

1. ``state/journal.archive/journal-<upto_seq>.jsonl``: a hard link to the journal as it is
   (no copy; the old file, whole, stays there: nothing is lost, and a torn snapshot falls
   back to it);
2. the compacted journal, through ``fsutil.atomic_write`` (temp file, fsync, rename, directory
   fsync): one ``SNAPSHOT`` line (the ledger as all the events left it: positions, external
   inventory, fill cursor, exit plans, stop locks, counters, and every order still needed)
   followed, byte for byte, by the events of the last ``keep_hours`` of journal time, which
   the snapshot already includes and readers of recent history (dashboard, notify) still see.

Orders kept in the snapshot: every open or unresolved one (NEW, UNKNOWN, LOST, working), every
order with an event in the kept window, every overfilled one and every leg a live exit plan
names. Terminal orders whose last event is older than the window are folded: their fills are
in the positions, their client ids are no longer looked up (a restart re-decides recent bars
only, and a venue's look-back for late fills is minutes, far inside the window).

Before the file is replaced the compacted bytes are read back into a ledger (the kept lines
all lie at or below the snapshot's ``upto_seq``, so that is its first line, and the kept
lines must begin with the window's first event) and compared with the one the whole
history built (positions, external inventory, open orders, fill cursor,
last seq); any difference keeps the old journal and is logged.

A test hook, reachable only with ``QUANTBOT_TESTING=1``: ``QUANTBOT_TEST_COMPACT_KILL_AT=<step>``
SIGKILLs the daemon at that step (``start``, ``archived``, ``written``, ``replaced``; the
daily ledger's ``daily_start``, ``daily_archived``, ``daily_written``: ``risk.daily_compaction``;
the paper book's ``book_folded``: ``venues.sim.fold``; ``ops.crash_hook``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson
from loguru import logger

from quantbot.config.compaction import CompactionConfig
from quantbot.domain.errors import StartupError
from quantbot.fsutil import atomic_write, ensure_private_dir, read_private
from quantbot.oms.journal import EventType, JournalReplay, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.ledger_snapshot import ledger_doc
from quantbot.ops.crash_hook import crash_step

ARCHIVE_DIR = "journal.archive"
_NS_PER_HOUR = 3_600_000_000_000


@attrs.frozen
class Compacted:
    events_before: int
    events_kept: int  # raw events kept after the SNAPSHOT line
    orders_kept: int
    orders_folded: int
    bytes_before: int
    bytes_after: int
    archive: Path

    def to_record(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "archive": str(self.archive)}


def archives(path: Path) -> list[Path]:
    """The journal's archived versions beside ``path``, newest first."""
    folder = path.parent / ARCHIVE_DIR
    if not folder.is_dir():
        return []
    return sorted(folder.glob("journal-*.jsonl"), reverse=True)


def events_since_snapshot(replay: JournalReplay) -> int:
    events = replay.events
    if not events or events[0]["type"] != EventType.SNAPSHOT:
        return len(events)
    upto = events[0]["upto_seq"]
    return sum(1 for e in events if e["seq"] > upto)


def maybe_compact(
    path: Path, replay: JournalReplay, ledger: Ledger, config: CompactionConfig
) -> tuple[Ledger, Compacted | None]:
    """Compact the journal at ``path`` if due; return the ledger to trade on (rebuilt from
    the compacted file when it was) and what was done."""
    fell_back = replay.snapshot_fallback is not None
    if not config.enabled or not replay.events:
        return ledger, None
    if not fell_back and events_since_snapshot(replay) < config.min_events:
        return ledger, None
    return compact(path, replay, ledger, config)


def compact(
    path: Path, replay: JournalReplay, ledger: Ledger, config: CompactionConfig
) -> tuple[Ledger, Compacted | None]:
    events = replay.events
    start = _window_start(events, config.keep_hours)
    raw = read_private(path)
    kept_bytes = _raw_tail(raw, replay, start)
    keep = _kept_orders(ledger, events[start:])
    doc = ledger_doc(ledger, keep, _kept_fill_ids(events, start, keep))
    upto = ledger.last_event_seq
    first_kept = events[start]["seq"] if start < len(events) else upto + 1
    snapshot = {
        "seq": first_kept - 1,
        "ts_ns": events[max(start - 1, 0)]["ts_ns"],
        "type": EventType.SNAPSHOT,
        "upto_seq": upto,
        "ledger": doc,
    }
    line = orjson.dumps(snapshot, option=orjson.OPT_APPEND_NEWLINE)
    data = line + kept_bytes
    # The kept lines all have a seq at or below upto (the snapshot holds them): replaying
    # the compacted file is replaying its first line; the tail must start where it should.
    rebuilt = Ledger.from_events([orjson.loads(line)])
    problem = _differs(ledger, rebuilt) or _tail_problem(kept_bytes, events, start)
    if problem is not None:
        logger.error("journal compaction skipped, the journal is left whole: {}", problem)
        return ledger, None
    crash_step("start")
    archive = ensure_private_dir(path.parent / ARCHIVE_DIR) / f"journal-{upto:012d}.jsonl"
    if not archive.exists():  # a compaction that crashed after this step linked it already
        os.link(path, archive)
        fsync_dir(archive.parent)
    crash_step("archived")
    atomic_write(path, data, before_replace=lambda: crash_step("written"))
    crash_step("replaced")
    done = Compacted(
        events_before=len(events),
        events_kept=len(events) - start,
        orders_kept=len(keep & ledger.orders.keys()),
        orders_folded=len(ledger.orders.keys() - keep),
        bytes_before=len(raw),
        bytes_after=len(data),
        archive=archive,
    )
    logger.info("journal compacted: {}", done.to_record())
    return rebuilt, done


def _window_start(events: list[dict[str, Any]], keep_hours: float) -> int:
    """The index of the first event of the kept window (the last ``keep_hours`` of journal
    time, measured back from the newest event, so an idle daemon keeps what it last did)."""
    horizon = events[-1]["ts_ns"] - int(keep_hours * _NS_PER_HOUR)
    start = len(events)
    while start > 0:
        event = events[start - 1]
        if event["ts_ns"] < horizon or event["type"] == EventType.SNAPSHOT:
            break
        start -= 1
    return start


def _raw_tail(raw: bytes, replay: JournalReplay, start: int) -> bytes:
    """The file's bytes from the line of event ``start`` on, unchanged."""
    if start >= len(replay.events):
        return b""
    line = replay.lines[start]
    offset = 0
    for _ in range(line - 1):
        offset = raw.index(b"\n", offset) + 1
    tail = raw[offset:]
    return tail if tail.endswith(b"\n") else tail + b"\n"


def _kept_orders(ledger: Ledger, window: list[dict[str, Any]]) -> set[str]:
    keep = {o.client_order_id for o in ledger.open_orders()}
    keep.update(e["client_order_id"] for e in window if "client_order_id" in e)
    keep.update(ledger.overfilled)
    keep.update(c for c in _strings(ledger.exit_plans) if c in ledger.orders)
    return keep


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _kept_fill_ids(events: list[dict[str, Any]], start: int, keep: set[str]) -> dict[str, str]:
    """Fill id -> client id for the fills of kept orders and every fill in the window."""
    kept: dict[str, str] = {}
    upto = -1
    if events and events[0]["type"] == EventType.SNAPSHOT:
        upto = events[0]["upto_seq"]
        previous = events[0]["ledger"]["fill_ids"]
        kept.update((f, c) for f, c in previous.items() if c in keep)
    for index, e in enumerate(events):
        if e["type"] != EventType.FILL or e["seq"] <= upto:
            continue
        if index >= start or e["client_order_id"] in keep:
            kept[e["fill_id"]] = e["client_order_id"]
    return kept


def _tail_problem(kept: bytes, events: list[dict[str, Any]], start: int) -> str | None:
    if not kept:
        return None
    first = orjson.loads(kept[: kept.index(b"\n")])
    if first != events[start]:
        return "the kept lines do not start at the window's first event"
    return None


def _differs(whole: Ledger, rebuilt: Ledger) -> str | None:
    checks = {
        "positions": lambda g: g.positions,
        "external": lambda g: g.external,
        "open orders": lambda g: {o.client_order_id: o for o in g.open_orders()},
        "fill cursor": lambda g: g.fill_seq,
        "last seq": lambda g: g.last_event_seq,
        "stop locks": lambda g: g.stop_locks,
        "exit plans": lambda g: g.exit_plans,
    }
    for name, get in checks.items():
        if get(whole) != get(rebuilt):
            return f"the compacted journal's {name} differ from the whole journal's"
    return None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_archived(path: Path, first: bytes, rest: JournalReplay) -> JournalReplay | None:
    """A journal whose first line (its SNAPSHOT) cannot be read: the newest archive that
    reads whole (the journal before that compaction), then the lines after the torn snapshot
    with a seq past it. None when there is no readable archive."""
    for archive in archives(path):
        try:
            older = read_journal(archive, repair=False)
        except StartupError as e:  # a corrupt archive: try the one before it
            logger.error("{}: cannot fall back to it: {}", archive, e)
            continue
        last = older.events[-1]["seq"] if older.events else 0
        newer = [(e, n) for e, n in zip(rest.events, rest.lines, strict=True) if e["seq"] > last]
        logger.error(
            "{}:1: the journal's snapshot cannot be read ({} bytes); falling back to {} and "
            "the {} events after it",
            path,
            len(first),
            archive,
            len(newer),
        )
        return attrs.evolve(
            rest,
            events=[*older.events, *(e for e, _ in newer)],
            lines=[*([0] * len(older.events)), *(n for _, n in newer)],
            snapshot_fallback=archive,
        )
    return None
