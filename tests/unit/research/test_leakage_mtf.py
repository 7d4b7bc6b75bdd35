"""Leakage checks on multi-timeframe sleeves (``signals.timeframe``): a sleeve that peeks at the
higher-timeframe bar still forming is caught at the base bar where it first decides on it, and
when a sleeve reads a higher timeframe the cuts fall inside that timeframe's bar (a day's end
never splits a 1-day bar), where honest sleeves stay prefix-invariant."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path

from quantbot.clock import NS_PER_S, iso_utc
from quantbot.config.schema import LoadedConfig, load_config
from quantbot.marketdata.loaders import load_symbols
from quantbot.research import leakage
from quantbot.research.replay import ReplayRequest
from tests.integration.test_mtf_replay import five_minute_bars

REPO_ROOT = Path(__file__).resolve().parents[3]
PEEK = REPO_ROOT / "tests" / "fixtures" / "mtf_sleeves.py"
HOUR_NS = 3_600 * NS_PER_S


def _config(tmp_path: Path, sleeves: str, weights: str) -> LoadedConfig:
    path = tmp_path / "mtf.toml"
    path.write_text(
        sleeves
        + "".join(
            f"[regime_components.{p}]\n{weights}\n"
            for p in ("conservative", "balanced", "aggressive")
        )
        + "[quarantine]\nenabled = false\n",
        encoding="utf-8",
    )
    return load_config(path, environ={})


def _quiet(_: str) -> None:
    pass


def _first_peek(data: Path) -> str:
    """The 5-minute bar that closes the first hour whose "rose?" differs when judged by the
    next hour's close (what the cache shows a later run) instead of its own."""
    hours: dict[int, list] = {}
    for bar in load_symbols([data])["MTF"]:
        hours.setdefault(bar.ts_ns - bar.ts_ns % HOUR_NS, []).append(bar)
    for part, following in itertools.pairwise(part for _, part in sorted(hours.items())):
        if (part[-1].close >= part[0].open) != (following[-1].close >= part[0].open):
            return iso_utc(part[-1].ts_ns)
    raise AssertionError("the series never shows the peek")


def test_a_sleeve_peeking_at_the_unclosed_hour_is_caught_at_its_first_peek(
    tmp_path: Path,
) -> None:
    data = five_minute_bars(tmp_path / "MTF.csv", 288 * 4)
    loaded = _config(
        tmp_path, f'[signals.peek]\nkind = "{PEEK}:PeekNext"\ntimeframe = "1h"\n', "peek = 1.0"
    )
    loaded.config.signals["peek"].code().cls._closes.clear()  # a fresh process's empty cache
    request = ReplayRequest(data=(data,), out_root=tmp_path / "replays")
    report = asyncio.run(leakage.prefix_invariance(loaded, request, 2, _quiet))
    leak = report.leak
    assert leak is not None
    assert (leak.symbol, leak.field) == ("MTF", "sleeves.peek.target")
    assert leak.bar_ts == _first_peek(data)
    assert leak.bar_ts.endswith(":55:00.000000Z")  # the base bar that closes the hour
    assert {leak.full, leak.truncated} == {1.0, -1.0}


def test_cuts_fall_inside_the_longest_timeframe_and_honest_sleeves_pass(tmp_path: Path) -> None:
    data = five_minute_bars(tmp_path / "MTF.csv", 288 * 4)
    request = ReplayRequest(data=(data,), out_root=tmp_path / "replays")
    hourly = _config(
        tmp_path,
        '[signals.trend]\ntimeframe = "1h"\nfast = 2\nslow = 4\n'
        "[signals.mean_reversion]\nwindow = 12\n",
        "trend = 0.5\nmean_reversion = 0.5",
    )
    report = asyncio.run(leakage.prefix_invariance(hourly, request, 2, _quiet))
    assert report.leak is None
    # Inside the first 1-hour bar of the cut day: the cut replay ends with it unfinished.
    assert report.cuts == (datetime(2024, 1, 3, 0, 30, tzinfo=UTC),)
    assert report.compared == 288 * 2 + 6  # every bar opening before 00:30 of the third day
    daily = _config(
        tmp_path, '[signals.trend]\ntimeframe = "1d"\nfast = 2\nslow = 3\n', "trend = 1.0"
    )
    assert leakage.cut_times(daily, [datetime(2024, 1, 2).date()]) == [
        datetime(2024, 1, 2, 12, tzinfo=UTC)  # inside the day's bar, not at its end
    ]
    report = asyncio.run(leakage.prefix_invariance(daily, request, 2, _quiet))
    assert report.leak is None
