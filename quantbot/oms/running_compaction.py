"""Compaction while the daemon runs: the order journal, the daily risk ledger and the paper
book, at each trading-day roll and whenever ``[compaction] min_events`` events were journaled
since the journal's last snapshot.

Start-up compaction (``oms.compaction``) reads what happened since the last start; without
this, the first start after a long uninterrupted run read that whole stretch. Here the same
steps run on the live state, with the same guarantees (hard-link archive first, the snapshot
written with ``fsutil.atomic_write``, verified against the live ledger before the rename, the
events after it kept byte for byte, a torn snapshot falls back to the archive):

1. the journal: everything appended is flushed, the file is read back and compacted against
   the live ledger, and the journal's append handle moves onto the new file. Nothing runs in
   between (one event loop, no await from the flush to the reopen), so no event can be
   appended to the old file after it was read; then the live ledger forgets what the snapshot
   folded (ended orders older than ``keep_hours``, their fill ids), so its size follows the
   kept window, not the history;
2. the daily risk guard writes its ROLL if due and compacts its ledger
   (``risk.daily_compaction.compact_running``);
3. the paper book folds its old orders and fills out (``venues.sim.fold``; other venues keep
   their books themselves).

A step that fails (disk full, an unreadable line, a compacted journal that rebuilds another
ledger) leaves its file whole, is logged, and is tried again at the next trigger. The pause
(the loop is held for it) is logged and kept in ``last``: it grows with the kept window and
the day since the last snapshot, not with the history (1,000 orders a day and the shipped 48
hours: 70-90 ms of CPU plus the fsyncs, ``bench/startup_bench.py``'s ``long_run``). The crash
test's steps (``ops.crash_hook``) are ``running_begin`` and ``running_<step>`` for each step
of the three. Only a run whose journal is durable
compacts (``Durability.sync_before_submit``): a replay's journal stays byte for byte what
the bars made, as its start-up never compacts either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.clock import NS_PER_S, Clock
from quantbot.config.compaction import CompactionConfig
from quantbot.fsutil import read_private
from quantbot.oms.compaction import compact
from quantbot.oms.journal import Journal, JournalReplay
from quantbot.oms.ledger import Ledger
from quantbot.ops.crash_hook import crash_step, running_phase
from quantbot.risk.daily import DailyRiskGuard
from quantbot.venues.base import EmbeddedVenue

_NS_PER_DAY = 86_400 * NS_PER_S


def next_roll_ns(now_ns: int, roll_minute: int) -> int:
    """The start of the trading day after the one containing ``now_ns`` (``risk.daily``)."""
    offset = roll_minute * 60 * NS_PER_S
    return ((now_ns - offset) // _NS_PER_DAY + 1) * _NS_PER_DAY + offset


class RunningCompaction:
    """``maybe()`` once per market-data batch: two integer comparisons unless one is due."""

    def __init__(
        self,
        config: CompactionConfig,
        *,
        journal: Journal,
        ledger: Ledger,
        daily: DailyRiskGuard | None,
        book: EmbeddedVenue | None,
        clock: Clock,
        market_clock: Clock,
        roll_minute: int,
    ) -> None:
        self._config = config
        self._journal = journal
        self._ledger = ledger
        self._daily = daily
        self._book = book
        self._clock = clock  # the pause is measured on its monotonic side
        self._market_clock = market_clock  # the daily guard's: the roll is the guard's roll
        self._roll_minute = roll_minute
        self._upto = max(ledger.snapshot_seq, 0)  # the journal's events in its snapshot
        self._due_seq = self._upto + config.min_events + 1  # journal.next_seq that is due
        self._next_roll_ns = next_roll_ns(market_clock.now_ns(), roll_minute)
        self.last: dict[str, Any] | None = None  # what the last compaction did

    def maybe(self) -> dict[str, Any] | None:
        """Compact if a roll passed or the journal grew by ``min_events``; what was done."""
        if (
            self._journal.next_seq < self._due_seq
            and self._market_clock.now_ns() < self._next_roll_ns
        ):
            return None
        return self.run()

    def run(self) -> dict[str, Any]:
        started = self._clock.monotonic_ns()
        now = self._market_clock.now_ns()
        done: dict[str, Any] = {"trigger": "roll" if now >= self._next_roll_ns else "min_events"}
        self._next_roll_ns = next_roll_ns(now, self._roll_minute)
        with running_phase():  # the crash test's steps are running_<step> here
            crash_step("begin")
            done["journal"] = self._compact_journal()
            if self._daily is not None:
                done["daily_risk"] = self._daily.compact()
            if self._book is not None:
                done["book_folded"] = self._book.compact_history()
        done["ledger_orders"] = len(self._ledger.orders)
        done["pause_ms"] = round((self._clock.monotonic_ns() - started) / 1e6, 3)
        self.last = done
        logger.info("running compaction: {}", done)
        return done

    def _compact_journal(self) -> dict[str, Any] | None:
        journal, ledger = self._journal, self._ledger
        # Tried again after min_events more, whatever happens now (no retry on every batch).
        self._due_seq = journal.next_seq + self._config.min_events
        if journal.next_seq - 1 <= self._upto:
            return None  # nothing journaled since the last snapshot
        journal.sync()
        if journal.pending:
            logger.error("journal not compacted: {} bytes are not written yet", journal.pending)
            return None
        try:
            replay = _read_own(journal.path)
            rebuilt, compacted = compact(journal.path, replay, ledger, self._config)
        except (OSError, ValueError) as e:  # the file is left whole (compact's steps)
            logger.error("journal not compacted ({}); it is left whole", e)
            return None
        finally:
            journal.reopen()  # onto the new file if the rename happened, whatever came after
        if compacted is None:
            return None
        forgotten = forget(ledger, rebuilt)
        self._upto = ledger.last_event_seq
        self._due_seq = self._upto + self._config.min_events + 1
        return {**compacted.to_record(), "orders_forgotten": forgotten}


def _read_own(path: Path) -> JournalReplay:
    """The journal this daemon has been appending to, flushed: every line whole and valid
    (written by ``Journal.append``, or checked by the start-up read), so parsed without
    ``read_journal``'s checks, a third of its time. A line that does not parse raises
    ``ValueError`` (``orjson.JSONDecodeError``): not compacted."""
    events: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in enumerate(read_private(path).split(b"\n"), start=1):
        if line.strip():
            events.append(orjson.loads(line))
            numbers.append(number)
    return JournalReplay(events, None, None, numbers)


def forget(live: Ledger, rebuilt: Ledger) -> int:
    """Drop from the ``live`` ledger the orders a compaction folded (those the ``rebuilt``
    one, read back from the compacted journal, does not hold: ended and older than the kept
    window), with their fill ids and per-order notes; how many. In place: other parts hold
    the live ledger and its mappings."""
    gone = live.orders.keys() - rebuilt.orders.keys()
    for cid in gone:
        order = live.orders.pop(cid)
        assert not order.status.is_open, cid  # compaction keeps every open order
        live.cursor_at_intent.pop(cid, None)
        live.exit_roles.pop(cid, None)
        live.exit_params.pop(cid, None)
        live.overfilled.pop(cid, None)
    live.external_ids -= gone
    live.reducing_ids -= gone
    live.invariants_logged -= gone
    live.fill_ids &= rebuilt.fill_ids
    return len(gone)


def open_running_compaction(
    config: CompactionConfig,
    *,
    durable: bool,
    journal: Journal,
    ledger: Ledger,
    daily: DailyRiskGuard,
    book: EmbeddedVenue | None,
    clock: Clock,
    market_clock: Clock,
    roll_minute: int,
) -> RunningCompaction | None:
    """The running compaction of a paper or live run (None: compaction off, or a journal
    that is not durable: a replay's, see the module doc)."""
    if not config.enabled or not durable:
        return None
    return RunningCompaction(
        config, journal=journal, ledger=ledger, daily=daily, book=book, clock=clock,
        market_clock=market_clock, roll_minute=roll_minute,
    )  # fmt: skip
