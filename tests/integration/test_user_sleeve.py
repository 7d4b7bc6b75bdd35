"""A strategy of the user's own: one file outside the package, declared in the config by name,
run by `quantbot replay` and `quantbot run` with nothing else changed; and each way of
declaring it wrong is a config error naming the file and line before anything starts."""

from __future__ import annotations

import hashlib
import subprocess
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, command, quantbot_env, read_jsonl

DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"

FLIP = '''\
"""+1 for `period` bars of a symbol, then -1 for `period` bars, and so on."""
from quantbot.signals.base import SleeveSignal, checked_close


class Flip:
    def __init__(self, name, *, period):
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.name = name
        self.period = period
        self.warmup_bars = 0
        self._seen = {}

    def update(self, bar):
        checked_close(self.name, bar)
        n = self._seen.get(bar.symbol, 0)
        self._seen[bar.symbol] = n + 1
        return SleeveSignal(-1.0 if (n // self.period) % 2 else 1.0, 1.0, True, {})

    def reset(self, symbol):
        self._seen.pop(symbol, None)
'''

CONFIG = """\
[signals.flip]
kind = "strategies/flip.py:Flip"
period = 5

[regime_components.conservative]
flip = 1.0

[regime_components.balanced]
flip = 1.0

[regime_components.aggressive]
flip = 1.0

# A sleeve that flips on a timer loses after costs and the quarantine would take it out
# (zero_targets); these tests are about how a user's sleeve is declared and what it is handed.
[quarantine]
enabled = false
"""


def user_dir(tmp_path: Path, config: str = CONFIG, sleeve: str = FLIP) -> Path:
    """A user's directory: a config and the sleeve's file beside it, nothing of quantbot's."""
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "flip.py").write_text(sleeve, encoding="utf-8")
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    return tmp_path


