"""`quantbot paper reset`: what an operator sees when starting the paper account again."""

from __future__ import annotations

import signal
import stat
from pathlib import Path

import pytest

from tests.integration.daemon import journal_events, read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
ACCOUNT = ("daily_risk.jsonl", "drawdown.json", "journal.began", "journal.jsonl",
           "sim_venue.json", "sim_venue.log.jsonl", "status.json")  # fmt: skip


def _snapshot(state: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(state.rglob("*"))
        if p.is_file() and p.name != "quantbot.lock"
    }


def test_paper_reset_asks_refuses_while_running_then_archives(workdir: Path) -> None:
    first = run(workdir, *PAPER, "--duration", "3s")
    assert first.returncode == 0, first.stderr
    state = workdir / "state"
    assert journal_events(workdir, "FILL"), "three seconds of aggressive trading filled nothing"
    before = _snapshot(state)
    assert set(ACCOUNT) <= set(before)

    # Without --yes: says what it would do, changes nothing, exit 2.
    asked = run(workdir, "paper", "reset")
    assert asked.returncode == 2
    assert "Nothing was changed" in asked.stderr and "--yes" in asked.stderr
    assert "journal.jsonl" in asked.stderr and "state/archive/paper-reset-" in asked.stderr
    assert _snapshot(state) == before

    # While a daemon runs: refused, exit 1, nothing moved.
    daemon = start(workdir, *PAPER)
    try:
        wait_until(
            lambda: len(journal_events(workdir)) > len(journal_events_of(before)),
            timeout=30, what="the second run to journal", proc=daemon,
        )  # fmt: skip
        refused = run(workdir, "paper", "reset", "--yes")
        assert refused.returncode == 1
        assert "daemon is running" in refused.stderr
        assert (state / "journal.jsonl").exists() and not (state / "archive").exists()
    finally:
        daemon.send_signal(signal.SIGINT)
        daemon.communicate(timeout=30)
    assert daemon.returncode == 0
    journal = (state / "journal.jsonl").read_bytes()

    done = run(workdir, "paper", "reset", "--yes")

    assert done.returncode == 0, done.stderr
    assert "paper account reset: 7 file(s) archived in" in done.stdout
    [archive] = (state / "archive").glob("paper-reset-*Z")
    assert sorted(p.name for p in archive.iterdir()) == sorted(ACCOUNT)
    assert (archive / "journal.jsonl").read_bytes() == journal  # moved whole, not rewritten
    assert not any((state / name).exists() for name in ACCOUNT)
    for path in (state / "archive", archive, *archive.iterdir()):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"

    # The next run starts a fresh account: an empty baseline, no "journal missing" finding.
    (workdir / "runtime" / "decisions.jsonl").unlink()
    again = run(workdir, *PAPER, "--duration", "2s")
    assert again.returncode == 0, again.stderr
    baseline = journal_events(workdir)[0]
    assert baseline["type"] == "BASELINE" and baseline["seq"] == 1
    assert baseline["positions"] == {}
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    assert "RECONCILE_JOURNAL_MISSING" not in str(records)
    assert run(workdir, "paper", "reset").returncode == 2  # a new account to reset again


def journal_events_of(snapshot: dict[str, tuple[bytes, int]]) -> list[bytes]:
    return snapshot["journal.jsonl"][0].splitlines()


def test_paper_reset_refuses_a_broker_venue(workdir: Path, repo_root: Path) -> None:
    config = repo_root / "examples" / "alpaca-paper.toml"
    refused = run(workdir, "paper", "reset", "--yes", "--config", str(config))
    assert refused.returncode == 2
    assert "alpaca venue" in refused.stderr and "embedded paper venue" in refused.stderr
    assert not (workdir / "state").exists()
