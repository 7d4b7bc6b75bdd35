"""The `quantbot replay` command benchmark on a small file: the command really ran on every
bar, and the report says what it measured. No timing assertions (the machine is shared)."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench import replay_bench as rb
from bench import replay_cli_bench as cb
from quantbot.marketdata.loaders import load_bars


def test_the_json_file_holds_the_bench_bars(tmp_path: Path) -> None:
    columns = tmp_path / "bars.f64"
    rb.write_bars(columns, 50, cb.SYMBOL, seed=7)
    data = tmp_path / f"{cb.SYMBOL}-1m.json"
    cb.write_json(data, columns, 40)
    bars = load_bars(data)
    columns_read = rb.read_columns(columns, 40)
    assert bars.symbol == cb.SYMBOL and len(bars) == 40
    for name, column in zip(("open", "high", "low", "close", "volume"), columns_read, strict=True):
        assert [getattr(b, name) for b in bars] == list(column)
    assert bars[1].ts_ns - bars[0].ts_ns == rb.INTERVAL_S * 10**9
    assert {b.interval_s for b in bars} == {float(rb.INTERVAL_S)}


def test_the_report_quotes_runs_of_the_command_over_every_bar(
    repo_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    report = cb.run_benchmark(
        [400], repeat=2, out=out, config_path=repo_root / "config.toml", seed=None
    )
    assert orjson.loads(out.read_bytes()) == report
    (workload,) = report["workloads"]
    assert workload["bars"] == 400 and len(workload["runs"]) == 2
    for run in workload["runs"]:
        assert run["exit"] == 0 and run["bars"] == 400  # the summary counted every bar
        assert run["peak_rss_mb"] > 0 and run["wall_s"] > 0
    assert workload["median"]["file_mb"] > 0
    assert "400" in cb.format_table(report)
