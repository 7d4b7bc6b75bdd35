"""Compaction while running (``oms.running_compaction``): at each trading-day roll the journal
is compacted under a daemon that keeps appending, the live ledger forgets what was folded (its
size follows the kept window, not the history), and what is on disk always rebuilds the live
account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantbot.clock import SimClock
from quantbot.config.compaction import CompactionConfig
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.running_compaction import RunningCompaction, next_roll_ns
from quantbot.testing.journal_history import START_NS, history_events

# history_events: one order every 86.4 s, 1,000 orders a trading day (roll at 00:00 UTC).
ORDERS_PER_DAY = 1_000
CONFIG = CompactionConfig(enabled=True, min_events=10**9, keep_hours=1.0)  # rolls only


def _account(ledger: Ledger) -> dict[str, Any]:
    return {
        "positions": {s: (p.qty, p.avg_price) for s, p in ledger.positions.items()},
        "open": {o.client_order_id: o for o in ledger.open_orders()},
        "fill_seq": ledger.fill_seq,
        "last_seq": ledger.last_event_seq,
        "stop_locks": ledger.stop_locks,
        "exit_plans": ledger.exit_plans,
        "submits": ledger.submits,
    }


class Daemon:
    """What the daemon does with its journal: append, apply to the live ledger, and let the
    running compaction look after each batch (here: each order)."""

    def __init__(self, path: Path, config: CompactionConfig = CONFIG) -> None:
        self.clock = SimClock(START_NS)
        self.journal = Journal(path, self.clock)
        self.ledger = Ledger()
        self.compaction = RunningCompaction(
            config, journal=self.journal, ledger=self.ledger, daily=None, book=None,
            clock=self.clock, market_clock=self.clock, roll_minute=0,
        )  # fmt: skip
        self.done: list[dict[str, Any]] = []

    def play(self, orders: int) -> list[int]:
        """Journal ``orders`` orders (1,000 a day); the ledger's order count after each roll."""
        after_rolls = []
        for event in history_events(orders):
            fields = {k: v for k, v in event.items() if k not in ("seq", "ts_ns", "type")}
            self.clock.set(event["ts_ns"])
            self.ledger.apply(self.journal.append(event["type"], **fields))
            if event["type"] in ("FILL", "LOST", "UNKNOWN"):  # an order's last event: a batch
                done = self.compaction.maybe()
                if done is not None:
                    self.done.append(done)
                    after_rolls.append(len(self.ledger.orders))
        self.journal.sync()
        return after_rolls


def test_the_ledger_forgets_folded_orders_at_each_roll_so_its_size_stays_bounded(
    tmp_path: Path,
) -> None:
    daemon = Daemon(tmp_path / "journal.jsonl")

    after_rolls = daemon.play(5 * ORDERS_PER_DAY + 500)

    # Five rolls; after each the ledger holds the kept hour (~42 orders) and the open ones,
    # not the thousands journaled before: its size is the window's, whatever the history.
    assert len(after_rolls) == 5 and {d["trigger"] for d in daemon.done} == {"roll"}
    assert max(after_rolls) <= 50, after_rolls
    assert all(d["journal"]["orders_forgotten"] >= 900 for d in daemon.done[1:])
    assert len(daemon.ledger.orders) <= 500 + 50  # the half day since the last roll
    assert len(daemon.ledger.fill_ids) <= 500 + 50


def test_what_is_on_disk_rebuilds_the_live_account_after_rolls(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    daemon = Daemon(path)

    daemon.play(3 * ORDERS_PER_DAY + 300)

    # The events appended after each compaction went into the new file (the append handle
    # moved onto it), so the journal alone rebuilds what the daemon holds.
    on_disk = Ledger.from_journal(read_journal(path), path)
    assert read_journal(path).events[0]["type"] == "SNAPSHOT"
    assert _account(on_disk) == _account(daemon.ledger)
    assert on_disk.orders.keys() == daemon.ledger.orders.keys()
    # Nothing lost: every archive is a whole journal as it was, and none grew after its link.
    archives = sorted((tmp_path / "journal.archive").iterdir())
    assert len(archives) == 3
    for archive, done in zip(archives, daemon.done, strict=True):
        assert archive.stat().st_size == done["journal"]["bytes_before"]
    assert len(path.read_bytes()) < archives[-1].stat().st_size


def test_min_events_compacts_between_rolls(tmp_path: Path) -> None:
    config = CompactionConfig(enabled=True, min_events=1_000, keep_hours=0.5)
    daemon = Daemon(tmp_path / "journal.jsonl", config)

    daemon.play(600)  # 14 hours: no roll

    triggers = [d["trigger"] for d in daemon.done]
    assert triggers and set(triggers) == {"min_events"}
    assert len(triggers) == (daemon.journal.next_seq - 1) // 1_000 >= 2
    on_disk = Ledger.from_journal(read_journal(daemon.journal.path), daemon.journal.path)
    assert _account(on_disk) == _account(daemon.ledger)


def test_next_roll_is_the_start_of_the_next_trading_day() -> None:
    day = 86_400 * 10**9
    midnight = START_NS  # 2026-01-01T00:00:00Z
    assert next_roll_ns(midnight, 0) == midnight + day
    assert next_roll_ns(midnight - 1, 0) == midnight
    assert next_roll_ns(midnight, 90) == midnight + 90 * 60 * 10**9
    assert next_roll_ns(midnight + 90 * 60 * 10**9, 90) == midnight + day + 90 * 60 * 10**9
