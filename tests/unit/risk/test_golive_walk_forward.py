"""Go-live's walk-forward line: with ``[golive] require_walk_forward = true`` every configured
sleeve needs a walk-forward summary of its current kind, params and source whose DSR and PBO
pass the configured thresholds; off by default, and the checklist says so."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import attrs
import orjson
import pytest

import quantbot.signals.mean_reversion
import quantbot.signals.trend
from quantbot.cli import golive as golive_cli
from quantbot.clock import SimClock
from quantbot.config.schema import LoadedConfig, load_config
from quantbot.oms.journal import EventType, Journal
from quantbot.risk.golive import GO_LIVE_FILE, WALK_FORWARD_ITEM, ChecklistItem, run_checklist
from tests.unit.risk.test_golive import write_history

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z
KEYS = {"APCA_API_KEY_ID": "key-value", "APCA_API_SECRET_KEY": "secret-value"}
GATE = "[golive]\nrequire_walk_forward = true\nmin_dsr = 0.95\nmax_pbo = 0.2\n"
TREND = {"fast": 10, "slow": 30, "scale": 2.0}
MEAN_REVERSION = {"window": 20, "entry_z": 1.0, "max_z": 3.0}
HOLD = """\
from quantbot.signals.base import SleeveSignal


class Hold:
    def __init__(self, name, *, level=1.0):
        self.name = name
        self.level = level
        self.warmup_bars = 0

    def update(self, bar):
        return SleeveSignal(self.level, 1.0, True, {})

    def reset(self, symbol):
        pass
"""


def sha_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


BUILTIN_SHA = {
    "trend": sha_of(quantbot.signals.trend.__file__),
    "mean_reversion": sha_of(quantbot.signals.mean_reversion.__file__),
}


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


def load(tmp_path: Path, text: str = "") -> LoadedConfig:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    loaded = load_config(
        path,
        environ={
            "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
            "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        },
    )
    config = loaded.config  # a real venue's name, as live needs (see test_golive.py)
    return attrs.evolve(
        loaded, config=attrs.evolve(config, venue=attrs.evolve(config.venue, name="alpaca"))
    )


def sleeve(kind: str, params: dict, sha: str) -> dict:
    return {"kind": kind, "params": params, "source_sha256": sha}


def builtin_sleeves(**changed: dict) -> dict:
    return {
        "trend": sleeve("trend", changed.get("trend", TREND), BUILTIN_SHA["trend"]),
        "mean_reversion": sleeve(
            "mean_reversion",
            changed.get("mean_reversion", MEAN_REVERSION),
            BUILTIN_SHA["mean_reversion"],
        ),
    }


def write_summary(root: Path, run_id: str, sleeves: dict, dsr=0.97, pbo=0.1) -> None:
    """A walk-forward summary as `quantbot walk-forward` writes it (the keys the gate reads)."""
    (root / run_id).mkdir(parents=True)
    summary = {
        "id": run_id,
        "created_from": {"config_hash": "x", "data": {}},
        "sleeves": sleeves,
        "folds": [],
        "distribution": {},
        "overfitting": {"dsr": dsr, "pbo": pbo, "trials": 16},
    }
    (root / run_id / "summary.json").write_bytes(orjson.dumps(summary))


def gate_item(loaded: LoadedConfig, tmp_path: Path) -> ChecklistItem:
    result = run_checklist(
        loaded, state_dir=tmp_path / "state", runtime_dir=tmp_path / "runtime", environ=KEYS
    )
    return next(item for item in result.items if item.name == WALK_FORWARD_ITEM)


def test_off_by_default_and_the_line_says_off(tmp_path: Path) -> None:
    loaded = load(tmp_path)
    assert loaded.config.golive.require_walk_forward is False
    item = gate_item(loaded, tmp_path)
    assert item.ok
    assert item.detail == "off ([golive] require_walk_forward = false)"


def test_on_with_no_walk_forward_refuses_naming_each_sleeve(tmp_path: Path) -> None:
    item = gate_item(load(tmp_path, GATE), tmp_path)
    assert not item.ok
    assert item.detail == (
        "signals.trend: no walk-forward run of it; run `quantbot walk-forward` first; "
        "signals.mean_reversion: no walk-forward run of it; run `quantbot walk-forward` first"
    )


def test_on_with_a_matching_passing_summary_passes(tmp_path: Path) -> None:
    write_summary(tmp_path / "runtime" / "walk_forward", "wf-1", builtin_sleeves())
    item = gate_item(load(tmp_path, GATE), tmp_path)
    assert item.ok, item.detail
    assert item.detail == (
        "signals.trend: walk-forward wf-1 dsr=0.97 pbo=0.1; "
        "signals.mean_reversion: walk-forward wf-1 dsr=0.97 pbo=0.1"
    )


def test_a_summary_of_other_params_is_stale(tmp_path: Path) -> None:
    root = tmp_path / "runtime" / "walk_forward"
    write_summary(root, "wf-old", builtin_sleeves(trend={**TREND, "slow": 50}))
    item = gate_item(load(tmp_path, GATE), tmp_path)
    assert not item.ok
    assert item.detail == (
        "signals.trend: no walk-forward run of its current kind, params and source "
        "(wf-old ran other params: stale); run `quantbot walk-forward` again"
    )  # mean_reversion matches and passes, so it is not named


def test_a_config_whose_params_changed_since_the_run_is_refused(tmp_path: Path) -> None:
    write_summary(tmp_path / "runtime" / "walk_forward", "wf-1", builtin_sleeves())
    item = gate_item(load(tmp_path, GATE + "\n[signals.trend]\nslow = 40\n"), tmp_path)
    assert not item.ok
    assert "signals.trend: no walk-forward run of its current kind, params and source" in (
        item.detail
    )
    assert "signals.mean_reversion" not in item.detail


def test_thresholds_and_missing_statistics_are_stated(tmp_path: Path) -> None:
    root = tmp_path / "wf"
    write_summary(root, "wf-a", builtin_sleeves(), dsr=0.9, pbo=0.35)
    write_summary(root, "wf-b", builtin_sleeves(), dsr=None, pbo=0.1)
    text = GATE + f'walk_forward_dir = "{root}"\n'
    item = gate_item(load(tmp_path, text), tmp_path)
    assert not item.ok
    assert item.detail.startswith(
        "signals.trend: no walk-forward run of it passes (wf-a: dsr = 0.9 < golive.min_dsr = "
        "0.95, pbo = 0.35 > golive.max_pbo = 0.2; wf-b: dsr is null, not a number)"
    )
    # A lower bar lets the same run pass.
    looser = text.replace("min_dsr = 0.95", "min_dsr = 0.8").replace(
        "max_pbo = 0.2", "max_pbo = 0.4"
    )
    assert gate_item(load(tmp_path, looser), tmp_path).ok


def test_a_user_sleeve_is_matched_by_the_hash_of_its_file(tmp_path: Path) -> None:
    (tmp_path / "hold.py").write_text(HOLD, encoding="utf-8")
    weights = "".join(
        f"[regime_components.{p}]\nmine = 1.0\n\n"
        for p in ("conservative", "balanced", "aggressive")
    )
    text = GATE + '\n[signals.mine]\nkind = "hold.py:Hold"\nlevel = 0.5\n\n' + weights
    root = tmp_path / "runtime" / "walk_forward"
    older = hashlib.sha256(HOLD.replace("1.0, True", "0.9, True").encode()).hexdigest()
    write_summary(root, "wf-old", {"mine": sleeve("hold.py:Hold", {"level": 0.5}, older)})
    item = gate_item(load(tmp_path, text), tmp_path)
    assert not item.ok
    assert "signals.mine: no walk-forward run of its current kind, params and source " in (
        item.detail
    )
    assert "(wf-old ran other source: stale)" in item.detail

    current = sha_of(tmp_path / "hold.py")
    write_summary(root, "wf-new", {"mine": sleeve("hold.py:Hold", {"level": 0.5}, current)})
    item = gate_item(load(tmp_path, text), tmp_path)
    assert item.ok, item.detail
    assert item.detail == "signals.mine: walk-forward wf-new dsr=0.97 pbo=0.1"


# -- through `quantbot go-live` ------------------------------------------------------------------
def ready(tmp_path: Path, clock: SimClock, text: str) -> LoadedConfig:
    """Every other checklist item in place: a clean journal, a paper run's history."""
    state_dir, runtime_dir = tmp_path / "state", tmp_path / "runtime"
    state_dir.mkdir(parents=True)
    journal = Journal(state_dir / "journal.jsonl", clock)
    journal.append(
        EventType.INTENT, durable=True, client_order_id="qb-1", symbol="SIMA", side="BUY", qty="1"
    )
    journal.append(EventType.ACK, client_order_id="qb-1")
    journal.close()
    loaded = load(tmp_path, text)
    write_history(runtime_dir, loaded.hash)  # enough paper days and trades of this config
    return loaded


