"""Start-up bench: what a restart costs with 0, 10k and 100k orders of history.

For each history size a temp ``state/`` gets a realistic order journal and the paper venue's
book (``quantbot.testing.journal_history``: ~4 events and ~1.1 KB of journal per order, one
order every 86.4 s, a working LIMIT, an UNKNOWN and a LOST order at the end). Each start is a
fresh ``python`` process (so its peak RSS is its own) that imports quantbot, then times, in
CPU seconds, what start-up does with that state:

- ``journal``: ``read_journal`` + ``Ledger.from_journal`` + ``maybe_compact``;
- ``book``: the paper venue's book loaded as the venue starts (snapshot + change log read,
  old history folded out when compaction is on, the snapshot written back).

Three kinds of start, interleaved ``--repeat`` times (medians quoted):

- ``whole``: compaction off: the journal and the book read whole, as before issue 23;
- ``compacting``: the first start with compaction on (``[compaction]`` defaults): reads the
  whole journal and book once, archives them and writes the compacted ones;
- ``compacted``: the next start, which reads the snapshot and the kept window only;
- ``rolled``: the first start after a long uninterrupted run that compacted at each of its
  trading-day rolls while running (``oms.running_compaction``; the run is played first, in
  this process: the same journal events appended through the daemon's ``Journal`` and live
  ``Ledger``, one order every 86.4 s, so a roll every 1,000 orders, and the paper book as it
  folds at the last roll). The report's ``long_run`` says what that run did: its rolls, the
  pause each compaction held the loop for (wall ms, fsyncs included) and the largest
  ledger it kept after a roll.

    python -m bench.startup_bench [--orders 0 10000 100000] [--repeat 3] [--min-events N]
                                  [--keep-hours H] [--out PATH]

Writes ``runtime/bench/startup.json``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.provenance import finish, report_head

DEFAULT_OUT = Path("runtime/bench/startup.json")
DEFAULT_ORDERS = (0, 10_000, 100_000)
KINDS = ("whole", "compacting", "compacted", "rolled")
FIGURES = (
    "journal_cpu_s",
    "book_cpu_s",
    "total_cpu_s",
    "peak_rss_mb",
    "rss_after_mb",
    "import_rss_mb",
)


def _vm_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` of this process in MB: unlike ``ru_maxrss``, not
    inherited from the parent that forked it (Linux keeps ru_maxrss across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(state: Path, compact: bool, settings: dict[str, Any]) -> dict[str, Any]:
    """One start-up's work on ``state`` (run in a fresh process)."""
    from quantbot.config.compaction import CompactionConfig
    from quantbot.oms.compaction import maybe_compact
    from quantbot.oms.journal import read_journal
    from quantbot.oms.ledger import Ledger
    from quantbot.venues.sim.book import BookFiles

    import_rss = _vm_mb("VmHWM")
    path = state / "journal.jsonl"
    t0 = time.process_time()
    replay = read_journal(path)
    ledger = Ledger.from_journal(replay, path)
    config = CompactionConfig(enabled=compact, **settings)
    ledger, done = maybe_compact(path, replay, ledger, config)
    del replay
    t1 = time.process_time()
    keep_ns = int(config.keep_hours * 3_600 * 1_000_000_000) if compact else None
    files = BookFiles(state / "sim_venue.json", keep_ns=keep_ns)
    book = files.load()  # as the venue starts: read, fold (when on), write the snapshot
    t2 = time.process_time()
    files.close(book)
    return {
        "journal_cpu_s": t1 - t0,
        "book_cpu_s": t2 - t1,
        "total_cpu_s": t2 - t0,
        "peak_rss_mb": _vm_mb("VmHWM"),
        "rss_after_mb": _vm_mb("VmRSS"),
        "import_rss_mb": import_rss,
        "ledger_orders": len(ledger.orders),
        "open_orders": len(ledger.open_orders()),
        "book_orders": len(book.orders),
        "compacted": None if done is None else done.to_record(),
        "journal_bytes": path.stat().st_size if path.exists() else 0,
    }


def _start(state: Path, compact: bool, settings: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}
    extra = ["--settings", orjson.dumps(settings).decode()]
    done = subprocess.run(
        [sys.executable, "-m", "bench.startup_bench", "--child", str(state), *extra]
        + (["--compact"] if compact else []),
        check=True,
        capture_output=True,
        env=env,
    )
    return orjson.loads(done.stdout.splitlines()[-1])


def _history(root: Path, orders: int) -> Path:
    from quantbot.fsutil import ensure_private_dir
    from quantbot.testing.journal_history import write_book, write_history

    state = ensure_private_dir(root / f"h{orders}")
    if orders:
        write_history(state / "journal.jsonl", orders)
    write_book(state / "sim_venue.json", orders)
    return state


