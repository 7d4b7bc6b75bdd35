"""A daemon SIGKILLed at each step of the compaction it runs WHILE TRADING loses nothing (issue 23).

A paper run (the embedded venue) trades for a few seconds; its daily risk ledger is moved to
the day before (so the next start writes a ROLL, and the lines before it are due). Then, on
a copy of that state for each step, the daemon is started with ``[compaction] min_events`` a
little above the journal's events (no compaction at start; one once it has traded a little)
and the test-only hook ``QUANTBOT_TEST_COMPACT_KILL_AT=running_<step>`` SIGKILLs it at that
step of the running compaction: the journal's (``start``, ``archived``, ``written``,
``replaced``), the daily ledger's (``daily_start``, ``daily_archived``, ``daily_written``),
the paper book's (``book_folded``), or before any of them (``begin``).

What the kill leaves must rebuild the account the whole history did (the journal and its
newest archive agree, the daily ledger and its archive agree); the restarted daemon must
start, reconcile with the paper venue's book without a mismatch, and stop with its ledger's
positions equal to the venue's book.
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
STEPS = ("begin", "start", "archived", "written", "replaced", "daily_start", "daily_archived",
         "daily_written", "book_folded")  # fmt: skip
MORE_EVENTS = 12  # journaled after the start before the running compaction is due
# The quarantine off: its expectancy trigger takes losing sleeves out of a random synthetic
# market (20 trips), and a restart that no longer trades never reaches the compaction.
STEADY = {"QUANTBOT__QUARANTINE__ENABLED": "false"}


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("traded")
    shutil.copy(REPO_ROOT / "config.toml", workdir / "config.toml")
    result = run(workdir, *PAPER, "--duration", "4s", env=STEADY, timeout=90)
    assert result.returncode == 0, result.stderr[-3000:]
    path = workdir / "state" / "daily_risk.jsonl"
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    before = (date.fromisoformat(events[-1]["day"]) - timedelta(days=1)).isoformat()
    path.write_bytes(b"".join(orjson.dumps({**e, "day": before}) + b"\n" for e in events))
    return workdir


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_step_of_the_running_compaction_loses_nothing(
    traded: Path, tmp_path: Path, step: str
) -> None:
    workdir = tmp_path / "w"
    shutil.copytree(traded, workdir)
    state = workdir / "state"
    journal, daily = state / "journal.jsonl", state / "daily_risk.jsonl"
    events = journal.read_bytes().count(b"\n")
    assert journal.read_bytes().count(b'"type":"INTENT"') >= 3, "the paper run traded"
    compact_soon = {
        "QUANTBOT__COMPACTION__MIN_EVENTS": str(events + MORE_EVENTS),
        "QUANTBOT__COMPACTION__KEEP_HOURS": "0",
    }

    env = {
        **STEADY,
        **compact_soon,
        "QUANTBOT_TESTING": "1",
        "QUANTBOT_TEST_COMPACT_KILL_AT": f"running_{step}",
    }
    killed = run(workdir, *PAPER, "--duration", "40s", env=env, timeout=120)

    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-3000:])
    assert journal_account(journal)["last_seq"] >= events + MORE_EVENTS - 1  # it traded on first
    first = orjson.loads(journal.read_bytes().split(b"\n", 1)[0])
    archives = sorted((state / "journal.archive").glob("*.jsonl"))
    journal_done = step not in ("begin", "start", "archived", "written")
    if step in ("begin", "start"):
        assert not archives and first["type"] != "SNAPSHOT"
    else:  # the whole journal is archived first, and rebuilds what the compacted one does
        (archive,) = archives
        assert journal_account(archive) == journal_account(journal)
        assert (first["type"] == "SNAPSHOT") is journal_done
        if not journal_done:
            assert archive.read_bytes() == journal.read_bytes()
    daily_archives = sorted((state / "daily_risk.archive").glob("*.jsonl"))
    if step in ("daily_archived", "daily_written", "book_folded"):
        (daily_archive,) = daily_archives
        assert daily_book(daily_archive) == daily_book(daily)
    else:
        assert not daily_archives
    first_daily = orjson.loads(daily.read_bytes().split(b"\n", 1)[0])
    assert (first_daily["type"] == "SNAPSHOT") is (step == "book_folded")

    # The restarted daemon reconciles with the paper venue's book without a mismatch and
    # stops with its ledger's positions equal to the venue's.
    expected = journal_account(journal)
    manifests = workdir / "runtime" / "manifests"
    seen = set(manifests.glob("*.json"))
    again = run(workdir, *PAPER, "--duration", "3s", env=STEADY, timeout=90)
    assert again.returncode == 0, again.stderr[-3000:]
    (manifest,) = set(manifests.glob("*.json")) - seen
    startup = orjson.loads(manifest.read_bytes())["startup"]
    codes = {f["code"] for f in startup["reconcile"]}
    assert not {c for c in codes if "MISMATCH" in c or "EXTERNAL" in c}, startup["reconcile"]
    after = journal_account(journal)
    assert after["positions"] == book_positions(workdir)
    assert after["last_seq"] >= expected["last_seq"]
    assert after["fill_seq"] >= expected["fill_seq"]
    assert not set(expected["unresolved"]) & set(after["open"]) - set(expected["open"])
