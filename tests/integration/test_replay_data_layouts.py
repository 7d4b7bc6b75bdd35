"""`quantbot replay` on data files from outside the project, as a user runs it: a file whose
name says nothing of its symbol gets one from `--symbol-map`, a daily file's timeframe suffix
is not part of its symbol, and a bad date is answered with the layouts that are read."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, read_jsonl, run

DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
needs_shared_data = pytest.mark.skipif(
    not (DAILY / "IBM.csv").exists(), reason=f"shared data not found at {DAILY}"
)


def first_rows(workdir: Path, name: str, count: int) -> Path:
    path = workdir / name
    path.write_text("\n".join((DAILY / "IBM.csv").read_text().splitlines()[: count + 1]) + "\n")
    return path


def replay(workdir: Path, *args: str) -> tuple[int, str, str]:
    result = run(workdir, "replay", "--config", "config.toml", "--out", "out", *args, timeout=120)
    return result.returncode, result.stdout, result.stderr


def symbols_recorded(workdir: Path) -> set[str]:
    [summary] = (workdir / "out").glob("*/summary.json")
    records = read_jsonl(summary.parent / "decisions.jsonl")
    return {r["symbol"] for r in records if r.get("decision_id")}


@pytest.mark.e2e
@needs_shared_data
def test_symbol_map_names_the_symbol_of_a_file(workdir: Path) -> None:
    data = first_rows(workdir, "prices.csv", 120)
    code, _, stderr = replay(workdir, "--data", str(data), "--symbol-map", "prices.csv=IBM")
    assert code == 0, stderr[-2000:]
    assert symbols_recorded(workdir) == {"IBM"}
    [summary] = (workdir / "out").glob("*/summary.json")
    assert orjson.loads(summary.read_bytes())["bars"] == 120


@pytest.mark.e2e
@needs_shared_data
def test_a_daily_suffix_is_not_part_of_the_symbol(workdir: Path) -> None:
    data = first_rows(workdir, "IBM_daily.csv", 120)
    code, _, stderr = replay(workdir, "--data", str(data), "--symbols", "IBM")
    assert code == 0, stderr[-2000:]
    assert symbols_recorded(workdir) == {"IBM"}


@pytest.mark.e2e
def test_symbol_map_of_a_file_not_in_the_data_is_an_error(workdir: Path) -> None:
    data = workdir / "prices.csv"
    data.write_text("date,open,high,low,close,volume\n2024-01-31,1,1,1,1,1\n")
    code, _, stderr = replay(workdir, "--data", str(data), "--symbol-map", "price.csv=IBM")
    assert code == 2
    assert "--symbol-map price.csv=IBM: price.csv names no --data file" in stderr
    code, _, stderr = replay(workdir, "--data", str(data), "--symbol-map", "IBM")
    assert code == 2 and "'IBM' is not FILE=SYMBOL" in stderr


@pytest.mark.e2e
def test_a_bad_date_exits_2_naming_file_line_and_the_layouts(workdir: Path) -> None:
    data = workdir / "X.csv"
    data.write_text("Date,Open,High,Low,Close,Volume\n1/30/2024,1,1,1,1,1\n2024.01.31,1,1,1,1,1\n")
    code, stdout, stderr = replay(workdir, "--data", str(data))
    assert code == 2 and not stdout
    assert f"{data}:3: time '2024.01.31' is not one this loader reads" in stderr
    assert "1/31/2024,187.15,188.44,186.00,187.90,51230000" in stderr
    assert "Date,Open,High,Low,Close,Adj Close,Volume" in stderr


@pytest.mark.e2e
@needs_shared_data
def test_a_downloaded_directory_replays_without_its_instruments_and_manifest(
    workdir: Path,
) -> None:
    # `quantbot data download` writes these beside the bars: they describe the data, they are
    # not bars, and a directory given to --data must not be refused for holding them.
    folder = workdir / "data"
    folder.mkdir()
    first_rows(folder, "IBM-1d.csv", 60)
    ibm = {"tick_size": "0.01", "lot_size": "1", "min_notional": "1", "quote": "USD",
           "shortable": False, "venue": "alpaca", "source": "test"}  # fmt: skip
    (folder / "instruments.json").write_text(orjson.dumps({"instruments": {"IBM": ibm}}).decode())
    (folder / "download.json").write_text('{"files": {}}')
    code, _, stderr = replay(workdir, "--data", str(folder))
    assert code == 0, stderr[-2000:]
    assert symbols_recorded(workdir) == {"IBM"}
