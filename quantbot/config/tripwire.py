"""Config section ``[tripwire]``: the regression tripwire (``quantbot.governance.tripwire``).
Part of the one tree in ``quantbot.config.schema``.

Each ``[[tripwire.policies]]`` watches one metric of one domain (a sleeve's name, or ``"*"``
for every sleeve, each judged on its own): the mean of its last ``window_events`` KPI events
(current) against the mean of the ``baseline_events`` before them (baseline). When current has
fallen more than ``max_drop_fraction`` of |baseline| below it (for ``reject_rate`` and
``implementation_shortfall_bps``, where lower is better: risen above it), the action fires.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

ACTIONS = ("THROTTLE", "KILL_SWITCH")
# The metrics the daemon reports; a sleeve's own metrics are "sleeve.<name>" (signals/base.py).
METRICS = (
    "fill_rate",
    "reject_rate",
    "expectancy_usd",
    "implementation_shortfall_bps",
    "hit_rate",
)
LOWER_IS_BETTER = frozenset({"reject_rate", "implementation_shortfall_bps"})
SLEEVE_METRIC = "sleeve."
ANY = "*"


@attrs.frozen
class TripwirePolicy:
    name: str = setting("")
    enabled: bool = setting(False)
    domain: str = setting(ANY)  # a sleeve's name, or "*": every sleeve on its own
    metric: str = setting("expectancy_usd")
    window_events: int = setting(20, ge=1)
    baseline_events: int = setting(50, ge=1)
    max_drop_fraction: float = setting(0.5, gt=0)
    action: str = setting("THROTTLE", choices=ACTIONS)


# The shipped examples (config.toml), every one disabled: set its enabled to use it.
SHIPPED = [
    TripwirePolicy("expectancy_drop", False, ANY, "expectancy_usd", 20, 50, 0.5, "THROTTLE"),
    TripwirePolicy("hit_rate_drop", False, ANY, "hit_rate", 20, 50, 0.3, "THROTTLE"),
    TripwirePolicy("fill_rate_drop", False, ANY, "fill_rate", 50, 200, 0.2, "THROTTLE"),
    TripwirePolicy(
        "shortfall_rise", False, ANY, "implementation_shortfall_bps", 50, 200, 1.0, "KILL_SWITCH"
    ),
]


@attrs.frozen
class TripwireConfig:
    enabled: bool = setting(False)
    policies: list[TripwirePolicy] = setting(SHIPPED)
    # state/kpi_events.jsonl is rotated to kpi_events.jsonl.1 (one kept) past this size.
    max_events_bytes: int = setting(8_000_000, ge=10_000)

    def active(self) -> list[TripwirePolicy]:
        return [p for p in self.policies if p.enabled] if self.enabled else []


def tripwire_problems(
    config: TripwireConfig, sleeves: Iterable[str]
) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """Cross-key rules of [tripwire] (second pass of ``quantbot.config.schema``)."""
    known = set(sleeves) | {"external"}
    seen: set[str] = set()
    for n, policy in enumerate(config.policies):
        where = ("tripwire", "policies", str(n))
        if not policy.name or not policy.name.replace("_", "").replace("-", "").isalnum():
            yield (*where, "name"), policy.name, "must be a name (letters, digits, _ or -)"
        elif policy.name in seen:
            yield (*where, "name"), policy.name, "two policies have this name"
        seen.add(policy.name)
        if policy.metric not in METRICS and not (
            policy.metric.startswith(SLEEVE_METRIC) and len(policy.metric) > len(SLEEVE_METRIC)
        ):
            yield (
                (*where, "metric"),
                policy.metric,
                f"must be one of {', '.join(METRICS)} or sleeve.<name> (a sleeve's own metric)",
            )
        if policy.domain != ANY and policy.domain not in known:
            yield (*where, "domain"), policy.domain, f"no such sleeve (use * or {sorted(known)})"
