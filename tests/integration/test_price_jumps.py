"""Price jumps in a backtest, the way a trader checks them: AAPL's real -52% day of 2000-09-29 is
traded through with the shipped config (not dropped), while the same data without its
adjustment still has its 2:1 split of 2000-06-21 caught as a split."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.integration.daemon import read_jsonl, run

pytestmark = pytest.mark.e2e

AAPL = SHARED_DATA / "daily" / "AAPL.csv"
CRASH = "2000-09-29T00:00:00.000000Z"
SPLIT = "2000-06-21T00:00:00.000000Z"


def _records(workdir: Path, data: Path) -> dict[str, dict]:
    args = ("--from", "2000-03-01", "--to", "2000-12-31")
    done = run(workdir, "replay", "--data", str(data), *args, "--out", str(workdir / "o"))
    assert done.returncode == 0, done.stderr
    [out] = (workdir / "o").glob("rp-*")
    return {r["bar_ts"]: r for r in read_jsonl(out / "decisions.jsonl") if "decision_id" in r}


def _codes(record: dict) -> set[str]:
    clamps = {c["code"] for c in record["clamps"]}
    return clamps | ({record["reason"]["code"]} if record["reason"] else set())


def test_the_real_crash_is_traded_through_and_the_record_says_it_was_a_jump(
    workdir: Path,
) -> None:
    crash = _records(workdir, AAPL)[CRASH]
    assert "DATA_PRICE_JUMP" not in _codes(crash)
    assert "DATA_JUMP_ACCEPTED" in _codes(crash)
    assert crash["sleeves"], "the crash bar reached the sleeves (no re-warm-up)"


def test_unadjusted_data_still_has_its_split_caught(workdir: Path) -> None:
    raw = workdir / "AAPL.csv"
    with AAPL.open() as src, raw.open("w", newline="") as dst:
        rows = csv.DictReader(src)
        out = csv.DictWriter(dst, ["date", "open", "high", "low", "close", "volume"])
        out.writeheader()
        for row in rows:
            out.writerow({k: row[k] for k in out.fieldnames})
    records = _records(workdir, raw)
    split = records[SPLIT]
    assert split["reason"]["code"] == "DATA_PRICE_JUMP"
    assert split["reason"]["likely_split"] == "2:1"
    assert "DATA_JUMP_ACCEPTED" in _codes(records[CRASH])  # the crash is still a crash
