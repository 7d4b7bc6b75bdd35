"""A daemon SIGKILLed at each step of journal compaction loses nothing (issue 23).

A paper run (the embedded venue) trades for a few seconds. Then, on a copy of its state for
each step of compaction (``start``, ``archived``, ``written``, ``replaced``), the daemon is
started with compaction due and the test-only hook ``QUANTBOT_TEST_COMPACT_KILL_AT`` SIGKILLs
it at that step (the daily risk ledger's steps first: it is opened, and compacted, before the
journal). The journal it leaves must rebuild the same positions, open and unresolved orders
and fill cursor as before, and the daily ledger the same book; the restarted daemon must
start, reconcile with the paper venue's book without a mismatch, and stop (after trading on
or not) with its ledger equal to the venue's book.
"""

from __future__ import annotations

import shutil
import signal
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, run
from tests.reliability.account_state import book_positions, daily_book, journal_account

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
COMPACT_NOW = {
    "QUANTBOT__COMPACTION__MIN_EVENTS": "1",
    "QUANTBOT__COMPACTION__KEEP_HOURS": "0",
}
# The daily risk ledger is opened (and compacted) first, then the order journal.
STEPS = ("daily_start", "daily_archived", "daily_written", "start", "archived", "written",
         "replaced")  # fmt: skip


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("traded")
    shutil.copy(REPO_ROOT / "config.toml", workdir / "config.toml")
    result = run(workdir, *PAPER, "--duration", "4s", timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    _yesterday(workdir / "state" / "daily_risk.jsonl")
    return workdir


def _yesterday(path: Path) -> None:
    """The daily ledger's lines moved to the day before, then that day's ROLL into today (as
    the guard writes it at midnight): a history before the last roll for compaction."""
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    today = events[-1]["day"]
    before = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    roll = {"ts": events[-1]["ts"], "day": today, "type": "ROLL", "previous_day": before,
            "realised_pnl": {}, "opened": {}}  # fmt: skip
    lines = [{**e, "day": before} for e in events] + [roll]
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in lines))


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_compaction_step_loses_nothing(
    traded: Path, tmp_path: Path, step: str
) -> None:
    workdir = tmp_path / "w"
    shutil.copytree(traded, workdir)
    journal = workdir / "state" / "journal.jsonl"
    before = journal.read_bytes()
    expected = journal_account(workdir / "state" / "journal.jsonl")
    daily = workdir / "state" / "daily_risk.jsonl"
    daily_before, expected_daily = (
        daily.read_bytes(),
        daily_book(workdir / "state" / "daily_risk.jsonl"),
    )
    assert daily_before.count(b'"type":"ROLL"') >= 1, "the paper run rolled a trading day"
    assert before.count(b'"type":"INTENT"') >= 3, "the paper run traded"

    env = {**COMPACT_NOW, "QUANTBOT_TESTING": "1", "QUANTBOT_TEST_COMPACT_KILL_AT": step}
    killed = run(workdir, *PAPER, "--duration", "30s", env=env, timeout=90)

    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-3000:])
    assert journal_account(workdir / "state" / "journal.jsonl") == expected
    assert daily_book(workdir / "state" / "daily_risk.jsonl") == expected_daily
    if step.startswith("daily_"):
        assert daily.read_bytes() == daily_before
    else:
        assert orjson.loads(daily.read_bytes().split(b"\n", 1)[0])["type"] == "SNAPSHOT"
    if step != "daily_start":
        (daily_archive,) = (workdir / "state" / "daily_risk.archive").iterdir()
        assert daily_archive.read_bytes() == daily_before
    first = orjson.loads(journal.read_bytes().split(b"\n", 1)[0])
    if step == "replaced":
        assert first["type"] == "SNAPSHOT" and len(journal.read_bytes()) < len(before)
    else:  # the journal itself is untouched until the rename
        assert journal.read_bytes() == before
    if step in ("archived", "written", "replaced"):  # the whole journal, as it was
        (archive,) = (workdir / "state" / "journal.archive").iterdir()
        assert archive.read_bytes() == before

    # The restarted daemon compacts (unless it was done before the kill), reconciles with the paper
    # venue's book, and stops with its ledger equal to the venue's book.
    manifests = workdir / "runtime" / "manifests"
    seen = set(manifests.glob("*.json"))
    again = run(workdir, *PAPER, "--duration", "3s", env=COMPACT_NOW, timeout=90)
    assert again.returncode == 0, again.stderr[-3000:]
    (manifest,) = set(manifests.glob("*.json")) - seen
    startup = orjson.loads(manifest.read_bytes())["startup"]
    if step == "replaced":  # compacted before the kill, and nothing journaled since
        assert "journal_compacted" not in startup
    else:
        assert startup["journal_compacted"]["orders_folded"] > 0
    codes = {f["code"] for f in startup["reconcile"]}
    assert not {c for c in codes if "MISMATCH" in c or "EXTERNAL" in c}, startup["reconcile"]
    after = journal_account(workdir / "state" / "journal.jsonl")
    assert after["positions"] == book_positions(workdir)
    assert after["last_seq"] >= expected["last_seq"]  # it may trade on in its 3 s, or not
    assert not set(expected["unresolved"]) & set(after["open"]) - set(expected["open"])