def _long_run(root: Path, orders: int, settings: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The ``state/`` a run of ``orders`` orders leaves when it compacted at its day rolls
    (the module doc), and what that run's compactions did."""
    from quantbot.clock import SimClock
    from quantbot.config.compaction import CompactionConfig
    from quantbot.fsutil import ensure_private_dir
    from quantbot.oms.journal import Journal
    from quantbot.oms.ledger import Ledger
    from quantbot.oms.running_compaction import RunningCompaction
    from quantbot.testing.journal_history import START_NS, history_events, write_book
    from quantbot.venues.sim.book import BookFiles

    state = ensure_private_dir(root / f"r{orders}")
    clock = SimClock(START_NS)
    journal = Journal(state / "journal.jsonl", clock)
    ledger = Ledger()
    config = CompactionConfig(enabled=True, **settings)
    compaction = RunningCompaction(
        config, journal=journal, ledger=ledger, daily=None, book=None, clock=clock,
        market_clock=clock, roll_minute=0,
    )  # fmt: skip
    pauses: list[float] = []
    kept: list[int] = []
    last_roll_ns = START_NS
    for event in history_events(orders):
        fields = {k: v for k, v in event.items() if k not in ("seq", "ts_ns", "type")}
        clock.set(event["ts_ns"])
        ledger.apply(journal.append(event["type"], **fields))
        t0 = time.perf_counter()
        done = compaction.maybe()  # as after each batch
        if done is not None:
            pauses.append((time.perf_counter() - t0) * 1e3)
            kept.append(done["ledger_orders"])
            last_roll_ns = event["ts_ns"]
    journal.close()
    # The paper book as it folded at the last roll: history before (roll - keep_hours) out.
    write_book(state / "sim_venue.json", orders)
    newest = START_NS + orders * int(86.4e9)
    keep_ns = int(config.keep_hours * 3_600e9) + (newest - last_roll_ns)
    files = BookFiles(state / "sim_venue.json", keep_ns=keep_ns)
    files.close(files.load())
    shutil.rmtree(state.parent / "sim_venue.archive", ignore_errors=True)
    return state, {
        "compactions": len(pauses),
        "pause_ms_median": round(statistics.median(pauses), 2) if pauses else None,
        "pause_ms_max": round(max(pauses), 2) if pauses else None,
        "ledger_orders_max_after_compaction": max(kept, default=None),
        "ledger_orders_at_end": len(ledger.orders),
    }


def measure(orders: int, repeat: int, root: Path, settings: dict[str, Any]) -> dict[str, Any]:
    pristine = _history(root, orders)
    rolled, long_run = _long_run(root, orders, settings)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for n in range(repeat):
        work = root / f"w{orders}-{n}"
        shutil.copytree(pristine, work)
        runs["whole"].append(_start(work, False, settings))
        runs["compacting"].append(_start(work, True, settings))
        runs["compacted"].append(_start(work, True, settings))
        shutil.rmtree(work)
        shutil.copytree(rolled, work)
        runs["rolled"].append(_start(work, True, settings))
        shutil.rmtree(work)
    median = {
        kind: {f: round(statistics.median(r[f] for r in rs), 4) for f in FIGURES}
        for kind, rs in runs.items()
    }
    last = {kind: rs[-1] for kind, rs in runs.items()}
    return {"orders": orders, "median": median, "last_run": last, "long_run": long_run}


def run_benchmark(
    orders: list[int], repeat: int, out: Path, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``settings``: [compaction] values other than the config's defaults."""
    settings = settings or {}
    report = report_head("startup")
    report["settings"] = {
        "orders": orders,
        "repeat": repeat,
        "compaction": settings,
        "clock": "process CPU time",
    }
    with tempfile.TemporaryDirectory(prefix="qb-startup-") as tmp:
        report["histories"] = [measure(n, repeat, Path(tmp), settings) for n in orders]
    finish(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return report


def format_table(report: dict[str, Any]) -> str:
    lines = [
        f"start-up bench, CPU s, median of {report['settings']['repeat']} interleaved runs",
        f"{'orders':>8} {'start':<11}{'journal s':>10}{'book s':>8}{'total s':>9}"
        f"{'peak MB':>8}{'after MB':>9}{'(import)':>9}",
    ]
    for h in report["histories"]:
        for kind in KINDS:
            m = h["median"][kind]
            lines.append(
                f"{h['orders']:>8} {kind:<11}{m['journal_cpu_s']:>10.3f}{m['book_cpu_s']:>8.3f}"
                f"{m['total_cpu_s']:>9.3f}{m['peak_rss_mb']:>8.1f}{m['rss_after_mb']:>9.1f}"
                f"{m['import_rss_mb']:>9.1f}"
            )
    for h in report["histories"]:
        run = h["long_run"]
        lines.append(
            f"{h['orders']:>8} orders in one run: {run['compactions']} running compactions, "
            f"pause median {run['pause_ms_median']} ms, max {run['pause_ms_max']} ms; ledger "
            f"after each at most {run['ledger_orders_max_after_compaction']} orders"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup_bench", description=__doc__)
    parser.add_argument("--orders", type=int, nargs="+", default=list(DEFAULT_ORDERS),
                        help="history sizes, in orders")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs (median quoted)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--min-events", type=int, help="compaction.min_events (default: config)")
    parser.add_argument("--keep-hours", type=float, help="compaction.keep_hours (default: config)")
    parser.add_argument("--settings", type=orjson.loads, default={}, help=argparse.SUPPRESS)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--compact", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(orjson.dumps(child(args.child, args.compact, args.settings)).decode())
        return 0
    if args.repeat < 1 or any(n < 0 for n in args.orders):
        parser.error("--repeat must be >= 1 and --orders >= 0")
    wanted = {"min_events": args.min_events, "keep_hours": args.keep_hours}
    settings = {k: v for k, v in wanted.items() if v is not None}
    report = run_benchmark(args.orders, args.repeat, args.out, settings)
    print(format_table(report))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
