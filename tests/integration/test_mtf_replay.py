"""Multi-timeframe replay (``signals.timeframe``): a sleeve declared on 1-hour bars over
5-minute data is handed each 1-hour bar only once it has closed (the exact bars, at the exact
base bars), a replay with a 1-day and a 5-minute sleeve is byte-identical on a second run, and
a timeframe the data cannot make is refused before anything runs."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S, iso_utc
from quantbot.config.schema import load_config
from quantbot.domain.errors import DataError
from quantbot.marketdata.loaders import load_symbols
from quantbot.research.replay import ReplayRequest, run_replay
from tests.integration.daemon import REPO_ROOT, command, quantbot_env, read_jsonl

FIXTURES = REPO_ROOT / "tests" / "fixtures"
HOUR_NS = 3_600 * NS_PER_S
FIVE_MIN_NS = 300 * NS_PER_S
WEIGHTS = "".join(
    f"[regime_components.{p}]\n{{weights}}\n" for p in ("conservative", "balanced", "aggressive")
)


def five_minute_bars(path: Path, bars: int, *, skip: tuple[str, ...] = ()) -> Path:
    """A seeded random walk of 5-minute bars from 2024-01-01 00:00 UTC (times in ``skip``,
    ``HH:MM`` of the first day, left out: a gap)."""
    rng = random.Random(22)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    close = 100.0
    lines = ["datetime,open,high,low,close,volume"]
    for i in range(bars):
        t = start + timedelta(minutes=5 * i)
        open_ = close
        close = open_ * math.exp(rng.gauss(0.0, 0.002))
        high = max(open_, close) * (1 + abs(rng.gauss(0.0, 0.0005)))
        low = min(open_, close) * (1 - abs(rng.gauss(0.0, 0.0005)))
        if t.day == 1 and f"{t:%H:%M}" in skip:
            continue
        volume = 100_000 + rng.randrange(50_000)
        lines.append(f"{t:%Y-%m-%dT%H:%M:%S},{open_:.4f},{high:.4f},{low:.4f},{close:.4f},{volume}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def replay_cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``quantbot replay`` as a user runs it, on the config's own sleeve parameters (not the
    helpers' fast sleeve settings)."""
    env = {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__SIGNALS__")}
    return subprocess.run(command("replay", *args), cwd=workdir, env=env, text=True,
                          capture_output=True, timeout=300, check=False)  # fmt: skip


def _config(tmp_path: Path, sleeves: str, weights: str) -> Path:
    path = tmp_path / "mtf.toml"
    path.write_text(
        sleeves + WEIGHTS.format(weights=weights) + "[quarantine]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


def test_a_1h_sleeve_over_5m_bars_is_handed_each_hour_only_once_it_has_closed(
    tmp_path: Path,
) -> None:
    # 30 hours of 5-minute bars; 10:50 and 10:55 of the first day are missing (a gap).
    data = five_minute_bars(tmp_path / "MTF.csv", 360, skip=("10:50", "10:55"))
    config = _config(
        tmp_path,
        f'[signals.hourly]\nkind = "{FIXTURES / "mtf_sleeves.py"}:Recorder"\n'
        'timeframe = "1h"\n[signals.mean_reversion]\n',
        "hourly = 0.5\nmean_reversion = 0.5",
    )
    loaded = load_config(config, environ={})
    recorder = loaded.config.signals["hourly"].code().cls
    recorder.handed.clear()
    request = ReplayRequest(data=(data,), out_root=tmp_path / "replays")
    result = asyncio.run(run_replay(loaded, request))

    base = list(load_symbols([data])["MTF"])
    # What a 1-hour bar is: every 5-minute bar of its hour, in order.
    hours: dict[int, list] = {}
    for bar in base:
        hours.setdefault(bar.ts_ns - bar.ts_ns % HOUR_NS, []).append(bar)
    expected = [
        (start, 3600.0, part[0].open, max(b.high for b in part), min(b.low for b in part),
         part[-1].close, sum(b.volume for b in part))
        for start, part in sorted(hours.items())
        if start + HOUR_NS <= base[-1].ts_ns + FIVE_MIN_NS  # closed within the data
    ]  # fmt: skip
    handed = [(b.ts_ns, b.interval_s, b.open, b.high, b.low, b.close, b.volume)
              for b in recorder.handed]  # fmt: skip
    assert handed == expected  # every closed hour, once, in order; the last (forming) never

    records = [r for r in read_jsonl(result.out_dir / "decisions.jsonl") if "decision_id" in r]
    assert len(records) == len(base)
    seen = {r["bar_ts"]: r["sleeves"]["hourly"]["bar_ts"] for r in records}
    # Each 5-minute bar [t, t + 5m) is decided at its close; the newest hour over by then.
    for bar in base:
        decided = bar.ts_ns + FIVE_MIN_NS
        over = [start for start, *_ in expected if start + HOUR_NS <= decided]
        assert seen[iso_utc(bar.ts_ns)] == (iso_utc(over[-1]) if over else None)
    # Exactly: the 09:00 hour from the 09:55 bar (decided at 10:00), never before it.
    assert seen["2024-01-01T09:50:00.000000Z"] == "2024-01-01T08:00:00.000000Z"
    assert seen["2024-01-01T09:55:00.000000Z"] == "2024-01-01T09:00:00.000000Z"
    # The gap: the 10:00 hour's 10:55 bar is missing; it is handed at the next bar, 11:00.
    assert seen["2024-01-01T10:45:00.000000Z"] == "2024-01-01T09:00:00.000000Z"
    assert seen["2024-01-01T11:00:00.000000Z"] == "2024-01-01T10:00:00.000000Z"
    assert records[0]["sleeves"]["hourly"]["timeframe"] == "1h"
    # A sleeve on the base bars is recorded as before: no timeframe keys.
    assert set(records[0]["sleeves"]["mean_reversion"]) == {"target", "confidence", "ready"}


@pytest.mark.e2e
def test_a_replay_with_a_1d_and_a_5m_sleeve_is_byte_identical_on_a_second_run(
    tmp_path: Path,
) -> None:
    data = five_minute_bars(tmp_path / "MTF.csv", 288 * 12)  # twelve days
    config = _config(
        tmp_path,
        '[signals.trend]\ntimeframe = "1d"\nfast = 2\nslow = 4\n'
        "[signals.mean_reversion]\nwindow = 12\n",
        "trend = 0.6\nmean_reversion = 0.4",
    )
    outs = []
    for out in ("first", "second"):
        done = replay_cli(
            tmp_path, "--config", str(config), "--data", str(data), "--out", str(tmp_path / out)
        )
        assert done.returncode == 0, done.stderr[-3000:]
        [replay_dir] = (tmp_path / out).iterdir()
        outs.append(replay_dir)
    first, second = outs
    for name in ("decisions.jsonl", "state/journal.jsonl", "tca.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    records = [r for r in read_jsonl(first / "decisions.jsonl") if "decision_id" in r]
    days = {r["sleeves"]["trend"]["bar_ts"] for r in records}
    assert "2024-01-05T00:00:00.000000Z" in days  # daily bars, from 5-minute data
    assert any(r["sleeves"]["trend"]["ready"] for r in records)
    assert (first / "state" / "journal.jsonl").read_bytes().count(b'"INTENT"') > 5


def test_a_timeframe_the_data_cannot_make_is_refused_before_the_replay_runs(
    tmp_path: Path,
) -> None:
    daily = REPO_ROOT.parent / "shared" / "data" / "daily" / "IBM.csv"
    config = _config(tmp_path, '[signals.trend]\ntimeframe = "1h"\n', "trend = 1.0")
    loaded = load_config(config, environ={})
    with pytest.raises(DataError, match=r"signals.trend.timeframe = '1h': IBM's bars are 86400 s"):
        asyncio.run(run_replay(loaded, ReplayRequest(data=(daily,), out_root=tmp_path / "r")))
    done = replay_cli(tmp_path, "--config", str(config), "--data", str(daily))
    assert done.returncode == 2
    assert "signals.trend.timeframe = '1h'" in done.stderr


@pytest.mark.e2e
def test_check_leakage_fails_a_sleeve_that_peeks_at_the_unclosed_hour(tmp_path: Path) -> None:
    data = five_minute_bars(tmp_path / "MTF.csv", 288 * 4)
    config = _config(
        tmp_path,
        f'[signals.peek]\nkind = "{FIXTURES / "mtf_sleeves.py"}:PeekNext"\ntimeframe = "1h"\n',
        "peek = 1.0",
    )
    env = {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__SIGNALS__")}
    done = subprocess.run(
        command("check-leakage", "--config", str(config), "--data", str(data), "--cuts", "2",
                "--settle", "1"),
        cwd=tmp_path, env=env, text=True, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert "prefix invariance: LEAK at MTF bar 2024-01-01T" in done.stdout
    assert ":55:00.000000Z: sleeves.peek.target is" in done.stdout  # the bar closing an hour
    assert "in the replay cut at 2024-01-0" in done.stdout
    assert done.stdout.rstrip().endswith("check-leakage: LEAK")
