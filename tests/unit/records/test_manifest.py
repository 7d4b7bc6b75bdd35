"""The run manifest: the DESIGN.md section 5 fields, written as JSON under runtime/manifests."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson

from quantbot.config.schema import load_config, redacted
from quantbot.records.manifest import build_manifest, git_commit, mark_ended, write_manifest

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z


def manifest() -> dict:
    loaded = load_config(None, environ={"QUANTBOT__VENUE__SIM__FEE_BPS": "2"})
    return build_manifest(
        run_id="run-20251121-abc",
        started_ns=T0,
        execution_mode="paper",
        trading_profile=loaded.config.run.trading_profile,
        account_id="sim",
        config=redacted(loaded.plain(), {}),
        config_hash=loaded.hash,
        config_path=None,
        env_keys=loaded.env_keys,
        feature_flags={"ai_sizer": "shadow"},
        canary_symbols=["SIMA"],
        startup={"journal_events": 0},
    )


def test_manifest_has_the_fields_design_section_5_asks_for() -> None:
    m = manifest()
    assert m["run_id"] == "run-20251121-abc"
    assert m["started_at"] == "2025-11-21T12:00:00.000000Z"
    assert m["execution_mode"] == "paper"
    assert m["trading_profile"] == "conservative"
    assert m["account_id"] == "sim"
    assert m["config"]["venue"]["sim"]["fee_bps"] == 2.0
    assert m["config"]["venue"]["alpaca"]["key_env_present"] is False
    assert (
        m["config_hash"] == load_config(None, environ={"QUANTBOT__VENUE__SIM__FEE_BPS": "2"}).hash
    )
    assert m["config_from_environment"] == {"venue.sim.fee_bps": "QUANTBOT__VENUE__SIM__FEE_BPS"}
    assert m["feature_flags"] == {"ai_sizer": "shadow"}
    assert m["runtime_contract"] == {"test_doubles_reachable": False}
    assert m["canary_symbols"] == ["SIMA"]
    assert m["startup"] == {"journal_events": 0}
    versions = m["package_versions"]
    assert versions["quantbot"] and versions["python"] and versions["orjson"]
    assert "git_commit" in m


def test_write_manifest_writes_valid_json_named_by_run_id(tmp_path: Path) -> None:
    m = manifest()
    path = write_manifest(tmp_path / "runtime", m)
    assert path == tmp_path / "runtime" / "manifests" / "run-20251121-abc.json"
    assert orjson.loads(path.read_bytes()) == orjson.loads(orjson.dumps(m))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob(".*.tmp"))


def test_git_commit_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None


def test_a_manifest_says_ended_only_once_the_run_closed(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "runtime", manifest())
    assert orjson.loads(path.read_bytes())["ended"] is None  # running, or died
    mark_ended(path, ended_ns=T0 + 3600 * 10**9, halted="HALT_TASK_CRASHED")
    stamped = orjson.loads(path.read_bytes())
    assert stamped["ended"] == {"at": "2025-11-21T13:00:00.000000Z", "halted": "HALT_TASK_CRASHED"}
    assert {k: v for k, v in stamped.items() if k != "ended"} == {
        k: v for k, v in orjson.loads(orjson.dumps(manifest())).items() if k != "ended"
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
