"""`quantbot walk-forward` over the real daily bars in ../shared/data, as a user runs it: the
folds' train/test/purge/embargo bounds on the data's days, every grid point in-sample and the
best out-of-sample, the stitched equity, the summary, the report; byte-identical on a second
run and whichever engine (this process or local worker processes) ran it."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import read_jsonl, run
from tests.integration.test_replay import DAILY

FILES = ("AAPL.csv", "IBM.csv", "MSFT.csv")
OUTPUTS = ("folds.jsonl", "oos_equity.csv", "summary.json", "report.html")
ARGS = (
    "walk-forward", "--data", *(str(DAILY / f) for f in FILES),
    "--from", "2001-01-01", "--to", "2002-12-31",
    "--train", "250 bars", "--test", "60 bars", "--step", "60 bars",
    "--embargo", "5", "--horizon", "10", "--grid", "grid.toml",
)  # fmt: skip
GRID = "[trend]\nfast = [5, 10]\nslow = {start = 30, stop = 40, step = 10}\n"
POINTS = [{"trend": {"fast": f, "slow": s}} for f in (5, 10) for s in (30, 40)]


def walk(workdir: Path, *args: str) -> tuple[Path, str]:
    result = run(workdir, *ARGS, *args, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    [summary] = [line.split()[-1] for line in result.stdout.splitlines() if "summary:" in line]
    return workdir / Path(summary).parent, result.stderr


def bar_days() -> list[str]:
    days: set[str] = set()
    for name in FILES:
        with (DAILY / name).open(newline="") as f:
            days |= {r["date"][:10] for r in csv.DictReader(f)}
    return sorted(d for d in days if "2001-01-01" <= d <= "2002-12-31")


@pytest.mark.e2e
def test_walk_forward_folds_choices_and_outputs_byte_identical_across_runs_and_engines(
    workdir: Path,
) -> None:
    (workdir / "grid.toml").write_text(GRID)
    out, stderr = walk(workdir, "--engine", "serial")
    first = {name: (out / name).read_bytes() for name in OUTPUTS}
    assert "walk-forward: in-sample 16/16 (fold 4, point 4)" in stderr
    assert "walk-forward: out-of-sample 4/4" in stderr

    days = bar_days()
    lines = read_jsonl(out / "folds.jsonl")
    assert len(lines) == 4 * 4  # one per fold and grid point
    summary = orjson.loads(first["summary.json"])
    for k in range(4):
        rows = lines[k * 4 : (k + 1) * 4]
        # Rolling: 250 train bars less the 10 purged (--horizon), 5 embargoed, 60 test bars.
        start = 60 * k
        expected = {
            "fold": k + 1,
            "train": {"from": days[start], "to": days[start + 239], "bars": 240},
            "purged_bars": 10,
            "embargo_bars": 5,
            "test": {"from": days[start + 255], "to": days[start + 314], "bars": 60},
            "index": [start, start + 240, start + 255, start + 315],
        }
        for row in rows:
            assert {key: row[key] for key in expected} == expected
        assert [r["params"] for r in rows] == POINTS
        sharpes = [r["in_sample"]["sharpe"] for r in rows]
        best = sharpes.index(max(sharpes))  # ties: the first in grid order
        assert [r["chosen"] for r in rows] == [i == best for i in range(4)]
        assert [r["out_of_sample"] is not None for r in rows] == [i == best for i in range(4)]
        fold = summary["folds"][k]
        assert fold["chosen_point"] == best + 1
        assert fold["out_of_sample"] == rows[best]["out_of_sample"]

    # The stitched equity: the test windows' days in order, each fold from the last's end.
    with (out / "oos_equity.csv").open(newline="") as f:
        equity = list(csv.DictReader(f))
    assert [r["date"] for r in equity] == days[255:495]
    assert equity[0]["equity"] == "100000.00"
    assert [int(r["fold"]) for r in equity] == [k + 1 for k in range(4) for _ in range(60)]
    assert float(equity[-1]["equity"]) == summary["stitched"]["end_equity"]

    assert set(summary) >= {"id", "created_from", "sleeves", "folds", "distribution",
                            "overfitting", "stability"}  # fmt: skip
    assert summary["id"] == out.name
    assert [d["file"] for d in summary["created_from"]["data"]] == list(FILES)
    assert summary["sleeves"]["trend"]["kind"] == "trend"
    assert len(summary["sleeves"]["trend"]["source_sha256"]) == 64
    returns = sorted(f["out_of_sample"]["total_return_pct"] for f in summary["folds"])
    assert summary["distribution"]["return_pct"]["n"] == 4
    assert summary["distribution"]["return_pct"]["min"] == returns[0]
    assert summary["distribution"]["return_pct"]["max"] == returns[-1]
    assert set(summary["distribution"]) == {"return_pct", "turnover", "max_drawdown_pct",
                                            "hit_rate_pct", "sharpe"}  # fmt: skip
    assert sum(c["folds"] for c in summary["stability"]["chosen"]) == 4
    assert summary["overfitting"]["trials"] == 4
    assert set(summary["overfitting"]) >= {"dsr", "pbo", "trials"}
    report = first["report.html"].decode()
    assert "<polyline" in report and report.count("<h2>fold ") == 4
    assert "http" not in report.replace("http://www.w3.org", "")

    again, _ = walk(workdir, "--engine", "serial")
    assert again == out  # the id is derived from the inputs
    for name in OUTPUTS:
        assert (again / name).read_bytes() == first[name], name
    local, _ = walk(workdir, "--engine", "local", "--workers", "2", "--out", "elsewhere")
    assert local == workdir / "elsewhere" / out.name
    for name in OUTPUTS:
        assert (local / name).read_bytes() == first[name], name


@pytest.mark.e2e
def test_a_bad_grid_key_stops_before_any_replay_naming_the_point(workdir: Path) -> None:
    (workdir / "grid.toml").write_text("[trend]\nfast = [5, -1]\n")
    result = run(workdir, *ARGS, "--engine", "serial", timeout=60)
    assert result.returncode == 2
    assert "--grid point trend.fast=-1: signals.trend.fast = -1: must be >= 1" in result.stderr
    assert "in-sample" not in result.stderr and not (workdir / "runtime" / "walk_forward").exists()


@pytest.mark.e2e
def test_the_ray_engine_writes_what_the_serial_one_writes(workdir: Path) -> None:
    """Ray (the optional extra, a local cluster of 2 CPUs started and shut down by the
    command): byte-identical to the serial run. Skipped where Ray is not installed."""
    pytest.importorskip("ray")
    (workdir / "grid.toml").write_text(GRID)
    serial, _ = walk(workdir, "--engine", "serial")
    ray, stderr = walk(workdir, "--engine", "ray", "--workers", "2", "--out", "on-ray")
    assert ray == workdir / "on-ray" / serial.name
    assert "(ray engine)" in stderr
    for name in OUTPUTS:
        assert (ray / name).read_bytes() == (serial / name).read_bytes(), name
