"""The logistic_model sleeve: loads its artifact once, verified, and never reads it again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from quantbot.marketdata.csv_bars import load_csv_bars
from quantbot.models.artifact import ModelVerificationError
from quantbot.models.features import WARMUP_BARS
from quantbot.models.train import train
from quantbot.signals.model_sleeve import LogisticModelSleeve
from quantbot.signals.registry import SleeveDecl
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("model") / "lr"
    train([shared_data_dir / "daily" / "AAPL.csv"], out)
    return out


@pytest.fixture(scope="module")
def shared_data_dir() -> Path:
    return SHARED_DATA


def _signals(sleeve: LogisticModelSleeve, bars) -> list[tuple[float, float, bool]]:
    return [(s.target, s.confidence, s.ready) for s in map(sleeve.update, bars)]


def test_it_warms_up_then_takes_positions_both_ways(artifact: Path, shared_data_dir: Path) -> None:
    bars = load_csv_bars(shared_data_dir / "daily" / "MSFT.csv")
    signals = _signals(LogisticModelSleeve("lr", artifact=str(artifact)), bars)
    assert [ready for _, _, ready in signals[:WARMUP_BARS]] == [False] * (WARMUP_BARS - 1) + [True]
    targets = [t for t, _, ready in signals if ready]
    assert max(targets) > 0.5 and min(targets) < -0.5
    assert all(0.0 <= c <= 1.0 for _, c, _ in signals)


def test_a_model_changed_on_disk_after_the_start_changes_nothing(
    artifact: Path, shared_data_dir: Path, tmp_path: Path
) -> None:
    own = tmp_path / "lr"
    shutil.copytree(artifact, own)
    bars = list(load_csv_bars(shared_data_dir / "daily" / "IBM.csv"))
    running = LogisticModelSleeve("lr", artifact=str(own))
    before = _signals(running, bars[:500])
    # Another model written over it (and a byte flipped besides) while the sleeve runs.
    train([shared_data_dir / "daily" / "IBM.csv"], own)
    model = own / "model.json"
    model.write_bytes(model.read_bytes().replace(b"0", b"1", 1))
    after = _signals(running, bars[500:])
    reference = LogisticModelSleeve("lr", artifact=str(artifact))
    assert before + after == _signals(reference, bars)
    with pytest.raises(ModelVerificationError, match="sha256 mismatch"):
        LogisticModelSleeve("lr", artifact=str(own))  # the next start refuses it


def test_a_declared_logistic_model_with_a_bad_artifact_fails_to_build(tmp_path: Path) -> None:
    decl = SleeveDecl.from_table(
        {"kind": "logistic_model", "artifact": str(tmp_path / "none")},
        ("signals", "lr"),
        lambda _: "<test>",
    )
    with pytest.raises(ModelVerificationError, match=r"none/manifest\.json: cannot be read"):
        decl.build()
