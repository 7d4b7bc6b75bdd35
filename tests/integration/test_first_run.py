"""A first run on the shipped config trades visibly and sensibly (issue 19, item 2).

`quantbot run --execution-mode paper` on the repository's config.toml, the seeded synthetic
market and the embedded paper venue, at ten times the shipped pace (one bar every 0.1 s, with
every per-second setting scaled the same way: ``first_minute.paced_env``), so the first
minute of a `make run` (60 bars) takes six seconds here. What a bar stands for, the sizes and
every limit are the shipped ones. The numbers checked are the ones the README states in "What
the first minute looks like".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon import REPO_ROOT, read_jsonl, wait_until
from tests.integration.first_minute import measure, paced_env

pytestmark = pytest.mark.e2e

SPEED = 10.0
MINUTE = 60  # bars: the first minute at the shipped pace of one bar a second
SYMBOLS = 3


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUANTBOT__")}
    base["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + base.get("PYTHONPATH", "")
    return base | paced_env(SPEED)


def decisions(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "runtime" / "decisions.jsonl"
    return [r for r in read_jsonl(path) if "decision_id" in r] if path.exists() else []


@pytest.fixture(scope="module")
def first_minute(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A paper run on the shipped config, stopped by SIGINT once a minute of bars (and a few
    more, so that the minute's last orders have filled) is decided; its directory and what it
    printed."""
    workdir = tmp_path_factory.mktemp("first-run")
    (workdir / "config.toml").write_bytes((REPO_ROOT / "config.toml").read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantbot", "run", "--execution-mode", "paper"],
        cwd=workdir,
        env=env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: len(decisions(workdir)) >= (MINUTE + 5) * SYMBOLS,
            timeout=60,
            what="a minute of bars decided",
            proc=proc,
        )
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    return workdir, out


def test_the_log_says_the_sleeves_are_warming_up_and_when_they_are_warm(
    first_minute: tuple[Path, str],
) -> None:
    _, out = first_minute
    lines = out.splitlines()
    warming = [i for i, line in enumerate(lines) if "sleeves warming up:" in line]
    warm = [i for i, line in enumerate(lines) if "sleeves warm:" in line]
    assert len(warming) == 1 and len(warm) == 1, out
    assert "sleeves warming up: trend 30 bars, mean_reversion 20 bars" in lines[warming[0]]
    assert warming[0] < warm[0]


def test_the_first_minute_places_orders_of_a_few_thousand_dollars(
    first_minute: tuple[Path, str],
) -> None:
    workdir, _ = first_minute
    m = measure(workdir / "state", workdir / "runtime", first=MINUTE)
    assert m["batches"] == MINUTE
    # Orders go as soon as a sleeve is warm (mean_reversion: 20 bars), not after minutes.
    assert m["orders"] >= 2, m
    assert m["first_order_bar"] is not None and m["first_order_bar"] <= 30, m
    # The README's band: a median order of $1,500-$5,000 (it was about $100).
    assert 1_500 <= m["median_order_usd"] <= 5_000, m
    # Up to the $5,000 a position may hold, so never more than 5% of the account at entry.
    assert m["max_order_usd"] <= 5_000, m


def test_volatility_targeting_sees_the_markets_volatility_not_its_floor(
    first_minute: tuple[Path, str],
) -> None:
    workdir, _ = first_minute
    m = measure(workdir / "state", workdir / "runtime", first=MINUTE)
    # Bars of 0.2% annualised by their one-second spacing read 1,180% and pinned the scale at
    # its 0.25 floor; one-minute bars of a 20% market read about 20% a year.
    assert m["realised_vol"] is not None and 0.1 <= m["realised_vol"]["median"] <= 0.4, m
    assert m["vol_scale"] is not None and m["vol_scale"]["median"] > 0.5, m
    assert m["regimes"] and "high" not in m["regimes"], m


def test_exposure_is_a_stated_share_of_the_account_within_every_limit(
    first_minute: tuple[Path, str],
) -> None:
    workdir, _ = first_minute
    m = measure(workdir / "state", workdir / "runtime", first=MINUTE)
    # The README's band for the first minute (a third of it is warm-up, flat).
    assert 0.0005 <= m["mean_gross_share"] <= 0.05, m
    # [policy.conservative]: 30% gross, 10% per symbol; [profiles]/[governor]: $5,000 a position
    assert m["max_gross_share"] <= 0.15, m
    assert m["max_symbol_share"] <= 0.055, m
    records = decisions(workdir)
    for r in records:
        code = (r.get("reason") or {}).get("code", "")
        assert not code.startswith(("HALT_", "DAILY_")), r
        if r.get("intent") and not r["intent"]["reducing"]:
            # Every order that added exposure went through every gate, and says so.
            assert r["policy"]["verdict"] in ("allow", "clamp"), r
            assert r["governor"]["approved"], r
            assert r["governor"]["after"]["notional"] <= 5_000.0 + 1e-6, r
            assert r["daily_risk"]["verdict"] == "reserved", r
            assert r["order"]["outcome"] in ("ACCEPTED", "NOT_SENT"), r
