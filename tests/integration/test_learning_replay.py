"""Post-trade learning in `quantbot replay` over the real daily bars, as a user runs it: with
every AAPL fill paying 40 bps of fixed slippage, its mean implementation shortfall is high,
so at a day roll the cost gate's buffer for AAPL rises (by at most the daily bound), the
event and the version say why, later cost-gate verdicts name the override, and a second
replay writes the same bytes. Off (the shipped default), nothing of it appears."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, run
from tests.integration.test_replay_cost_turnover import DAILY

CONFIG = str(REPO_ROOT / "config.toml")
HIGH_IS = {
    "QUANTBOT__VENUE__SIM__SLIPPAGE_MODEL": "fixed",
    "QUANTBOT__VENUE__SIM__SLIPPAGE_BPS": "40",
    # a high edge scale, so the cost gate lets entries through and they fill
    "QUANTBOT__COST_GATE__EDGE_SCALE_BPS": "2000",
}
LEARNING = {
    **HIGH_IS,
    "QUANTBOT__LEARNING__ENABLED": "true",
    "QUANTBOT__LEARNING__MIN_SAMPLES": "3",
    "QUANTBOT__LEARNING__IS_HIGH_BPS": "30",
    "QUANTBOT__LEARNING__MAX_DAILY_DELTA_BPS": "1.5",
}
BASE_BUFFER = 5.0  # cost_gate.conservative.entry_cost_buffer_bps
BASE_DEADBAND = 0.2  # profiles.conservative.deadband


def replay(workdir: Path, env: dict[str, str]) -> Path:
    data = str(DAILY / "AAPL.csv")
    result = run(workdir, "replay", "--config", CONFIG, "--data", data, "--to", "2001-12-31",
                 env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [line.split()[-1] for line in result.stdout.splitlines() if "records:" in line]
    return workdir / Path(out).parent


@pytest.mark.e2e
def test_high_is_raises_the_buffer_at_a_day_roll_byte_for_byte(workdir: Path) -> None:
    out = replay(workdir, LEARNING)
    decisions = (out / "decisions.jsonl").read_bytes()
    state = (out / "state" / "learned_overrides.json").read_bytes()
    lines = [orjson.loads(line) for line in decisions.splitlines()]
    events = [r for r in lines if r.get("event") == "LEARNED_OVERRIDE"]
    raised = [e for e in events if e["reason"]["code"] == "LEARNING_COST_BUFFER_RAISED"]
    assert raised, "no buffer raised"
    for e in raised:
        why = e["reason"]
        assert why["symbol"] == "AAPL" and 0 < why["to"] - why["from"] <= 1.5
        assert e["evidence"]["mean_is_bps"] > 30.0 and e["evidence"]["samples"] >= 3
        assert e["ts"].startswith(e["day"])  # decided at the first bar of the new day
    first = raised[0]
    assert (first["reason"]["from"], first["reason"]["to"]) == (0.0, 1.5)

    # versioned: each names the one it replaced; the first raise is in the one it names
    data = orjson.loads(state)
    ids = [v["id"] for v in data["versions"]]
    assert ids == list(range(1, len(ids) + 1)) and data["head"] == ids[-1]
    assert [v["previous"] for v in data["versions"]] == [None, *ids[:-1]]
    v1 = data["versions"][first["version"] - 1]
    assert v1["overrides"]["AAPL"]["cost_buffer_add_bps"]["value"] == 1.5
    assert v1["changes"][0]["code"] == "LEARNING_COST_BUFFER_RAISED"

    # the cost gate's verdicts after the raise name the override and use the raised buffer
    decided = [r for r in lines if "decision_id" in r and r["ts"] > first["ts"]]
    named = [r["cost_gate"] for r in decided if "learned_override" in (r["cost_gate"] or {})]
    assert named
    for verdict in named:
        learned = verdict["learned_override"]
        assert learned["param"] == "cost_buffer_add_bps"
        assert verdict["buffer_bps"] == pytest.approx(BASE_BUFFER + learned["value"])
    # AAPL's fills flip sides often: its deadband widens too, and holds targets it let through
    widened = [r for r in decided if "learned_override" in (r["net"] or {})]
    assert widened
    for r in widened:
        net = r["net"]
        assert net["learned_override"]["param"] == "deadband_mult"
        assert net["deadband"] == pytest.approx(BASE_DEADBAND * net["learned_override"]["value"])
    held = [r for r in widened if (r["reason"] or {}).get("code") == "NETTING_DEADBAND"]
    # some moves the base deadband would have traded were held by the wider one
    assert any(abs(r["net"]["target"] - r["net"]["previous_target"]) >= BASE_DEADBAND
               for r in held)  # fmt: skip

    again = replay(workdir, LEARNING)
    assert (again / "decisions.jsonl").read_bytes() == decisions
    assert (again / "state" / "learned_overrides.json").read_bytes() == state


@pytest.mark.e2e
def test_learning_off_by_default_changes_nothing(workdir: Path) -> None:
    out = replay(workdir, HIGH_IS)
    text = (out / "decisions.jsonl").read_text()
    assert "LEARNED_OVERRIDE" not in text and "learned_override" not in text
    assert not (out / "state" / "learned_overrides.json").exists()
