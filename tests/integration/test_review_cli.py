"""`quantbot review` as an operator meets it, beside real daemons: a bad ``--since`` is a
usage error, a fresh checkout has nothing recorded, a run that stopped is a run with an end
(not a crash), one running now is not a crash either, and one killed with SIGKILL is."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.daemon import read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper")


def review(workdir: Path, *args: str) -> dict[str, Any]:
    result = run(workdir, "review", "--json", *args)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def test_a_bad_since_is_a_usage_error(workdir: Path) -> None:
    result = run(workdir, "review", "--since", "7x")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: quantbot review" in result.stderr
    assert (
        "quantbot review: error: argument --since: '7x': use a duration such as 7d, 24h, "
        "1d12h or 90m" in result.stderr
    )
    assert not (workdir / "state").exists() and not (workdir / "runtime").exists()


def test_a_fresh_checkout_has_nothing_recorded(workdir: Path) -> None:
    result = run(workdir, "review", "--since", "24h")
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert page.startswith("quantbot review: last 24h, ")
    assert "\nnothing recorded since " in page
    assert "\nGO-LIVE   disabled; a live start now: refused: GO_LIVE_NOT_ENABLED" in page
    assert not (workdir / "state").exists() and not (workdir / "runtime").exists()


def test_a_stopped_run_has_an_end_and_its_denials_are_counted(workdir: Path) -> None:
    ran = run(workdir, *PAPER, "--duration", "4s")
    assert ran.returncode == 0, ran.stderr[-3000:]
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    run_id = records[0]["run_id"]
    decisions = [r for r in records if "decision_id" in r]

    doc = review(workdir)
    assert doc["daemon"]["running"] is False
    assert doc["daemon"]["last_status"]["daemon"] == "stopped"
    [shown] = doc["broke"]["runs"]
    assert shown["run_id"] == run_id and shown["ended_at"] is not None
    assert shown["halted"] is None
    assert doc["broke"]["crashes"] == []
    denied = doc["denied"]
    assert denied["decisions"] == len(decisions)
    refused = [r for r in decisions if r["reason"] is not None]
    quiet = [r for r in refused if r["reason"]["code"] in ("SIGNAL_WARMUP", "NETTING_DEADBAND")]
    assert sum(denied["not_counted"].values()) == len(quiet) > 0
    assert denied["total"] >= len(refused) - len(quiet)
    assert sum(sum(c.values()) for c in denied["by_sleeve"].values()) == denied["total"]

    page = run(workdir, "review").stdout
    assert f"\n    {run_id} (paper) " in page
    assert "\n  crashes   none\n" in page


def test_a_running_daemon_is_not_a_crash_and_a_killed_one_is(workdir: Path) -> None:
    proc = start(workdir, *PAPER, "--duration", "60s")
    status = workdir / "state" / "status.json"
    try:
        wait_until(
            lambda: status.exists() and orjson.loads(status.read_bytes())["decisions"] > 0,
            timeout=30,
            what="a status report with decisions",
            proc=proc,
        )
        run_id = orjson.loads(status.read_bytes())["run_id"]
        running = review(workdir)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert running["daemon"]["running"] is True
    assert running["broke"]["crashes"] == []
    assert [r["run_id"] for r in running["broke"]["runs"]] == [run_id]

    after = review(workdir)
    assert after["daemon"]["running"] is False
    [crash] = after["broke"]["crashes"]
    assert crash["run_id"] == run_id and crash["execution_mode"] == "paper"
    assert crash["last_seen"] >= crash["started_at"]
    page = run(workdir, "review").stdout
    assert f"\n  crashes   1 run(s) without a clean stop\n    run {run_id} (paper): " in page
    assert "never reported its stop" in page.splitlines()[1]
