"""The snapshot registry and stream (records/snapshots.py) and the config a snapshot names
(records/snapshot_config.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import attrs
import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.drawdown import DrawdownParams
from quantbot.config.schema import load_config
from quantbot.daemon.snapshot_parts import open_snapshots
from quantbot.domain.errors import ConfigError
from quantbot.records import snapshot_config
from quantbot.records.snapshots import Snapshots, find, snapshot_hash
from quantbot.risk.drawdown import DrawdownBreaker
from tests.conftest import REPO_ROOT


class Book:
    """A contributor as item 5 or 6 would add one: a value and a counter bumped on change."""

    def __init__(self) -> None:
        self.weights = {"trend": 0.7}
        self.version = 0
        self.reads = 0

    def snapshot(self) -> dict:
        self.reads += 1
        return {"weights": dict(self.weights)}

    def set(self, name: str, weight: float) -> None:
        self.weights[name] = weight
        self.version += 1


def lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_a_line_at_start_and_one_per_change_read_only_when_a_version_moved(
    tmp_path: Path,
) -> None:
    clock = SimClock(0)
    path = tmp_path / "runtime" / "snapshots.jsonl"
    snaps = Snapshots(path, clock)
    book = Book()
    snaps.add("profile", lambda: {"name": "conservative"})
    snaps.add("allocation", book.snapshot, lambda: book.version)
    first = snaps.current()
    for _ in range(1000):  # bars where nothing changed: no read, no hash, no line
        assert snaps.current() == first
    assert book.reads == 1
    clock.set(5_000_000_000)
    book.set("trend", 0.5)
    second = snaps.current()
    assert second != first and book.reads == 2
    book.set("trend", 0.5)  # bumped, same value: read again, same hash, no line
    assert snaps.current() == second and book.reads == 3
    snaps.close()
    written = lines(path)
    assert [x["snapshot"] for x in written] == [first, second]
    assert written[1] == {
        "snapshot": second,
        "ts": "1970-01-01T00:00:05.000000Z",
        "content": {"profile": {"name": "conservative"}, "allocation": {"weights": {"trend": 0.5}}},
    }
    assert second == snapshot_hash(written[1]["content"]) and len(second) == 16
    assert find(path, first)["allocation"] == {"weights": {"trend": 0.7}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_hash_is_of_the_canonical_content_whatever_its_key_order() -> None:
    assert snapshot_hash({"a": 1, "b": {"c": 2, "d": 3}}) == snapshot_hash(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    assert snapshot_hash({"a": 1}) != snapshot_hash({"a": 2})


def test_a_contributor_is_added_once() -> None:
    snaps = Snapshots(None, SimClock(0))
    snaps.add("x", dict)
    with pytest.raises(ValueError, match="added twice"):
        snaps.add("x", dict)


def _content(config) -> dict:
    weights = attrs.asdict(config.components)
    return {
        "profile": snapshot_config.profile(config),
        "sleeves": snapshot_config.sleeves(config, weights),
        "config": snapshot_config.settings(config),
    }


def test_the_config_rebuilt_from_a_snapshot_names_the_same_snapshot(tmp_path: Path) -> None:
    environ = {
        "QUANTBOT__SIGNALS__TREND__FAST": "4",
        "QUANTBOT__COST_GATE__BALANCED__ENTRY_COST_BUFFER_BPS": "7.5",
        "QUANTBOT__QUARANTINE__DURATION_BARS": "12",
    }
    loaded = load_config(REPO_ROOT / "config.toml", environ=environ, trading_profile="balanced")
    content = _content(loaded.config)
    settings = content["config"]
    assert content["profile"]["name"] == "balanced"
    assert content["sleeves"]["trend"]["params"]["fast"] == 4
    assert set(settings["cost_gate"]) == {
        "enabled",
        "edge_scale_bps",
        "edge_scale_bps_by_symbol",
        "balanced",
    }
    assert settings["cost_gate"]["balanced"]["entry_cost_buffer_bps"] == 7.5
    assert "records" not in settings and "state_dir" not in settings["run"]
    rebuilt = snapshot_config.config_from_snapshot(orjson.loads(orjson.dumps(content)))
    assert _content(rebuilt.config) == content
    config = rebuilt.config
    assert config.run.trading_profile == "balanced"
    assert config.risk_params.cost_gate.entry_cost_buffer_bps == 7.5
    assert config.quarantine.duration_bars == 12
    assert config.signals["trend"].params["fast"] == 4


def test_a_sleeve_whose_code_changed_cannot_be_rebuilt() -> None:
    content = _content(load_config(REPO_ROOT / "config.toml", environ={}).config)
    content["sleeves"]["trend"]["sha256"] = "0" * 64
    with pytest.raises(ConfigError, match="sleeve 'trend' was code sha256 0000"):
        snapshot_config.config_from_snapshot(content)


def test_a_drawdown_trip_and_its_resume_each_name_a_snapshot(tmp_path: Path) -> None:
    config = load_config(REPO_ROOT / "config.toml", environ={}).config
    clock = SimClock(1_700_000_000 * 1_000_000_000)
    breaker = DrawdownBreaker(
        DrawdownParams(max_portfolio_drawdown_pct=5.0, max_sleeve_drawdown_pct=2.0),
        reset="manual", roll_minute=0, clock=clock,
    )  # fmt: skip
    snaps = open_snapshots(
        config, runtime_dir=tmp_path, clock=clock, quarantine=None, drawdown=breaker,
        halt=lambda why: None,
    )  # fmt: skip
    calm = snaps.current()
    breaker.on_equity(100_000.0)
    breaker.on_equity(99_000.0)  # a new low, no trip: the same snapshot
    assert snaps.current() == calm
    breaker.on_equity(94_000.0)
    tripped = snaps.current()
    assert tripped != calm
    assert snaps.content["drawdown"]["trips"]["GLOBAL"]["code"] == "DRAWDOWN_BREAKER_PORTFOLIO"
    breaker.apply_resumes("2026-01-01T00:00:00Z", {})
    assert snaps.current() == calm
    snaps.close()
    stream = lines(tmp_path / "snapshots.jsonl")
    assert [x["snapshot"] for x in stream] == [calm, tripped, calm]
    assert stream[0]["content"]["sleeves"]["trend"]["weight"] == 0.7
