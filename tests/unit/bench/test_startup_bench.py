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
