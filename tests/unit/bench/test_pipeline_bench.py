"""The pipeline benchmark runs end to end on a tiny workload and writes a complete report.

No timing assertions: the machine is shared. Only shape, counts and ordering are checked.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from bench.pipeline_bench import TARGETS, format_table, main, run_benchmark

BARS = 300
ROUND_TRIP_BARS = 5_000  # past the warm-up (1,000 bars) and a 2-day quarantine from bar 728


def test_tiny_workload_report(repo_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report.json"
    report = run_benchmark(
        [(1, BARS), (2, BARS)], repeat=1, out=out, config_path=repo_root / "config.toml"
    )

    assert orjson.loads(out.read_bytes()) == report
    assert report["config"]["hash"]
    assert report["timestamp"]
    for key in ("python", "platform", "cpu_count", "event_loop"):
        assert key in report["machine"]
    assert "commit" in report["git"]
    assert [w["name"] for w in report["workloads"]] == [f"1x{BARS}", f"2x{BARS}"]
    for workload, symbols in zip(report["workloads"], (1, 2), strict=True):
        assert len(workload["runs"]) == 1
        counts, median = workload["counts"], workload["median"]
        assert counts["bars"] == BARS * symbols
        assert counts["orders"] > 0
        assert counts["fills"] > 0
        # One decision record per bar, plus the positions' exit lines (EXIT_LEGS, EXIT_DONE).
        assert counts["bars"] < counts["records"] < counts["bars"] + 4 * counts["orders"]
        for key in ("p50_us", "p99_us", "p99_9_us", "bars_per_s", "wall_s", "peak_rss_mb"):
            assert median[key] > 0, key
        assert median["p50_us"] <= median["p99_us"] <= median["p99_9_us"]
        run = workload["runs"][0]
        assert run["symbols"] == symbols
        assert 0 < run["warmup_bar_times"] < BARS
        assert run["p50_us"] <= run["p99_us"] <= run["p99_9_us"] <= run["max_us"]
    assert f"1x{BARS}" in format_table(report)
    assert "order round trip" in format_table(report)
    fsync = report["fsync"]  # the disk's floor under a paper round trip's wall time
    assert 0 < fsync["fsync_p50_us"] <= fsync["fsync_p99_us"]
    assert "one fsync'd line on this disk" in format_table(report)
    assert {(t["target"], t["where"]) for t in report["targets"]} == {
        (name, w["name"]) for name in TARGETS for w in report["workloads"]
    }


def test_round_trips_of_the_orders_sent_after_the_warm_up(repo_root: Path, tmp_path: Path) -> None:
    """Long enough that orders are sent past the warm-up: each is paired with the batch
    that filled it, in wall and in CPU time, beside the plain batches."""
    report = run_benchmark(
        [(1, ROUND_TRIP_BARS)],
        repeat=1,
        out=tmp_path / "r.json",
        config_path=repo_root / "config.toml",
    )
    (workload,) = report["workloads"]
    run, median = workload["runs"][0], workload["median"]
    # Only orders the venue accepted: an intent a gate refused sent nothing to time.
    assert 0 < run["round_trips"] + run["round_trips_unfilled"] <= run["orders_accepted"]
    assert workload["counts"]["round_trips"] == run["round_trips"]
    assert run["plain_batches"] + run["round_trips"] < ROUND_TRIP_BARS
    for kind in ("round_trip", "round_trip_cpu"):
        assert 0 < run[f"{kind}_p50_us"] <= run[f"{kind}_p99_us"] <= run[f"{kind}_p99_9_us"]
        assert median[f"{kind}_p50_us"] == run[f"{kind}_p50_us"]
    # An order's two batches cost more than one plain batch.
    assert run["round_trip_p50_us"] > run["plain_p50_us"] > 0
    assert run["round_trip_cpu_p50_us"] > run["plain_cpu_p50_us"] > 0
    assert run["bars_per_cpu_s"] > 0 and run["cpu_s"] > 0
    assert "round_trip" in report["settings"]


def test_repeat_is_deterministic_and_cli_writes_report(
    repo_root: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(repo_root)
    out = tmp_path / "report.json"
    assert main(["--bars", "200", "--symbols", "1", "--repeat", "2", "--out", str(out)]) == 0
    report = orjson.loads(out.read_bytes())
    (workload,) = report["workloads"]
    assert len(workload["runs"]) == 2
    assert workload["counts"]["same_in_every_run"] is True
    assert str(out) in capsys.readouterr().out
