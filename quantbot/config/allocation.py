"""Config section ``[allocation]``: sleeve weights moved by the sleeves' own post-cost outcomes
(``quantbot.governance.allocation``). Part of the one tree in ``quantbot.config.schema``.

Weights are shares of the netting: the active profile's ``[regime_components]`` weights
divided by the sum of their absolute values (netting divides by that sum anyway, so the
shares net exactly as the configured weights do). Floors, ceilings and the daily change are
in those shares. A sleeve whose base share lies outside [min_weight, max_weight] has its bound
widened to its base share: the allocation never forces a sleeve off the weight it was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting


@attrs.frozen
class AllocationConfig:
    enabled: bool = setting(False)  # off unless asked for (config.toml says why)
    # The outcomes judged: a sleeve's last window_trades round trips (after costs); a sleeve
    # with fewer than min_trades of them keeps its base weight.
    window_trades: int = setting(30, ge=1)
    min_trades: int = setting(10, ge=1)
    # Floors and ceilings of a sleeve's share, and per sleeve overrides ({ trend = 0.2 }).
    min_weight: float = setting(0.1, ge=0, le=1)
    max_weight: float = setting(0.9, ge=0, le=1)
    min_weight_by_sleeve: dict[str, float] = setting({})
    max_weight_by_sleeve: dict[str, float] = setting({})
    # The most a share moves in one update (one per trading day).
    max_daily_change: float = setting(0.05, gt=0, le=1)
    # How strongly the score tilts a sleeve's target away from its base share.
    sensitivity: float = setting(1.0, ge=0)
    # Versions kept in state/allocation.json (the newest last).
    keep_versions: int = setting(30, ge=1)


def allocation_problems(
    config: AllocationConfig, sleeves: Iterable[str]
) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """Cross-key rules of [allocation] (second pass of ``quantbot.config.schema``)."""
    known = set(sleeves) | {"external"}
    for key, table in (
        ("min_weight_by_sleeve", config.min_weight_by_sleeve),
        ("max_weight_by_sleeve", config.max_weight_by_sleeve),
    ):
        for sleeve, value in table.items():
            where = ("allocation", key, sleeve)
            if sleeve not in known:
                yield where, value, f"no sleeve named {sleeve!r} (sleeves: {sorted(known)})"
            elif (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not (0 <= value <= 1)
            ):
                yield where, value, "must be a number in [0, 1]"
    if config.min_trades > config.window_trades:
        yield (
            ("allocation", "min_trades"),
            config.min_trades,
            f"must be at most window_trades ({config.window_trades})",
        )
    for sleeve in sorted(known):
        low = config.min_weight_by_sleeve.get(sleeve, config.min_weight)
        high = config.max_weight_by_sleeve.get(sleeve, config.max_weight)
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            key = "min_weight_by_sleeve" if sleeve in config.min_weight_by_sleeve else "min_weight"
            where = ("allocation", key, sleeve) if key.endswith("sleeve") else ("allocation", key)
            yield where, low, f"above the max weight ({high}) of sleeve {sleeve!r}"
            return
