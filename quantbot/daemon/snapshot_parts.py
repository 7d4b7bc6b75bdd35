"""The run's snapshot contributors (``records.snapshots``), wired once at start.

Adding governance state to every record's snapshot is one line here: a name, a callable
returning a JSON-able dict, and a callable returning its version counter (bumped by its
owner on each change), e.g. ``snaps.add("allocation", book.snapshot, lambda: book.version)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.domain.reasons import Reason
from quantbot.governance.allocation import Allocation
from quantbot.governance.charter import Charter
from quantbot.governance.overrides import Learned
from quantbot.governance.quarantine import Quarantine
from quantbot.records import snapshot_config
from quantbot.records.snapshots import FILE, Snapshots
from quantbot.risk.drawdown import DrawdownBreaker


def open_snapshots(
    config: Config,
    *,
    runtime_dir: Path,
    clock: Clock,
    quarantine: Quarantine | None,
    drawdown: DrawdownBreaker | None,
    halt: Callable[[Reason], None],
    learned: Learned | None = None,
    allocation: Allocation | None = None,
    charter: Charter | None = None,
) -> Snapshots:
    snaps = Snapshots(runtime_dir / FILE, clock)
    snaps.on_write_failure = halt
    # What does not change during a run is computed once: a new line re-reads only the rest.
    profile = snapshot_config.profile(config)
    weights = attrs.asdict(config.components)
    sleeves = snapshot_config.sleeves(config, weights)
    settings = snapshot_config.settings(config)
    snaps.add("profile", lambda: profile)
    snaps.add("sleeves", lambda: sleeves)
    snaps.add("config", lambda: settings)
    if quarantine is not None:
        q = quarantine
        snaps.add(
            "quarantine",
            lambda: {
                "mode": q.config.mode,
                "active": [q.active[s].to_record() for s in sorted(q.active)],
            },
            lambda: q.version,
        )
    if drawdown is not None:
        dd = drawdown
        snaps.add(
            "drawdown",
            lambda: {"trips": {s: why.to_record() for s, why in sorted(dd.trips.items())}},
            lambda: dd.version,
        )
    if learned is not None:  # post-trade learning's overrides in force (governance/overrides)
        lo = learned
        snaps.add(
            "overrides",
            lambda: {
                "version": lo.version,
                "cost_buffer_add_bps": dict(sorted(lo.buffer_bps.items())),
                "deadband_mult": dict(sorted(lo.deadband_mult.items())),
                "turnover_mult": dict(sorted(lo.turnover_mult.items())),
            },
            lambda: lo.version or 0,
        )
    if allocation is not None:  # the sleeves' weights in force (governance/allocation)
        book = allocation
        snaps.add(
            "allocation",
            book.snapshot,
            lambda: book.versions[-1]["version"] if book.versions else 0,
        )
    if charter is not None:  # the charter domains a person promoted (governance/charter)
        snaps.add("charter", charter.snapshot, lambda: charter.version)
    snaps.current()  # the line at start
    return snaps
