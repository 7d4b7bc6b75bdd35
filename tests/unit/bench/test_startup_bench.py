"""The start-up bench (bench/startup_bench.py) writes its JSON, and its compacted start reads
fewer orders than the whole one while keeping the open ones."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench.startup_bench import format_table, run_benchmark


def test_startup_bench_reports_whole_compacting_and_compacted_starts(tmp_path: Path) -> None:
    out = tmp_path / "bench" / "startup.json"

    settings = {"min_events": 100, "keep_hours": 1.0}
    report = run_benchmark([0, 200], repeat=1, out=out, settings=settings)

    assert orjson.loads(out.read_bytes()) == report
    empty, history = report["histories"]
    assert empty["orders"] == 0 and empty["last_run"]["whole"]["ledger_orders"] == 0
    runs = history["last_run"]
    assert runs["whole"]["compacted"] is None and runs["whole"]["ledger_orders"] == 200
    assert runs["compacting"]["compacted"]["orders_folded"] > 0
    assert runs["compacted"]["compacted"] is None  # nothing journaled since
    assert runs["compacted"]["ledger_orders"] < runs["whole"]["ledger_orders"]
    assert {r["open_orders"] for r in runs.values()} == {3}
    assert runs["compacted"]["journal_bytes"] < runs["whole"]["journal_bytes"]
    assert runs["compacted"]["book_orders"] < runs["whole"]["book_orders"]
    assert "compacted" in format_table(report)


def test_startup_bench_reports_the_first_start_after_a_run_that_compacted_at_its_rolls(
    tmp_path: Path,
) -> None:
    settings = {"min_events": 10**6, "keep_hours": 1.0}  # compacted at the day rolls only

    report = run_benchmark([1_500], repeat=1, out=tmp_path / "startup.json", settings=settings)

    (history,) = report["histories"]
    run = history["long_run"]
    assert run["compactions"] == 1 and run["pause_ms_max"] > 0  # one roll in 1.7 days
    assert run["ledger_orders_max_after_compaction"] <= 50  # the kept hour and the open ones
    starts = history["last_run"]
    assert starts["rolled"]["open_orders"] == starts["whole"]["open_orders"] == 3
    assert starts["rolled"]["ledger_orders"] < starts["whole"]["ledger_orders"] / 2
    assert starts["rolled"]["journal_bytes"] < starts["whole"]["journal_bytes"] / 2
    assert "rolled" in format_table(report) and "running compactions" in format_table(report)