def quantbot(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The helpers' fast settings, but not their trend / mean-reversion keys: this config
    # declares neither, and a variable changing a sleeve that is not declared is an error.
    env = {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__SIGNALS__")}
    return subprocess.run(
        command(*args),
        cwd=workdir,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def decisions(path: Path) -> list[dict]:
    return [r for r in read_jsonl(path) if "decision_id" in r]


def flip_target(n: int) -> float:
    return -1.0 if (n // 5) % 2 else 1.0


@pytest.mark.e2e
def test_a_user_sleeve_in_its_own_file_runs_in_replay_by_config_alone(tmp_path: Path) -> None:
    workdir = user_dir(tmp_path)
    result = quantbot(workdir, "replay", "--data", str(DAILY / "IBM.csv"), "--to", "2000-12-31")
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [ln.split()[-1] for ln in result.stdout.splitlines() if "records:" in ln]

    records = decisions(workdir / out)
    assert len(records) > 200
    for n, record in enumerate(records):  # one symbol: the n-th record is its n-th bar
        assert record["sleeves"] == {
            "flip": {"target": flip_target(n), "confidence": 1.0, "ready": True}
        }
        assert record["net"]["contributions"] == {"flip": flip_target(n)}
    assert sum(1 for r in records if r["intent"]) > 10  # it trades, every flip


@pytest.mark.e2e
def test_the_same_sleeve_runs_in_a_paper_run_and_the_manifest_names_its_code(
    tmp_path: Path,
) -> None:
    workdir = user_dir(tmp_path)
    result = quantbot(workdir, "run", "--execution-mode", "paper", "--duration", "3s")
    assert result.returncode == 0, result.stderr[-3000:]

    records = decisions(workdir / "runtime" / "decisions.jsonl")
    by_symbol: dict[str, list[dict]] = {}
    for record in records:
        by_symbol.setdefault(record["symbol"], []).append(record)
    assert sorted(by_symbol) == ["SIMA", "SIMB", "SIMC"]
    for bars in by_symbol.values():
        assert [r["sleeves"]["flip"]["target"] for r in bars] == [
            flip_target(n) for n in range(len(bars))
        ]
        # and the inbox's sleeve, on by default, quiet: no intent was dropped
        assert all(r["sleeves"]["external"]["ready"] is False for r in bars)
        assert all(r["sleeves"].keys() == {"flip", "external"} for r in bars)
    sent = [r for r in records if r["intent"]]
    # its flips are orders at the paper venue (some refused by the sleeve's daily exposure cap)
    assert sum(1 for r in sent if r["order"]["outcome"] == "ACCEPTED") > 5

    [manifest_path] = (workdir / "runtime" / "manifests").glob("*.json")
    manifest = orjson.loads(manifest_path.read_bytes())
    source = workdir / "strategies" / "flip.py"
    external = REPO_ROOT / "quantbot" / "signals" / "external.py"
    assert manifest["sleeves"] == {
        "flip": {
            "kind": "strategies/flip.py:Flip",
            "source": str(source.resolve()),
            "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "params": {"period": 5},
        },
        "external": {
            "kind": "external",
            "source": str(external),
            "sha256": hashlib.sha256(external.read_bytes()).hexdigest(),
            "params": {"ttl_s": 300.0},
        },
    }
    assert manifest["config"]["signals"] == {
        "flip": {"kind": "strategies/flip.py:Flip", "period": 5}
    }


@pytest.mark.e2e
def test_the_shipped_example_sleeve_replays_with_its_config(tmp_path: Path) -> None:
    workdir = tmp_path
    config = REPO_ROOT / "examples" / "sleeves" / "donchian.toml"
    result = quantbot(
        workdir,
        "replay",
        "--config",
        str(config),
        "--data",
        str(DAILY / "IBM.csv"),
        "--to",
        "2003-12-31",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [ln.split()[-1] for ln in result.stdout.splitlines() if "records:" in ln]

    records = decisions(workdir / out)
    assert all(r["sleeves"].keys() == {"breakout"} for r in records)
    assert {r["sleeves"]["breakout"]["target"] for r in records[21:]} == {-1.0, 0.0, 1.0}
    assert sum(1 for r in records if r["intent"]) > 5


CONTRARIAN = '''\
"""Wants the other side of what the account holds: a sleeve that asks for its context."""
from quantbot.signals.base import SleeveSignal


class Contrarian:
    wants_context = True

    def __init__(self, name):
        self.name = name
        self.warmup_bars = 0

    def update(self, bar, context):
        held = context.position + context.pending
        fill = context.last_fill
        # confidence 1 once the symbol's last fill went the way the account now holds
        went = fill is not None and fill.symbol == bar.symbol and fill.side.sign * held > 0
        return SleeveSignal(-1.0 if held > 0 else 1.0, 1.0 if went else 0.5, True, {})

    def reset(self, symbol):
        pass
'''


@pytest.mark.e2e
def test_a_sleeve_that_asks_is_handed_position_pending_and_last_fill(tmp_path: Path) -> None:
    config = CONFIG.replace("flip", "mine").replace("period = 5\n", "")
    # A protective stop far away (30%): a stop-out would move the position behind the
    # sleeve's back, and this test reads what the sleeve's own orders made. (Without a stop
    # the whole notional counts as risk and the daily guard refuses these entries.)
    config += '\n[orders]\nexit_legs = ["stop_loss"]\n'
    # A sleeve that flips every bar pays its costs every bar: the cost gate would refuse its
    # weaker entries, and this test is about what the sleeve is handed, not whether it pays.
    config += "\n[cost_gate]\nenabled = false\n"
    for preset in ("scalper", "swing", "trend_runner"):
        config += f"\n[sizer.harvest.{preset}]\nstop_loss_pct = 0.3\n"
    workdir = user_dir(tmp_path, config.replace("mine.py:Flip", "contrarian.py:Contrarian"))
    (workdir / "strategies" / "contrarian.py").write_text(CONTRARIAN, encoding="utf-8")
    result = quantbot(workdir, "replay", "--data", str(DAILY / "IBM.csv"), "--to", "2000-06-30")
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [ln.split()[-1] for ln in result.stdout.splitlines() if "records:" in ln]

    records = decisions(workdir / out)
    assert records[0]["sleeves"]["mine"] == {"target": 1.0, "confidence": 0.5, "ready": True}
    # Each bar's order fills at the next bar's open, before that bar is decided: the sleeve
    # sees the position it made and the fill that made it (or, where only the close of a
    # reversal went, a flat account and a last fill that does not match it).
    confidences = set()
    for record in records[1:]:
        held = Decimal(record["position"]["qty"]) + Decimal(record["position"]["pending"])
        assert record["sleeves"]["mine"] == {
            "target": -1.0 if held > 0 else 1.0,
            "confidence": 1.0 if held else 0.5,
            "ready": True,
        }
        confidences.add(record["sleeves"]["mine"]["confidence"])
        assert record["intent"] is not None
    assert confidences == {0.5, 1.0}


NOT_A_SLEEVE = FLIP.replace("    def reset(self, symbol):\n", "    def forget(self, symbol):\n")
DOES_NOT_IMPORT = '"""A typo in an import."""\n\nimport numpyy\n' + FLIP

BAD_DECLARATIONS = [
    # (the config, the sleeve's file, line, what the error says after the file and line)
    pytest.param(
        CONFIG.replace("strategies/flip.py:Flip", "ema_sr"),
        FLIP,
        2,
        "signals.flip.kind = 'ema_sr': unknown sleeve kind (built-in kinds: trend, "
        "mean_reversion, ema_sar, logistic_model; a class of your own is 'module:Class' or "
        "'path/file.py:Class'); did you mean 'ema_sar'?",
        id="misspelt kind",
    ),
    pytest.param(
        CONFIG,
        DOES_NOT_IMPORT,
        2,
        "signals.flip.kind = 'strategies/flip.py:Flip': {flip} does not import: "
        "{flip}:3: ModuleNotFoundError: No module named 'numpyy'",
        id="module that does not import",
    ),
    pytest.param(
        CONFIG,
        NOT_A_SLEEVE,
        2,
        "signals.flip.kind = 'strategies/flip.py:Flip': Flip does not satisfy the Sleeve "
        "protocol (quantbot.signals.base.Sleeve): no reset(symbol) method",
        id="class that is not a sleeve",
    ),
    pytest.param(
        CONFIG.replace("period = 5", "period = 0"),
        FLIP,
        1,
        "signals.flip = {{'kind': 'strategies/flip.py:Flip', 'period': 0}}: Flip rejects its "
        "parameters: period must be >= 1, got 0",
        id="params the class rejects",
    ),
    pytest.param(
        CONFIG.replace("period = 5", "period = 5\nperoid = 6"),
        FLIP,
        4,
        "signals.flip.peroid = 6: not a parameter of Flip (period)",
        id="a parameter the class does not take",
    ),
    pytest.param(
        CONFIG.replace(
            "[regime_components.balanced]\n", "[regime_components.balanced]\ntrend = 0.5\n"
        ),
        FLIP,
        9,
        "regime_components.balanced.trend = 0.5: names no declared sleeve (declared: flip; "
        "external is the inbox's sleeve)",
        id="weights naming an undeclared sleeve",
    ),
]


@pytest.mark.e2e
@pytest.mark.parametrize(("config", "sleeve", "line", "says"), BAD_DECLARATIONS)
def test_a_bad_declaration_is_a_config_error_at_its_line_before_anything_starts(
    tmp_path: Path, config: str, sleeve: str, line: int, says: str
) -> None:
    workdir = user_dir(tmp_path, config, sleeve)
    result = quantbot(workdir, "run", "--execution-mode", "paper", "--duration", "30s")

    assert result.returncode == 2, result.stderr[-3000:]
    flip = (workdir / "strategies" / "flip.py").resolve()
    assert result.stderr.splitlines()[-1] == (
        f"quantbot: config error: config.toml:{line}: {says.format(flip=flip)}"
    )
    assert not (workdir / "state").exists() and not (workdir / "runtime").exists()
