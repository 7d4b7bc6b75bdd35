"""The confidence charter as a user meets it (issue 21 item 2): a paper daemon whose AI sizer
is in live mode, on bars from a file. Below its trial count the sizer's proposal is not used
(the record shows the gate and the base size that was); a person promotes the domain with
`quantbot charter promote`; the next run says so in its records and uses the proposal, except
where its confidence is below the bar. `quantbot charter status` shows each step."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import command, quantbot_env, read_jsonl

CONFIG = """\
[market]
source = "csv"
symbols = ["AAA"]
csv_paths = ["part1/AAA.csv"]

[signals.trend]
kind = "trend"
fast = 3
slow = 8

[regime_components.conservative]
trend = 1.0

[regime_components.balanced]
trend = 1.0

[regime_components.aggressive]
trend = 1.0

[profiles.conservative]
deadband = 0.0

[inbox]
enabled = false

[sizer]
mode = "live"

[charter]
enabled = true
hold_bars = 2
window_days = 3650

[charter.domains.sizer]
min_confidence_prod = 0.92
min_sandbox_trials = 3
min_sandbox_success_rate = 0.6
prod_use_enabled = true
"""


def write_bars(workdir: Path) -> None:
    """A rising market (+0.6% a day, every fourth day -0.2%), cut in two files (a file's
    name is its symbol)."""
    rows, last, day0 = [], 100.0, date(2020, 1, 1)
    for n in range(120):
        close = last * (1.006 if n % 4 else 0.998)
        high, low = max(last, close) * 1.001, min(last, close) * 0.999
        rows.append(f"{day0 + timedelta(days=n)},{last:.4f},{high:.4f},{low:.4f},{close:.4f},"
                    f"1000000,{close:.4f}")  # fmt: skip
        last = close
    head = "date,open,high,low,close,volume,adj_close"
    for part, cut in (("part1", rows[:60]), ("part2", rows[60:])):
        (workdir / part).mkdir()
        (workdir / part / "AAA.csv").write_text("\n".join([head, *cut]) + "\n")


def quantbot(workdir: Path, *args: str, env: dict[str, str] | None = None):
    # Not the synthetic market's pace nor its sleeves' parameters: this one reads a file.
    full = {
        k: v for k, v in quantbot_env().items()
        if not k.startswith(("QUANTBOT__SIGNALS__", "QUANTBOT__MARKET__"))
    }  # fmt: skip
    full["USER"] = full["LOGNAME"] = "ana"  # who promotes, as the log says
    full.update(env or {})
    return subprocess.run(
        command(*args), cwd=workdir, env=full, text=True, capture_output=True, timeout=120,
        check=False,
    )  # fmt: skip


def sized(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("decision_id") and r.get("charter")]


def promote_with_the_cli(tmp_path: Path) -> None:
    """`charter status` says what is missing, `charter promote` logs the person's act."""
    status = quantbot(tmp_path, "charter", "status")
    assert status.returncode == 0, status.stderr
    [row] = [line for line in status.stdout.splitlines() if line.startswith("sizer")]
    assert " no " in row and "missing: a person's promotion" in row

    promoted = quantbot(tmp_path, "charter", "promote", "sizer", "--note", "3 months reviewed")
    assert promoted.returncode == 0, promoted.stderr
    assert "charter: sizer promoted by ana at " in promoted.stdout
    assert "production-eligible" in promoted.stdout
    log = (tmp_path / "state" / "charter_log.jsonl").stat()
    assert log.st_mode & 0o777 == 0o600

    status = quantbot(tmp_path, "charter", "status", "--json")
    doc = orjson.loads(status.stdout)["domains"]["sizer"]
    assert doc["promoted"] is True and doc["eligible"] is True and doc["missing"] == []
    assert doc["last_act"]["note"] == "3 months reviewed" and doc["last_act"]["by"] == "ana"


@pytest.mark.e2e
def test_not_used_below_its_trials_then_used_after_a_persons_promotion(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    write_bars(tmp_path)
    first = quantbot(tmp_path, "run", "--execution-mode", "paper")
    assert first.returncode == 0, first.stderr[-3000:]
    records = tmp_path / "runtime" / "decisions.jsonl"
    lines = read_jsonl(records)
    decided = sized(lines)

    # Below its trial count: not used; the record shows the gate and what was used instead.
    early = decided[0]
    assert early["charter"]["gate"] == "CHARTER_TRIALS_SHORT"
    assert early["charter"]["reason"] == {"code": "CHARTER_TRIALS_SHORT", "domain": "sizer",
                                          "trials": 0, "min_sandbox_trials": 3}  # fmt: skip
    assert early["charter"]["used"] is False
    assert early["sizer"]["mode"] == "live" and early["sizer"]["used"] == "base"
    assert early["sizer"]["verdict"] == "charter"
    assert early["sizer"]["target_notional_usd"] == 5000.0  # the base size (its cap) ...
    assert early["limits"]["input_notional_usd"] == 5000.0  # ... is what went on
    assert early["sizer"]["ai"]["notional_usd"] < 2000.0  # the proposal, recorded beside
    # Enough passing trials later, but nobody promoted it: still not used.
    later = [r for r in decided if r["charter"]["trials"] >= 3]
    assert later and {r["charter"]["gate"] for r in later} == {"CHARTER_NOT_PROMOTED"}
    assert all(r["sizer"]["used"] == "base" for r in decided)
    assert later[-1]["charter"]["success_rate"] >= 0.6

    promote_with_the_cli(tmp_path)

    second = quantbot(tmp_path, "run", "--execution-mode", "paper",
                      env={"QUANTBOT__MARKET__CSV_PATHS": '["part2/AAA.csv"]'})  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    lines = read_jsonl(records)[len(lines) :]
    [said] = [r for r in lines if r.get("event") == "CHARTER_PROMOTED"]
    assert said["reason"]["domain"] == "sizer" and said["reason"]["note"] == "3 months reviewed"
    assert said["reason"]["by"] == "ana"
    decided = sized(lines)
    used = [r for r in decided if r["charter"]["used"]]
    refused = [r for r in decided if not r["charter"]["used"]]
    assert used and refused
    for r in used:  # promoted and eligible, confident enough: the proposal is the size
        assert r["charter"]["confidence"] >= 0.92 and r["charter"]["gate"] is None
        assert r["sizer"]["used"] == "ai" and r["sizer"]["verdict"] == "live"
        assert r["limits"]["input_notional_usd"] == r["sizer"]["ai"]["notional_usd"]
    for r in refused:  # a confidence below the bar: refused, the base size used
        assert r["charter"]["gate"] == "CHARTER_CONFIDENCE_LOW"
        assert r["charter"]["confidence"] < 0.92
        assert r["charter"]["reason"]["min_confidence_prod"] == 0.92
        assert r["sizer"]["used"] == "base" and r["limits"]["input_notional_usd"] == 5000.0
