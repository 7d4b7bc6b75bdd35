"""Leakage guards (``research.leakage``) on the real replay engine: the shipped sleeves are
prefix-invariant, a sleeve that reads later bars is caught at the first bar it decides on them,
and a sleeve that depends on where the replay started fails warm-up sensitivity while an EMA's
geometric forgetting passes once settled."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import orjson
import pytest

from quantbot.clock import iso_utc
from quantbot.config.schema import LoadedConfig, load_config
from quantbot.domain.errors import DataError
from quantbot.marketdata.loaders import load_symbols
from quantbot.research import leakage
from quantbot.research.replay import ReplayRequest

REPO_ROOT = Path(__file__).resolve().parents[3]
LEAKY = REPO_ROOT / "tests" / "fixtures" / "leaky.toml"

STARTS_MATTER = '''\
from quantbot.signals.base import SleeveSignal, checked_close


class Parity:
    """+1 on the odd bars since the replay started, -1 on the even ones."""

    def __init__(self, name):
        self.name = name
        self.warmup_bars = 0
        self._n = {}

    def update(self, bar):
        checked_close(self.name, bar)
        n = self._n[bar.symbol] = self._n.get(bar.symbol, 0) + 1
        return SleeveSignal(1.0 if n % 2 else -1.0, 1.0, True, {})

    def reset(self, symbol):
        self._n.pop(symbol, None)
'''


def _config(path: Path) -> LoadedConfig:
    return load_config(path, environ={})


def _run(coro):
    return asyncio.run(coro)


def _request(tmp_path: Path, days: int) -> ReplayRequest:
    data = leakage.synthetic_daily(tmp_path / "SYNTH.csv", days=days)
    return ReplayRequest(data=(data,), out_root=tmp_path / "replays")


def _quiet(_: str) -> None:
    pass


def test_shipped_sleeves_are_prefix_invariant(tmp_path: Path) -> None:
    report = _run(
        leakage.prefix_invariance(
            _config(REPO_ROOT / "config.toml"), _request(tmp_path, 200), 3, _quiet
        )
    )
    assert report.leak is None
    assert len(report.cuts) == 3
    assert report.compared > 200  # every bar up to each cut, three times over


def _leaky_config() -> LoadedConfig:
    loaded = _config(LEAKY)
    # A fresh process starts with an empty cache; this one may have run the sleeve already.
    loaded.config.signals["leaky"].code().cls._closes.clear()
    return loaded


def _expected_leak(data: Path, window: int = 20) -> str:
    """The first bar where "close above the mean of the last 20 closes up to it" and "close
    above the mean of the series' last 20 closes" (what the cache shows a later run) differ."""
    closes = [bar.close for bar in load_symbols([data])["SYNTH"]]
    future = sum(closes[-window:]) / window
    for i in range(window - 1, len(closes)):
        honest = sum(closes[i - window + 1 : i + 1]) / window
        if (closes[i] > honest) != (closes[i] > future):
            return load_symbols([data])["SYNTH"][i].ts_ns
    raise AssertionError("the synthetic series never shows the leak")


def test_a_sleeve_that_sees_later_bars_is_named_at_its_first_leaking_bar(tmp_path: Path) -> None:
    request = _request(tmp_path, 200)
    report = _run(leakage.prefix_invariance(_leaky_config(), request, 3, _quiet))
    leak = report.leak
    assert leak is not None
    assert leak.symbol == "SYNTH"
    assert leak.bar_ts == iso_utc(_expected_leak(request.data[0]))
    assert leak.field == "sleeves.leaky.target"
    assert {leak.full, leak.truncated} == {1.0, -1.0}
    assert leak.cut == report.cuts[0]
    assert f"LEAK at SYNTH bar {leak.bar_ts}: sleeves.leaky.target" in leak.describe()


def test_warmup_sensitivity_fails_a_sleeve_that_depends_on_the_start(tmp_path: Path) -> None:
    (tmp_path / "parity.py").write_text(STARTS_MATTER, encoding="utf-8")
    config = tmp_path / "parity.toml"
    config.write_text(
        '[signals.parity]\nkind = "parity.py:Parity"\n'
        + "".join(
            f"[regime_components.{p}]\nparity = 1.0\n"
            for p in ("conservative", "balanced", "aggressive")
        ),
        encoding="utf-8",
    )
    report = _run(
        leakage.warmup_sensitivity(
            _config(config), _request(tmp_path, 60), _quiet, settle=10, tolerance=1e-5
        )
    )
    # Started a bar later, every target is the other sign: a difference of 2.
    assert report.divergence == {"parity": 2.0}
    assert report.failed == ["parity"]
    assert report.start == date(2020, 1, 2)


def test_warmup_sensitivity_states_an_emas_divergence_and_accepts_it_once_settled(
    tmp_path: Path,
) -> None:
    loaded = _config(REPO_ROOT / "config.toml")
    request = _request(tmp_path, 340)
    early = _run(leakage.warmup_sensitivity(loaded, request, _quiet, settle=5, tolerance=1e-5))
    assert early.divergence["trend"] > 1e-3  # the EMA still remembers where it started
    assert early.failed == ["trend"]
    settled = _run(leakage.warmup_sensitivity(loaded, request, _quiet, settle=250, tolerance=1e-5))
    assert settled.divergence["trend"] <= 1e-5
    assert settled.divergence["mean_reversion"] == 0.0  # a window forgets exactly
    assert settled.failed == []


def test_too_little_data_for_the_warmup_check_is_an_error_naming_the_need(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"needs at least 312 days .* the data has 100"):
        _run(
            leakage.warmup_sensitivity(
                _config(REPO_ROOT / "config.toml"),
                _request(tmp_path, 100),
                _quiet,
                settle=250,
                tolerance=1e-5,
            )
        )


def test_records_are_compared_without_run_id_and_config_hash(tmp_path: Path) -> None:
    base = {"decision_id": "X@1", "bar_ts": "2020-01-01", "symbol": "X", "sleeves": {"s": 1}}
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    one.write_bytes(orjson.dumps({**base, "run_id": "rp-a", "config_hash": "a"}) + b"\n")
    two.write_bytes(orjson.dumps({**base, "run_id": "rp-b", "config_hash": "b"}) + b"\n")
    assert leakage.decisions(one) == leakage.decisions(two)
    other = {**base, "sleeves": {"s": 1}, "net": {"target": 0.5}, "reason": {"code": "A"}}
    changed = {**other, "net": {"target": 0.4}, "reason": {"code": "B"}}
    # The stage earliest in the pipeline is named first, whatever the key order.
    assert leakage.first_difference(other, changed) == ("net.target", 0.5, 0.4)


def test_cuts_are_spread_after_the_warmup() -> None:
    days = [date(2020, 1, 1).fromordinal(date(2020, 1, 1).toordinal() + i) for i in range(100)]
    cuts = leakage.cut_days(days, warmup=20, cuts=4)
    assert len(cuts) == 4
    assert cuts[0] > days[20]
    assert cuts[-1] == days[-2]
    assert cuts == sorted(cuts)
