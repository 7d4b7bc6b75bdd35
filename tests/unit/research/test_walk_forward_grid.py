"""The walk-forward's grid file: lists and inclusive ranges of sleeve params, their product in
file order, a seeded sample, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError
from quantbot.research.walk_forward.grid import load, parse, sample
from quantbot.research.walk_forward.runner import with_point

CONFIG = Path(__file__).resolve().parents[3] / "config.toml"


def test_lists_and_ranges_make_their_product_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(
        "[trend]\nfast = [5, 10]\nslow = {start = 20, stop = 40, step = 10}\n"
        "[mean_reversion]\nentry_z = {start = 0.5, stop = 1.0, step = 0.25}\n"
    )
    points = load(path)
    assert len(points) == 2 * 3 * 3
    assert points[0] == (("trend", "fast", 5), ("trend", "slow", 20),
                         ("mean_reversion", "entry_z", 0.5))  # fmt: skip
    assert points[1][2] == ("mean_reversion", "entry_z", 0.75)
    assert points[3][1] == ("trend", "slow", 30)  # the first key varies slowest
    assert points[-1] == (("trend", "fast", 10), ("trend", "slow", 40),
                          ("mean_reversion", "entry_z", 1.0))  # fmt: skip


def test_a_seeded_sample_is_repeatable_and_keeps_grid_order() -> None:
    points = parse({"trend": {"fast": list(range(1, 11)), "slow": [30, 40]}}, "g")
    picked = sample(points, 5, seed=7)
    assert picked == sample(points, 5, seed=7)
    assert len(picked) == 5 and len(set(picked)) == 5
    assert picked == [p for p in points if p in picked]  # grid order
    assert picked != sample(points, 5, seed=8)
    assert sample(points, 50, seed=7) == points and sample(points, None, 0) == points
    with pytest.raises(ConfigError, match="--sample 0"):
        sample(points, 0, seed=7)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[trend]\nslow = {start = 20, stop = 40}\n", "g.toml: trend.slow: .*missing step"),
        ("[trend]\nslow = {start = 40, stop = 20, step = 5}\n", "trend.slow: need step > 0"),
        ("[trend]\nslow = []\n", "trend.slow: an empty list"),
        ("[trend]\nslow = 20\n", "trend.slow: 20 is neither a list nor"),
        ("trend = 3\n", r"\[trend\] must be a table"),
        ("", "the grid is empty"),
        ("[trend\n", "not TOML"),
    ],
)
def test_grid_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(path)


def test_a_point_the_sleeves_refuse_names_the_point_and_the_key() -> None:
    loaded = load_config(CONFIG)
    changed = with_point(loaded, (("trend", "fast", 5),), None)
    assert changed.config.signals["trend"].params["fast"] == 5
    assert changed.hash != loaded.hash
    with pytest.raises(
        ConfigError, match=r"trend\.fast=-3: signals\.trend\.fast = -3: must be >= 1"
    ):
        with_point(loaded, (("trend", "fast", -3),), None)
    with pytest.raises(ConfigError, match=r"--grid \[trendy\]: not a declared sleeve"):
        with_point(loaded, (("trendy", "fast", 5),), None)
    costed = with_point(loaded, (("trend", "fast", 5),), 7.5)
    sim = costed.config.venue.sim
    assert (sim.slippage_model, sim.slippage_bps, sim.fee_bps) == ("fixed", 7.5, 0.0)
