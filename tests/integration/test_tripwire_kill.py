"""The regression tripwire against a running daemon (issue 21 item 1): `quantbot tripwire
evaluate`, run while the daemon trades, judges a KILL_SWITCH policy on the KPI events in
state/, engages the kill switch with the tripwire as its reason, and the daemon refuses new
risk with that reason; `quantbot resume` clears the trigger and keeps why. `tripwire reset`
does the same for one policy."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import journal_events, read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

ENABLED = {"QUANTBOT__TRIPWIRE__ENABLED": "true"}


def _enable(workdir: Path, policy: str) -> None:
    """Turn one of the shipped (disabled) example policies on in the copied config.toml."""
    path = workdir / "config.toml"
    text = path.read_text(encoding="utf-8")
    old = f'name = "{policy}"\nenabled = false'
    assert old in text
    path.write_text(text.replace(old, f'name = "{policy}"\nenabled = true'), encoding="utf-8")


def _seed(state: Path, sleeve: str, metric: str, values: list[float]) -> None:
    """KPI events as the daemon writes them (appended: a running daemon appends too)."""
    base = {"ts": "2026-01-01T00:00:00.000000Z", "sleeve": sleeve, "symbol": "SIMA"}
    events = [
        {"seq": 10**9 + n, **base, "metric": metric, "value": v} for n, v in enumerate(values)
    ]
    lines = [orjson.dumps(event) for event in events]
    fd = os.open(state / "kpi_events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"".join(line + b"\n" for line in lines))
    finally:
        os.close(fd)


def _status(workdir: Path) -> dict:
    result = run(workdir, "tripwire", "status", "--json", env=ENABLED)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def test_a_kill_switch_policy_engages_the_kill_switch_of_a_running_daemon(workdir: Path) -> None:
    _enable(workdir, "shortfall_rise")  # implementation shortfall, 200 baseline, 50 current
    proc = start(workdir, "run", "--execution-mode", "paper", "--trading-mode", "aggressive",
                 env=ENABLED)  # fmt: skip
    records = workdir / "runtime" / "decisions.jsonl"
    try:
        wait_until(lambda: len(journal_events(workdir, "FILL")) >= 2, timeout=30,
                   what="the daemon trading", proc=proc)  # fmt: skip
        # The shortfall of trend's orders went from 1 bp to 5 bps: a rise of 4x its baseline.
        _seed(workdir / "state", "trend", "implementation_shortfall_bps", [1.0] * 200 + [5.0] * 50)
        judged = run(workdir, "tripwire", "evaluate", env=ENABLED)
        assert judged.returncode == 0, judged.stderr
        assert "kill switch engaged: tripwire shortfall_rise: sleeve trend" in judged.stdout

        def refused() -> list[dict]:
            return [
                r for r in read_jsonl(records)
                if (r.get("reason") or {}).get("code") == "KILL_SWITCH_ACTIVE"
            ]  # fmt: skip

        wait_until(lambda: bool(refused()), timeout=30, what="the daemon refusing new risk",
                   proc=proc)  # fmt: skip
        wait_until(
            lambda: any(r.get("event") == "TRIPWIRE" for r in read_jsonl(records)),
            timeout=30, what="the TRIPWIRE record", proc=proc,
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    # (the daemon's own KPI events of trend mix with the seeded ones: about 1 and 5 bps)
    why = refused()[0]["reason"]["reason"]
    assert why.startswith("tripwire shortfall_rise: sleeve trend implementation_shortfall_bps")
    [trip] = [r for r in read_jsonl(records) if r.get("event") == "TRIPWIRE"]
    assert trip["reason"]["code"] == "TRIPWIRE_KILL_SWITCH"
    assert trip["reason"]["by"] == "command"
    baseline, current = trip["reason"]["baseline"], trip["reason"]["current"]
    assert current > 2 * baseline > 0 and trip["reason"]["drop"] > 1.0
    assert f"{current} vs baseline {baseline}" in why
    alerts = read_jsonl(workdir / "runtime" / "alerts.jsonl")
    assert [a["policy"] for a in alerts if a["alert"] == "TRIPWIRE_KILL_SWITCH"] == [
        "shortfall_rise"
    ]
    # Nothing that adds risk was sent once the daemon refused it.
    first = refused()[0]["ts"]
    later = [e for e in journal_events(workdir, "INTENT") if e.get("ts", "") > first]
    assert all(e.get("reducing") for e in later), later

    [entry] = _status(workdir)["triggered"]
    assert (entry["policy"], entry["sleeve"], entry["action"]) == (
        "shortfall_rise", "trend", "KILL_SWITCH"
    )  # fmt: skip

    resumed = run(workdir, "resume", env=ENABLED)
    assert resumed.returncode == 0, resumed.stderr
    assert "tripwire shortfall_rise cleared for sleeve trend" in resumed.stdout
    state = _status(workdir)
    assert state["triggered"] == []
    [entry] = [e for e in state["entries"] if e["sleeve"] == "trend"]
    assert entry["cleared"]["reason"] == "quantbot resume"
    assert entry["cleared"]["triggered_at"] is not None
    # The events it fired on are behind it now: judging again fires nothing.
    again = run(workdir, "tripwire", "evaluate", env=ENABLED)
    assert again.returncode == 0 and "kill switch" not in again.stdout
    control = orjson.loads((workdir / "state" / "control.json").read_bytes())
    assert not control.get("kill_switch")


def test_reset_clears_one_policy_with_its_reason_kept(workdir: Path) -> None:
    _enable(workdir, "hit_rate_drop")  # hit rate, 50 baseline, 20 current, 30% drop
    _enable(workdir, "fill_rate_drop")
    state = workdir / "state"
    state.mkdir(mode=0o700)
    _seed(state, "trend", "hit_rate", [1.0] * 50 + [0.0] * 20)
    _seed(state, "mean_reversion", "fill_rate", [1.0] * 200 + [0.5] * 50)
    judged = run(workdir, "tripwire", "evaluate", env=ENABLED)
    assert judged.returncode == 0, judged.stderr
    assert [(e["policy"], e["sleeve"]) for e in _status(workdir)["triggered"]] == [
        ("fill_rate_drop", "mean_reversion"), ("hit_rate_drop", "trend")
    ]  # fmt: skip

    bad = run(workdir, "tripwire", "reset", "--policy", "hit_rate_dorp", "--reason", "x",
              env=ENABLED)  # fmt: skip
    assert bad.returncode != 0 and "no policy named 'hit_rate_dorp'" in bad.stderr
    reset = run(workdir, "tripwire", "reset", "--policy", "hit_rate_drop",
                "--reason", "reviewed: labels were late", env=ENABLED)  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    assert "cleared hit_rate_drop for sleeve trend" in reset.stdout
    after = _status(workdir)
    assert [(e["policy"], e["sleeve"]) for e in after["triggered"]] == [
        ("fill_rate_drop", "mean_reversion")
    ]
    [cleared] = [e for e in after["entries"] if e["policy"] == "hit_rate_drop"]
    assert cleared["cleared"]["reason"] == "reviewed: labels were late"
    shown = run(workdir, "tripwire", "status", env=ENABLED)
    assert "reviewed: labels were late" in shown.stdout and "TRIGGERED THROTTLE" in shown.stdout
