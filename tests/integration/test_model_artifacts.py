"""Verified model artifacts end to end (issue 21 item 3): `quantbot model train` writes one, a
replay with the logistic_model sleeve trades on it; one flipped byte refuses a paper run's
start (exit 1 naming the file, nothing recorded before lost) and halts a live run on a
loopback venue with go-live enabled (MODEL_VERIFICATION_FAILED, exit 3, no order sent)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.oms.journal import read_journal
from quantbot.risk.golive import GO_LIVE_FILE, Checklist, ChecklistItem, GoLiveStore
from tests.conftest import REPO_ROOT, SHARED_DATA
from tests.integration.daemon import read_jsonl, run
from tests.integration.loopback import ServerThread
from tests.reliability import binance_daemon

pytestmark = pytest.mark.e2e

AAPL = SHARED_DATA / "daily" / "AAPL.csv"
ARTIFACT = "models/lr"


def model_config(workdir: Path, *, allow: bool = False) -> None:
    """The shipped config with a logistic_model sleeve ``lr`` (the only one that trades in the
    conservative profile) loading ``models/lr``."""
    text = (REPO_ROOT / "config.toml").read_text()
    sleeve = f'[signals.lr]\nkind = "logistic_model"\nartifact = "{ARTIFACT}"\n\n'
    text = text.replace("[signals.mean_reversion]\n", sleeve + "[signals.mean_reversion]\n")
    for profile in ("conservative", "balanced", "aggressive"):
        head = f"[regime_components.{profile}]\n"
        text = text.replace(head, head + "lr = 1.0\n")
    conservative = "[regime_components.conservative]\nlr = 1.0\ntrend = 0.7\nmean_reversion = 0.3"
    assert conservative in text
    text = text.replace(
        conservative, "[regime_components.conservative]\nlr = 1.0\ntrend = 0\nmean_reversion = 0"
    )
    if allow:
        text = text.replace("allow_training_in_paper = false", "allow_training_in_paper = true")
    (workdir / "config.toml").write_text(text)


def train_model(workdir: Path) -> None:
    result = run(workdir, "model", "train", "--data", str(AAPL), "--out", "research/lr")
    assert result.returncode == 0, result.stderr
    assert "wrote research/lr: version " in result.stdout
    (workdir / "models").mkdir()
    (workdir / "research" / "lr").rename(workdir / ARTIFACT)


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def untouched(state: Path) -> dict[str, tuple[int, bytes]]:
    """Each file of state/ but the lock (which a start takes first): mtime and bytes."""
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in state.iterdir()
        if p.is_file() and p.name != "quantbot.lock"
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    model_config(tmp_path)
    train_model(tmp_path)
    return tmp_path


def test_a_verified_model_trades_in_a_replay_of_the_shared_data(workdir: Path) -> None:
    assert run(workdir, "model", "verify", ARTIFACT).returncode == 0
    result = run(workdir, "replay", "--data", str(AAPL), "--out", "out", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [ln.split()[-1] for ln in result.stdout.splitlines() if "records:" in ln]
    records = read_jsonl(workdir / out)
    assert all("lr" in r["sleeves"] for r in records if "sleeves" in r)
    sent = [r for r in records if r.get("intent")]
    assert len(sent) > 100, result.stdout
    # the model's own target drove them: trend and mean reversion weigh 0
    assert all(r["net"]["contributions"]["lr"] == r["net"]["target"] for r in sent)


def test_a_flipped_byte_refuses_a_paper_start_and_keeps_what_was_recorded(
    workdir: Path,
) -> None:
    first = run(workdir, "run", "--execution-mode", "paper", "--duration", "2s")
    assert first.returncode == 0, first.stderr[-3000:]
    runtime, state = workdir / "runtime", workdir / "state"
    decisions = (runtime / "decisions.jsonl").read_bytes()
    journal = read_journal(state / "journal.jsonl")
    manifests = sorted((runtime / "manifests").iterdir())
    files = untouched(state)
    assert b'"lr":{"target"' in decisions
    [manifest] = [orjson.loads(p.read_bytes()) for p in manifests]
    verified = orjson.loads(run(workdir, "model", "verify", ARTIFACT, "--json").stdout)
    assert manifest["sleeves"]["lr"]["model"]["version"] == verified["version"]

    flip_a_byte(workdir / ARTIFACT / "model.json")
    verify = run(workdir, "model", "verify", ARTIFACT)
    assert verify.returncode == 1
    assert f"{ARTIFACT}/model.json: sha256 mismatch" in verify.stderr

    second = run(workdir, "run", "--execution-mode", "paper", "--duration", "2s")
    assert second.returncode == 1, second.stderr[-3000:]
    model = workdir / ARTIFACT / "model.json"
    assert f"cannot start: model artifact {model}: sha256 mismatch: manifest says " in (
        second.stderr
    )
    assert "Traceback" not in second.stderr
    assert (runtime / "decisions.jsonl").read_bytes() == decisions
    assert read_journal(state / "journal.jsonl") == journal
    assert sorted((runtime / "manifests").iterdir()) == manifests  # no run started
    # refused before the venue, the journal or the order side opened: not even rewritten
    assert untouched(state) == files


def test_a_flipped_byte_halts_a_live_run(workdir: Path) -> None:
    flip_a_byte(workdir / ARTIFACT / "model.json")
    state = workdir / "state"
    state.mkdir(mode=0o700)
    checklist = Checklist(items=(ChecklistItem("limits set", True, "fine"),), config_hash="x")
    GoLiveStore(state / GO_LIVE_FILE, SimClock(1_800_000_000 * 10**9)).enable(checklist)
    server = binance_daemon.server()
    with ServerThread(server) as srv:
        env = {
            **binance_daemon.ENV,
            "QUANTBOT__VENUE__CCXT__BASE_URL": srv.url,
            "QUANTBOT__VENUE__CCXT__SANDBOX": "false",
        }
        result = run(workdir, "run", "--execution-mode", "live", "--duration", "3s", env=env)
        orders = srv.call(lambda: list(server.book.orders.values()))
    assert result.returncode == 3, result.stderr[-3000:]
    control = orjson.loads((state / "control.json").read_bytes())
    assert control["halt_code"] == "MODEL_VERIFICATION_FAILED", control
    assert f"{ARTIFACT}/model.json" in control["halt_detail"]
    assert "sha256 mismatch" in control["halt_detail"]
    assert "MODEL_VERIFICATION_FAILED" in result.stderr
    assert orders == []
    halts = [
        r for r in read_jsonl(workdir / "runtime" / "decisions.jsonl") if r.get("event") == "HALT"
    ]
    assert [h["reason"]["code"] for h in halts] == ["MODEL_VERIFICATION_FAILED"], halts
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    assert any(r.get("sleeves", {}).get("lr", {}).get("ready") is False for r in records)
    [manifest] = (workdir / "runtime" / "manifests").iterdir()
    refused = orjson.loads(manifest.read_bytes())["sleeves"]["lr"]["model"]["refused"]
    assert "model.json: sha256 mismatch" in refused


def test_train_refuses_to_replace_the_model_a_paper_config_loads(workdir: Path) -> None:
    refused = run(workdir, "model", "train", "--data", str(AAPL), "--out", ARTIFACT)
    assert refused.returncode == 1
    assert "allow_training_in_paper = true" in refused.stderr
    model_config(workdir, allow=True)
    allowed = run(workdir, "model", "train", "--data", str(AAPL), "--out", ARTIFACT)
    assert allowed.returncode == 0, allowed.stderr
