"""The decision-side risk stages end to end: `quantbot run` as a subprocess, with an outside
model's TradeIntents dropped in the inbox before start, judged by what lands on disk."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, journal_events, read_jsonl, run

pytestmark = pytest.mark.e2e

STAGES = ("sizer", "limits", "policy", "governor", "daily_risk")
VALID = orjson.dumps(
    {
        "schema_version": "1.1",
        "symbol": "SIMA",
        "side": "buy",
        "confidence": 0.9,
        "intent_id": "e2e-1",
        "ai_leverage": 500,
    }
)
MALFORMED = b'{"symbol": "SIMB", "side": "buy", "confidence": "very"}'
# The governor tables of config.toml: what the manifest and every record must show.
GOVERNOR = {
    "conservative": {
        "min_order_usd": 10.0,
        "max_position_usd": 5000.0,
        "min_leverage": 1.0,
        "max_leverage": 20.0,
        "max_notional_usd": 10000.0,
        "confidence_floor": 0.0,
        "risk_budget_usd": 0.0,
    },
    "aggressive": {
        "min_order_usd": 10.0,
        "max_position_usd": 40000.0,
        "min_leverage": 1.0,
        "max_leverage": 80.0,
        "max_notional_usd": 80000.0,
        "confidence_floor": 0.0,
        "risk_budget_usd": 0.0,
    },
}


class Run:
    """One finished paper run: its exit, records, journal, daily ledger and manifest."""

    def __init__(self, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        inbox = workdir / "runtime" / "inbox"
        inbox.mkdir(parents=True)
        (inbox / "model.jsonl").write_bytes(VALID + b"\n" + MALFORMED + b"\n")
        self.workdir = workdir
        self.result = run(
            workdir, "run", "--execution-mode", "paper", "--duration", "3s", *args, env=env
        )
        assert self.result.returncode == 0, self.result.stderr
        self.records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
        self.decisions = [r for r in self.records if "decision_id" in r]
        [manifest] = (workdir / "runtime" / "manifests").glob("*.json")
        self.manifest: dict[str, Any] = orjson.loads(manifest.read_bytes())
        self.ledger_path = workdir / "state" / "daily_risk.jsonl"

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == name]

    def reached(self, stage: str) -> list[dict[str, Any]]:
        """Decision records in which ``stage`` actually judged something."""
        return [r for r in self.decisions if r[stage]["verdict"] not in {"not_reached", "skipped"}]


@pytest.fixture(scope="module")
def _no_test_doubles() -> Iterator[None]:
    # The module-scoped runs start before the per-test autouse fixture that clears these.
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("QUANTBOT_TESTING", raising=False)
        mp.delenv("QUANTBOT_SIM_FAULTS", raising=False)
        yield


def _fresh(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    workdir = tmp_path_factory.mktemp(name)
    shutil.copy(REPO_ROOT / "config.toml", workdir / "config.toml")
    return workdir


@pytest.fixture(scope="module")
def conservative(tmp_path_factory: pytest.TempPathFactory, _no_test_doubles: None) -> Run:
    return Run(_fresh(tmp_path_factory, "conservative"))


@pytest.fixture(scope="module")
def aggressive(tmp_path_factory: pytest.TempPathFactory, _no_test_doubles: None) -> Run:
    return Run(_fresh(tmp_path_factory, "aggressive"), "--trading-mode", "aggressive")


# -- the inbox --------------------------------------------------------------------------------


def test_the_inbox_lines_written_before_start_are_recorded_accepted_and_rejected(
    conservative: Run,
) -> None:
    [accepted] = conservative.events("INTENT_ACCEPTED")
    assert (accepted["file"], accepted["line_no"]) == ("model.jsonl", 1)
    assert accepted["intent"]["intent_id"] == "e2e-1"
    assert accepted["run_id"] == conservative.manifest["run_id"]
    # ai_leverage 500 came in; the conservative governor allows 20
    assert accepted["intent"]["ai_leverage"] == 20.0
    assert [c["code"] for c in accepted["clamps"]] == ["INTENT_LEVERAGE_CLAMP"]
    assert accepted["clamps"][0]["before"] == 500.0

    [rejected] = conservative.events("INTENT_REJECTED")
    assert (rejected["file"], rejected["line_no"]) == ("model.jsonl", 2)
    assert rejected["reason"]["code"] == "INTENT_REJECTED"
    assert rejected["reason"]["field"] == "confidence"
    assert rejected["raw"] == MALFORMED.decode()

    inbox = conservative.workdir / "runtime" / "inbox"
    assert stat.S_IMODE(inbox.stat().st_mode) == 0o700  # made owner-only at start


def test_the_accepted_intent_counts_in_the_netting_of_its_symbol(conservative: Run) -> None:
    [accepted] = conservative.events("INTENT_ACCEPTED")
    # Live for ttl_s (300 s) once read: every later SIMA decision of a 3 s run sees it. (The
    # inbox task and the first bars start together, so a bar may come before the first poll.)
    sima = [
        r
        for r in conservative.decisions
        if r["symbol"] == "SIMA" and "net" in r and r["ts"] > accepted["ts"]
    ]
    assert sima
    for record in sima:
        assert record["sleeves"]["external"] == {"target": 1.0, "confidence": 0.9, "ready": True}
        assert record["net"]["contributions"]["external"] > 0.0
    others = [r for r in conservative.decisions if r["symbol"] != "SIMA" and "sleeves" in r]
    assert others and all(not r["sleeves"]["external"]["ready"] for r in others)


# -- the stages in every record ---------------------------------------------------------------


def test_every_decision_record_carries_a_verdict_of_all_five_stages(conservative: Run) -> None:
    assert conservative.decisions
    for record in conservative.decisions:
        for stage in STAGES:
            assert "verdict" in record[stage], (stage, record)
    # and the stages did judge: at least one entry went through all of them
    assert conservative.reached("governor")
    assert [r for r in conservative.decisions if r["daily_risk"]["verdict"] == "reserved"]


def test_the_daily_ledger_is_private_and_reserves_each_entry_before_it_is_sent(
    conservative: Run,
) -> None:
    ledger = conservative.ledger_path
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
    lines = read_jsonl(ledger)
    reserved = {line["client_order_id"] for line in lines if line["type"] == "RESERVE"}
    released = {line["client_order_id"] for line in lines if line["type"] == "RELEASE"}
    intents = {e["client_order_id"] for e in journal_events(conservative.workdir, "INTENT")}
    assert reserved & intents, "no journaled order had a reservation"
    # A reservation either became a journaled order or was freed again: none is left dangling.
    assert reserved <= intents | released

    sent_entries = [
        r
        for r in conservative.decisions
        if r["daily_risk"]["verdict"] == "reserved" and r["order"]["outcome"] == "ACCEPTED"
    ]
    assert sent_entries
    for record in sent_entries:
        cid = record["intent"]["client_order_id"]
        assert cid in reserved and cid in intents
        assert record["daily_risk"]["notional_usd"] > 0
        assert record["daily_risk"]["sleeve"] in record["sleeves"]


# -- the manifest and the trading profile -----------------------------------------------------


def test_the_manifest_names_the_profiles_risk_params_and_the_sizer_mode(
    conservative: Run,
) -> None:
    manifest = conservative.manifest
    assert manifest["trading_profile"] == "conservative"
    assert set(manifest["risk_params"]) == {
        "sizer",
        "policy",
        "governor",
        "limits",
        "daily",
        "cost_gate",
        "turnover",
    }
    assert manifest["risk_params"]["governor"] == GOVERNOR["conservative"]
    assert manifest["feature_flags"]["ai_sizer"] == "shadow"
    assert manifest["feature_flags"]["intent_inbox"] is True


def _bounds_in_records(run_: Run) -> list[dict[str, Any]]:
    return [r["governor"]["bounds"] for r in run_.reached("governor")]


def test_the_aggressive_profile_changes_the_manifest_and_the_bounds_in_the_records(
    conservative: Run, aggressive: Run
) -> None:
    manifest = aggressive.manifest
    assert manifest["trading_profile"] == "aggressive"
    assert manifest["risk_params"]["governor"] == GOVERNOR["aggressive"]
    assert manifest["risk_params"] != conservative.manifest["risk_params"]

    for run_, profile in ((conservative, "conservative"), (aggressive, "aggressive")):
        expected = GOVERNOR[profile]
        bounds = _bounds_in_records(run_)
        assert bounds, f"no entry reached the governor in the {profile} run"
        for b in bounds:
            assert b["max_leverage"] == expected["max_leverage"]
            assert b["max_position_usd"] == expected["max_position_usd"]
            assert b["max_notional_usd"] == expected["max_notional_usd"]

    # the inbox clamps to the aggressive governor too
    [accepted] = aggressive.events("INTENT_ACCEPTED")
    assert accepted["intent"]["ai_leverage"] == 80.0


def test_a_live_sizer_sizes_with_the_ai_proposal(workdir: Path) -> None:
    result = Run(workdir, env={"QUANTBOT__SIZER__MODE": "live"})

    assert result.manifest["feature_flags"]["ai_sizer"] == "live"
    sized = result.reached("sizer")
    assert sized
    for record in sized:
        assert (record["sizer"]["verdict"], record["sizer"]["used"]) == ("live", "ai"), record
        assert record["sizer"]["ai"]["notional_usd"] > 0


def test_a_bad_inbox_setting_stops_before_start_naming_the_key(workdir: Path) -> None:
    result = run(
        workdir,
        "run",
        "--execution-mode",
        "paper",
        "--duration",
        "1s",
        env={"QUANTBOT__INBOX__TTL_S": "-1"},
    )

    assert result.returncode == 2
    assert "inbox.ttl_s" in result.stderr
    assert not (workdir / "state" / "daily_risk.jsonl").exists()
    assert not (workdir / "runtime" / "manifests").exists()
