"""A quarantine as an operator meets it: it survives a restart, `quantbot status` lists it,
and `quantbot resume --sleeve` releases it early, whether the daemon is stopped (applied at
its next start) or running (applied at its next bar)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, command, quantbot_env, read_jsonl, wait_until

pytestmark = pytest.mark.e2e

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "zigzag_sleeve.py"
# One sleeve; a floor no trip reaches, so its first round trip quarantines it, for 30 days.
CONFIG = f"""\
[signals.zig]
kind = "{FIXTURE}:Zigzag"
symbols = ["SIMA"]
follow = true

[regime_components.conservative]
zig = 1.0

[regime_components.balanced]
zig = 1.0

[regime_components.aggressive]
zig = 1.0

[quarantine]
mode = "block"
symbols = false
min_trades = 1
expectancy_window_trades = 1
expectancy_floor_usd = 1000000.0
duration_days = 30.0
"""
RUN = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")


def env() -> dict[str, str]:
    return {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__SIGNALS__")}


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=workdir, env=env(), text=True,
                          capture_output=True, timeout=120, check=False)  # fmt: skip


def start(workdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(command(*RUN), cwd=workdir, env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]


def records(workdir: Path) -> list[dict]:
    path = workdir / "runtime" / "decisions.jsonl"
    return read_jsonl(path) if path.exists() else []


def events(workdir: Path, name: str) -> list[dict]:
    return [r for r in records(workdir) if r.get("event") == name]


def status(workdir: Path) -> dict:
    result = cli(workdir, "status", "--json")
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def test_a_quarantine_survives_a_restart_and_resume_sleeve_releases_it(tmp_path: Path) -> None:
    workdir = tmp_path
    (workdir / "config.toml").write_text(CONFIG, encoding="utf-8")

    proc = start(workdir)
    try:
        wait_until(lambda: events(workdir, "QUARANTINE"), timeout=60, proc=proc,
                   what="the sleeve's first round trip to quarantine it")  # fmt: skip
    finally:
        stop(proc)
    [trip] = events(workdir, "QUARANTINE")
    assert (trip["reason"]["code"], trip["reason"]["sleeve"]) == ("SLEEVE_QUARANTINED", "zig")

    [listed] = status(workdir)["quarantine"]
    assert (listed["scope"], listed["sleeve"], listed["trigger"]) == ("sleeve", "zig", "expectancy")
    assert listed["release_pending"] is False
    table = cli(workdir, "status").stdout
    assert "QUARANT.  sleeve zig: expectancy since" in table

    # A restart: still quarantined, its entries refused with the reason.
    seen = len(records(workdir))
    ran = cli(workdir, *RUN, "--duration", "3s")
    assert ran.returncode == 0, ran.stderr[-3000:]
    second = records(workdir)[seen:]
    decided = [r for r in second if "decision_id" in r]
    refused = [r for r in decided if (r["reason"] or {}).get("code") == "SLEEVE_QUARANTINED"]
    assert refused and all(r["order"]["outcome"] == "NOT_SENT" for r in refused)
    assert not [r for r in second if r.get("event") == "QUARANTINE_RELEASED"]
    assert not [r for r in second if (r.get("order") or {}).get("outcome") == "ACCEPTED"
                and not r["intent"]["reducing"]]  # fmt: skip

    # Released while stopped: the stamp waits in control.json; the next start applies it.
    resumed = cli(workdir, "resume", "--sleeve", "zig")
    assert resumed.returncode == 0, resumed.stderr
    assert "sleeve zig released from quarantine" in resumed.stdout
    assert status(workdir)["quarantine"][0]["release_pending"] is True
    assert "release pending" in cli(workdir, "status").stdout

    seen = len(records(workdir))
    proc = start(workdir)
    try:
        wait_until(lambda: any(r.get("event") == "QUARANTINE_RELEASED"
                               for r in records(workdir)[seen:]),
                   timeout=60, proc=proc, what="the release at start")  # fmt: skip
        [released] = [r for r in records(workdir)[seen:] if r.get("event") == "QUARANTINE_RELEASED"]
        assert (released["reason"]["sleeve"], released["reason"]["by"]) == ("zig", "operator")
        # It trades again, and its next round trip quarantines it again ...
        wait_until(lambda: len(events(workdir, "QUARANTINE")) == 2, timeout=60, proc=proc,
                   what="a second quarantine")  # fmt: skip
        # ... which a release made while the daemon runs ends at its next bar.
        resumed = cli(workdir, "resume", "--sleeve", "zig")
        assert resumed.returncode == 0, resumed.stderr
        wait_until(lambda: len(events(workdir, "QUARANTINE_RELEASED")) == 2, timeout=60,
                   proc=proc, what="the release while running")  # fmt: skip
    finally:
        stop(proc)
    assert events(workdir, "QUARANTINE_RELEASED")[-1]["reason"]["by"] == "operator"

    not_quarantined = cli(workdir, "resume", "--sleeve", "nosuch")
    assert not_quarantined.returncode == 2
    assert "--sleeve 'nosuch': no such sleeve" in not_quarantined.stderr
