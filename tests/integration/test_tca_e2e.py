"""TCA as a user meets it: a paper run writes one record per order it sent to
runtime/tca.jsonl, and `quantbot report tca` aggregates them with counts that match."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import orjson

from quantbot.clock import LiveClock, utc_date
from tests.integration.daemon import journal_events, read_jsonl, run

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive", "--duration", "4s")


def test_paper_run_records_tca_and_the_report_counts_match(workdir: Path) -> None:
    day = utc_date(LiveClock().now_ns())
    result = run(workdir, *PAPER)
    assert result.returncode == 0, result.stderr[-2000:]
    sent = {e["client_order_id"] for e in journal_events(workdir) if e["type"] == "INTENT"}
    assert sent, "the run sent no order"
    latest: dict[str, dict] = {}
    for record in read_jsonl(workdir / "runtime" / "tca.jsonl"):
        latest[record["client_order_id"]] = record  # a later line supersedes
    assert set(latest) == sent  # exactly one order's record per order sent
    filled = [r for r in latest.values() if r["status"] == "filled"]
    assert filled
    for r in filled:
        assert r["fill_vwap"] is not None and r["fill_latency_ms"] >= 0
    # Spread paid from the embedded venue's own quote at arrival (its spread model), not half
    # the proxy: every order the desk sent (exit legs are measured against their trigger).
    entries = [r for r in filled if not r["decision_id"].startswith("exit:")]
    assert entries
    for r in entries:
        assert (r["spread_source"], r["quote_source"]) == ("quote", "venue_model")
        bid, ask = Decimal(r["quote"]["bid"]), Decimal(r["quote"]["ask"])
        mid, side = (bid + ask) / 2, 1 if r["side"] == "BUY" else -1
        paid = side * (Decimal(r["fill_vwap"]) - mid) / mid * 10_000
        assert r["spread_paid_bps"] == float(paid.quantize(Decimal("0.0001")))
        assert r["quoted_spread_bps"] == float(
            ((ask - bid) / mid * 10_000).quantize(Decimal("0.0001"))
        )

    report = run(workdir, "report", "tca", "--date", day)
    assert report.returncode == 0, report.stderr
    [json_path] = (workdir / "runtime" / "reports").glob(f"tca-report-{day}.json")
    data = orjson.loads(json_path.read_bytes())
    assert data["overall"]["orders"] == len(latest)
    assert data["overall"]["filled"] == len(filled)
    with (workdir / "runtime" / "reports" / f"tca-report-{day}.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows  # one row per group


def test_report_for_a_bad_date_is_a_usage_error(workdir: Path) -> None:
    result = run(workdir, "report", "tca", "--date", "2026-13-40")
    assert result.returncode == 2
    assert "--date '2026-13-40': use YYYY-MM-DD or all" in result.stderr