def ns(action: str) -> argparse.Namespace:
    return argparse.Namespace(command="go-live", action=action, note="", config=None)


def test_cli_enable_refuses_naming_the_sleeve_then_enables_once_a_run_passes(
    tmp_path: Path, clock: SimClock, capsys, monkeypatch
) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    loaded = ready(tmp_path, clock, GATE)

    assert golive_cli.dispatch(ns("enable"), loaded, clock) == 1
    out, err = capsys.readouterr()
    assert "✗ walk-forward overfitting gate: signals.trend: no walk-forward run of it" in out
    assert "  - walk-forward overfitting gate: signals.trend: no walk-forward run" in err
    assert not (tmp_path / "state" / GO_LIVE_FILE).exists()

    write_summary(tmp_path / "runtime" / "walk_forward", "wf-1", builtin_sleeves())
    assert golive_cli.dispatch(ns("enable"), loaded, clock) == 0
    out, _ = capsys.readouterr()
    assert "✓ walk-forward overfitting gate: signals.trend: walk-forward wf-1" in out
    assert "go-live enabled at 2025-11-21T12:00:00.000000Z" in out

    assert golive_cli.dispatch(ns("status"), loaded, clock) == 0
    status = orjson.loads(capsys.readouterr().out)
    gate = [i for i in status["checklist_now"]["items"] if i["name"] == WALK_FORWARD_ITEM]
    assert gate[0]["ok"] is True


def test_cli_status_says_off_by_default(tmp_path: Path, clock: SimClock, capsys) -> None:
    loaded = load(tmp_path)
    assert golive_cli.dispatch(ns("status"), loaded, clock) == 0
    status = orjson.loads(capsys.readouterr().out)
    gate = [i for i in status["checklist_now"]["items"] if i["name"] == WALK_FORWARD_ITEM]
    assert gate == [
        {
            "name": WALK_FORWARD_ITEM,
            "ok": True,
            "detail": "off ([golive] require_walk_forward = false)",
        }
    ]
