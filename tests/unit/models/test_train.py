"""`quantbot model train`: deterministic (the same bars give a byte-identical artifact), its
manifest says what it was trained on and by which code; and where it may not write."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import quantbot
from quantbot.clock import SimClock
from quantbot.config.schema import load_config
from quantbot.models.artifact import load_verified, sha256
from quantbot.models.train import refusal, train
from quantbot.ops.lock import StateLock
from quantbot.risk.golive import GO_LIVE_FILE, Checklist, ChecklistItem, GoLiveStore
from tests.conftest import REPO_ROOT


def test_training_twice_on_the_same_bars_writes_byte_identical_artifacts(
    tmp_path: Path, shared_data: Path
) -> None:
    data = [shared_data / "daily" / "AAPL.csv", shared_data / "daily" / "IBM.csv"]
    first = train(data, tmp_path / "a")
    second = train(data, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["manifest.json", "model.json"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first == second == load_verified(tmp_path / "a").manifest
    assert stat.S_IMODE((tmp_path / "a" / "model.json").stat().st_mode) == 0o600


def test_the_manifest_names_the_data_range_features_and_code(
    tmp_path: Path, shared_data: Path
) -> None:
    path = shared_data / "daily" / "AAPL.csv"
    manifest = train([path], tmp_path / "a")
    data = manifest["training_data"]
    assert data["from"] == "2000-03-01T00:00:00.000000Z"
    assert data["to"] == "2013-03-01T00:00:00.000000Z"
    assert data["files"] == [
        {"path": str(path), "sha256": sha256(path.read_bytes()), "symbols": ["AAPL"], "bars": 3270}
    ]
    # created is the data's last bar (not the wall clock), unless a clock says otherwise
    assert manifest["created"] == data["to"]
    assert manifest["features"] == ["ret_1", "ret_5", "ret_20", "range", "volume_z"]
    assert manifest["code"]["package_version"] == quantbot.__version__
    assert manifest["validation"]["bars"] > 600
    # the research walk-forward's folds: anchored, purged of the bar a label looks ahead,
    # each scored on days its model never saw
    folds = manifest["walk_forward"]
    assert [f["fold"] for f in folds] == [1, 2, 3, 4]
    for fold in folds:
        assert fold["train"]["from"] == "2000-03-29" and fold["purged_bars"] == 1
        assert fold["train"]["to"] < fold["test"]["from"]
        assert fold["score"]["bars"] == fold["test"]["bars"] == 500
    clocked = train([path], tmp_path / "b", created_ns=SimClock(1_800_000_000 * 10**9).now_ns())
    assert clocked["created"] == "2027-01-15T08:00:00.000000Z"


def _config(tmp_path: Path, *, allow: bool = False):
    text = (REPO_ROOT / "config.toml").read_text()
    text = text.replace(
        "[signals.mean_reversion]\n",
        '[signals.lr]\nkind = "logistic_model"\nartifact = "models/lr"\n\n'
        "[signals.mean_reversion]\n",
    )
    for profile in ("conservative", "balanced", "aggressive"):
        head = f"[regime_components.{profile}]\n"
        text = text.replace(head, head + "lr = 1.0\n")
    text = text.replace(
        "allow_training_in_paper = false", f"allow_training_in_paper = {str(allow).lower()}"
    )
    text = text.replace('state_dir = "state"', f'state_dir = "{tmp_path / "state"}"')
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path).config


def test_training_into_the_artifact_a_paper_config_loads_needs_the_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    clock = SimClock(1_800_000_000 * 10**9)
    why = refusal(_config(tmp_path), Path("models/lr"), clock)
    assert why is not None and "allow_training_in_paper = true" in why and "'lr'" in why
    assert refusal(_config(tmp_path), tmp_path / "research" / "lr", clock) is None
    assert refusal(_config(tmp_path, allow=True), Path("models/lr"), clock) is None


def test_training_never_writes_for_a_live_config_nor_under_a_running_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    clock = SimClock(1_800_000_000 * 10**9)
    config = _config(tmp_path, allow=True)
    state = tmp_path / "state"
    state.mkdir()
    lock = StateLock(state)
    lock.acquire()
    try:
        why = refusal(config, tmp_path / "research", clock)
        assert why is not None and "daemon is running" in why
    finally:
        lock.release()
    checklist = Checklist(items=(ChecklistItem("limits set", True, "fine"),), config_hash="x")
    GoLiveStore(state / GO_LIVE_FILE, clock).enable(checklist)
    why = refusal(config, tmp_path / "research", clock)
    assert why is not None and "go-live is enabled" in why and "never runs in live" in why
