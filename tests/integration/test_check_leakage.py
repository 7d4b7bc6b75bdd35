"""`quantbot check-leakage` as a user runs it: every shipped sleeve passes (exit 0), the
deliberately leaking test sleeve fails (exit 1) with its first leaking bar named, and bad input
is exit 2 with the reason. This is how `make test` keeps look-ahead out of the shipped sleeves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from quantbot.clock import iso_utc
from quantbot.marketdata.loaders import load_symbols
from quantbot.research.leakage import synthetic_daily
from tests.integration.daemon import REPO_ROOT, command, quantbot_env

LEAKY = REPO_ROOT / "tests" / "fixtures" / "leaky.toml"
DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
EMA_SAR = """\
[signals.ema_sar]
[regime_components.conservative]
ema_sar = 1.0
[regime_components.balanced]
ema_sar = 1.0
[regime_components.aggressive]
ema_sar = 1.0
"""


def check(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The config's own parameters: not the helpers' fast sleeve settings.
    env = {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__SIGNALS__")}
    return subprocess.run(
        command("check-leakage", *args),
        cwd=workdir,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def _ema_sar(tmp_path: Path) -> Path:
    path = tmp_path / "ema_sar.toml"
    path.write_text(EMA_SAR, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "config",
    [
        REPO_ROOT / "config.toml",  # trend and mean_reversion
        REPO_ROOT / "examples" / "sleeves" / "donchian.toml",  # the example user sleeve
        None,  # ema_sar, the other built-in kind
    ],
    ids=["shipped-config", "donchian-example", "ema_sar"],
)
def test_every_shipped_sleeve_is_clean(tmp_path: Path, config: Path | None) -> None:
    config = config or _ema_sar(tmp_path)
    done = check(tmp_path, "--config", str(config), "--cuts", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prefix invariance: ok" in done.stdout
    assert done.stdout.rstrip().endswith("check-leakage: clean")
    assert "FAIL" not in done.stdout


def _first_leak(data: Path, symbol: str, window: int = 20) -> str:
    """Where the leaky sleeve's cached "last 20 closes" (the series' last 20, once a full
    replay has filled the cache) first flips a decision the honest last 20 would make."""
    bars = list(load_symbols([data])[symbol])
    closes = [b.close for b in bars]
    future = sum(closes[-window:]) / window
    for i in range(window - 1, len(closes)):
        honest = sum(closes[i - window + 1 : i + 1]) / window
        if (closes[i] > honest) != (closes[i] > future):
            return iso_utc(bars[i].ts_ns)
    raise AssertionError("no leaking bar in this data")


def test_the_leaking_sleeve_fails_with_its_first_leaking_bar_named(tmp_path: Path) -> None:
    done = check(tmp_path, "--config", str(LEAKY), "--cuts", "3")
    assert done.returncode == 1, done.stdout + done.stderr
    (tmp_path / "expected").mkdir()
    bar = _first_leak(synthetic_daily(tmp_path / "expected" / "SYNTH.csv"), "SYNTH")
    assert f"prefix invariance: LEAK at SYNTH bar {bar}: sleeves.leaky.target" in done.stdout
    assert done.stdout.rstrip().endswith("check-leakage: LEAK")


def test_the_leak_is_found_in_the_users_daily_data(tmp_path: Path) -> None:
    ibm = tmp_path / "IBM.csv"  # two years of the shared daily bars: enough, and fast
    lines = (DAILY / "IBM.csv").read_text(encoding="utf-8").splitlines()[:505]
    ibm.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = check(tmp_path, "--config", str(LEAKY), "--data", str(ibm), "--cuts", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"LEAK at IBM bar {_first_leak(ibm, 'IBM')}: sleeves.leaky.target" in done.stdout


def test_a_missing_data_file_is_bad_input(tmp_path: Path) -> None:
    done = check(tmp_path, "--config", str(REPO_ROOT / "config.toml"), "--data", "nope.csv")
    assert done.returncode == 2
    assert "no such file or directory: nope.csv" in done.stderr


def test_too_short_a_series_is_bad_input_naming_what_is_needed(tmp_path: Path) -> None:
    short = tmp_path / "X.csv"
    short.write_text(
        "\n".join((DAILY / "IBM.csv").read_text(encoding="utf-8").splitlines()[:101]) + "\n",
        encoding="utf-8",
    )
    done = check(tmp_path, "--config", str(REPO_ROOT / "config.toml"), "--data", str(short))
    assert done.returncode == 2
    assert "warm-up sensitivity needs at least 312 days of bars" in done.stderr
