"""`quantbot replay --against RUN` end to end: a paper run made here (the daemon as a
subprocess on fast synthetic bars), replayed on its own config and bars, then on a changed
sleeve parameter, through the CLI as a user runs it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, journal_events, read_jsonl, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A paper run's working directory and run id (one run shared by the tests: each
    replays it into its own --out)."""
    workdir = tmp_path_factory.mktemp("paper")
    shutil.copy(REPO_ROOT / "config.toml", workdir / "config.toml")
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "4s")
    assert result.returncode == 0, result.stderr
    (manifest,) = (workdir / "runtime" / "manifests").glob("*.json")
    return workdir, manifest.stem


def run_decisions(workdir: Path, run_id: str) -> list[dict[str, Any]]:
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    return [r for r in records if r.get("run_id") == run_id and "decision_id" in r]


def report_of(stdout: str, workdir: Path) -> dict[str, Any]:
    """against.json, from the path the summary names (relative to where quantbot ran)."""
    (line,) = [x for x in stdout.splitlines() if x.strip().startswith("report:")]
    return orjson.loads((workdir / line.split("report:", 1)[1].strip()).read_bytes())


def test_a_paper_run_replayed_against_itself_diverges_nowhere(
    paper_run: tuple[Path, str], tmp_path: Path
) -> None:
    workdir, run_id = paper_run
    result = run(workdir, "replay", "--against", run_id, "--out", str(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 diverging" in result.stdout
    assert result.stdout.rstrip().endswith("no decision diverges")
    report = report_of(result.stdout, workdir)
    assert report["run_id"] == run_id
    decided = run_decisions(workdir, run_id)
    assert report["decisions"]["compared"] == len(decided) > 30
    assert report["decisions"]["diverging"] == 0
    sent = {r["intent"]["client_order_id"] for r in decided if r["intent"]}
    assert sent, "the paper run sent no order in 4s of fast bars"
    assert report["orders"]["run"] == report["orders"]["replay"] == len(sent)
    assert report["orders"]["only_in_run"] == report["orders"]["only_in_replay"] == []
    assert report["fills"]["matched"] > 0
    assert report["fills"]["slippage_bps"]["median"] is not None
    # The report sits in the replay's own directory, beside its records.
    assert (tmp_path / report["replay_id"] / "against.json").is_file()
    assert (tmp_path / report["replay_id"] / "decisions.jsonl").is_file()


def first_ready(records: list[dict[str, Any]], symbol: str, sleeve: str) -> int:
    """Index, among ``symbol``'s decisions in bar order, of the first with ``sleeve`` ready."""
    mine = sorted((r for r in records if r["symbol"] == symbol), key=lambda r: r["bar_ts"])
    return next(i for i, r in enumerate(mine) if r["sleeves"][sleeve]["ready"])


def bar_ts(records: list[dict[str, Any]], symbol: str, index: int) -> str:
    return sorted(r["bar_ts"] for r in records if r["symbol"] == symbol)[index]


def test_a_shorter_sleeve_window_in_the_config_is_the_first_divergence(
    paper_run: tuple[Path, str], tmp_path: Path
) -> None:
    """The run's mean-reversion window is 6 bars; replayed with 5 (--config plus the
    environment, as `quantbot run` reads them) the sleeve is ready one bar earlier: that
    bar is each symbol's first divergence, at the sleeves stage, and the exit status is 1."""
    workdir, run_id = paper_run
    result = run(
        workdir,
        "replay",
        "--against",
        run_id,
        "--config",
        "config.toml",
        "--out",
        str(tmp_path),
        env={"QUANTBOT__SIGNALS__MEAN_REVERSION__WINDOW": "5"},
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("decisions diverge")
    report = report_of(result.stdout, workdir)
    decided = run_decisions(workdir, run_id)
    firsts = {f["symbol"]: f for f in report["decisions"]["first_by_symbol"]}
    assert sorted(firsts) == sorted({r["symbol"] for r in decided})
    for symbol, first in firsts.items():
        expected = bar_ts(decided, symbol, first_ready(decided, symbol, "mean_reversion") - 1)
        assert (first["bar_ts"], first["stage"]) == (expected, "sleeves")
        assert first["run"]["sleeves"]["mean_reversion"]["ready"] is False
        assert first["replay"]["sleeves"]["mean_reversion"]["ready"] is True
        assert f"first divergence {symbol} at {expected}: sleeves" in result.stdout
    assert report["decisions"]["by_stage"]["sleeves"] >= len(firsts)


def test_an_edited_manifest_copy_replays_its_own_config(
    paper_run: tuple[Path, str], tmp_path: Path
) -> None:
    """A manifest given by path: a copy whose trend sleeve has a slower window (9 bars, the
    run's is 8) is ready one bar later; the first divergence is the run's first ready bar."""
    workdir, run_id = paper_run
    manifests = workdir / "runtime" / "manifests"
    manifest = orjson.loads((manifests / f"{run_id}.json").read_bytes())
    assert manifest["config"]["signals"]["trend"]["slow"] == 8
    manifest["config"]["signals"]["trend"]["slow"] = 9
    edited = manifests / "edited-copy.json"
    edited.write_bytes(orjson.dumps(manifest))
    try:
        result = run(workdir, "replay", "--against", str(edited), "--out", str(tmp_path))
    finally:
        edited.unlink()

    assert result.returncode == 1, result.stdout + result.stderr
    report = report_of(result.stdout, workdir)
    decided = run_decisions(workdir, run_id)
    for first in report["decisions"]["first_by_symbol"]:
        symbol = first["symbol"]
        expected = bar_ts(decided, symbol, first_ready(decided, symbol, "trend"))
        assert (first["bar_ts"], first["stage"]) == (expected, "sleeves")


def test_against_with_data_is_a_usage_error(paper_run: tuple[Path, str]) -> None:
    workdir, run_id = paper_run
    result = run(workdir, "replay", "--against", run_id, "--data", "config.toml")
    assert result.returncode == 2
    assert "--against RUN replays the run's own bars" in result.stderr


def test_an_unknown_run_is_a_usage_error_naming_it(paper_run: tuple[Path, str]) -> None:
    workdir, _ = paper_run
    result = run(workdir, "replay", "--against", "no-such-run")
    assert result.returncode == 2
    assert "--against no-such-run: neither a manifest file nor a run id" in result.stderr


# Exits that only max hold ends: take-profit and stop-loss far away, four bars' hold. The
# stop (5%, 25 times a bar's move) is also what the daily guard counts as open risk: three
# $5,000 positions at 5% fit in the conservative $1,000 (a 50% stop would not).
MAX_HOLD_ENV = {
    f"QUANTBOT__SIZER__HARVEST__{policy}__{key}": value
    for policy in ("SCALPER", "SWING", "TREND_RUNNER")
    for key, value in (
        ("MAX_HOLD_BARS", "4"),
        ("TAKE_PROFIT_PCT", "0.5"),
        ("STOP_LOSS_PCT", "0.05"),
        ("TRAILING_STOP_PCT", "0"),
    )
}


def test_a_run_whose_positions_end_by_max_hold_replays_the_same_exits(workdir: Path) -> None:
    """Max hold counts bars from the close of the bar the fill was seen on, not from the
    wall clock: in a paper run (wall clock, a few ms after each close) it fired a bar later
    than in its replay (clock at each close), and every decision after the first such exit
    diverged."""
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "4s", env=MAX_HOLD_ENV)
    assert result.returncode == 0, result.stderr
    fired = [e for e in journal_events(workdir, "EXIT") if e.get("action") == "TRIGGERED"]
    assert {e["fired"] for e in fired} == {"max_hold"}, "no position ended by max hold"
    (manifest,) = (workdir / "runtime" / "manifests").glob("*.json")

    replay = run(workdir, "replay", "--against", manifest.stem, env=MAX_HOLD_ENV)

    assert replay.returncode == 0, replay.stdout + replay.stderr
    report = report_of(replay.stdout, workdir)
    assert report["decisions"]["diverging"] == 0
    assert report["orders"]["only_in_run"] == report["orders"]["only_in_replay"] == []
    # The max-hold exit orders filled in both, at the same bar: same client ids, matched.
    exits = {
        e["client_order_id"]
        for e in journal_events(workdir, "INTENT")
        if e.get("exit_role") == "max_hold"
    }
    filled = {f["client_order_id"] for f in journal_events(workdir, "FILL")}
    assert exits & filled
    assert exits & filled <= {f["client_order_id"] for f in report["fills"]["fills"]}


def test_a_manifest_path_replays_from_a_directory_without_a_config(
    paper_run: tuple[Path, str], tmp_path: Path
) -> None:
    """The run's config is in its manifest: no config.toml is needed where the command runs."""
    workdir, run_id = paper_run
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    manifest = workdir / "runtime" / "manifests" / f"{run_id}.json"
    result = run(elsewhere, "replay", "--against", str(manifest), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert report_of(result.stdout, elsewhere)["decisions"]["diverging"] == 0
    assert not (elsewhere / "config.toml").exists()
