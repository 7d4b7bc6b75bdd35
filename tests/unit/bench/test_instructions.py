"""Instructions per bar under callgrind: a real count where valgrind is installed, and a report
that says "skipped: valgrind not installed" where it is not. No timing, counts only."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bench import instructions as ins
from bench import replay_bench as rb

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason="no valgrind")


@needs_valgrind
def test_count_reads_the_callgrind_total_and_the_commands_json() -> None:
    idle = ins.count([sys.executable, "-c", "print('{\"n\": 0}')"], "valgrind")
    busy = ins.count(
        [sys.executable, "-c", "print('{\"n\": %d}' % sum(range(200000)))"], "valgrind"
    )
    assert idle["result"] == {"n": 0}
    assert busy["result"] == {"n": sum(range(200000))}
    # 200,000 more loop iterations cost millions more instructions, not a rounding error.
    assert busy["instructions"] - idle["instructions"] > 5_000_000


def test_read_total_refuses_a_file_that_is_not_callgrind_output(tmp_path: Path) -> None:
    path = tmp_path / "callgrind.out"
    path.write_text("events: Ir\nsummary: 12345\n")
    assert ins.read_total(path) == 12345
    path.write_text("nothing here\n")
    with pytest.raises(ValueError, match="no summary or totals line"):
        ins.read_total(path)


@needs_valgrind
def test_replay_instructions_per_bar_on_a_tiny_replay(repo_root: Path, tmp_path: Path) -> None:
    data = tmp_path / "bars.f64"
    rb.write_bars(data, 120, "SIMA", seed=7)
    counted = ins.measure(data, repo_root / "config.toml", bars=120, base=60)
    assert counted["bars"] == 120 and counted["base_bars"] == 60
    assert counted["instructions"] > counted["base_instructions"] > 0
    per_bar = (counted["instructions"] - counted["base_instructions"]) / 60
    assert counted["per_bar"] == round(per_bar)
    # A bar through the pipeline costs well over 10k instructions; start-up dominates the
    # whole run's count on so few bars.
    assert 10_000 < counted["per_bar"] < counted["per_bar_whole_run"]
    assert counted["trades"] >= counted["base_trades"] > 0
    assert "callgrind" in counted["tool"] and "valgrind" in counted["tool"]


@needs_valgrind
def test_the_deadband_0_count_runs_every_stage_and_costs_more_per_bar(
    repo_root: Path, tmp_path: Path
) -> None:
    data = tmp_path / "bars.f64"
    rb.write_bars(data, 120, "SIMA", seed=7)
    shipped = ins.measure(data, repo_root / "config.toml", bars=120, base=60)
    worst = ins.measure(data, repo_root / "config.toml", bars=120, base=60, deadband_zero=True)
    assert (shipped["deadband_zero"], worst["deadband_zero"]) == (False, True)
    assert worst["trades"] == shipped["trades"]  # the same trades, as the bench's worst case
    assert worst["per_bar"] > shipped["per_bar"]  # every bar through sizer, limits ...


def test_without_valgrind_the_report_says_skipped(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no valgrind on it
    monkeypatch.chdir(repo_root)
    out = tmp_path / "report.json"
    args = ["--bars", "200", "--repeat", "1", "--no-compare", "--no-worst-case", "--out", str(out)]
    assert rb.main([*args, "--instructions-bars", "200", "100"]) == 0
    assert "instructions per bar: skipped: valgrind not installed" in capsys.readouterr().out
    report = rb.orjson.loads(out.read_bytes())
    assert report["instructions"] == {"skipped": "valgrind not installed"}
    assert rb.main([*args, "--no-instructions"]) == 0
    skipped = rb.orjson.loads(out.read_bytes())["instructions"]
    assert skipped == {"skipped": "not asked for (--no-instructions)"}
