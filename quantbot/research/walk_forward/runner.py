"""One grid point over one span: the user's config with the point's sleeve parameters (and the
walk-forward's cost model), replayed over the span's days by ``research.replay.run_replay`` —
the same daemon and gates as a live run — and read back as post-cost metrics and the daily
equity curve. The replay's own files go to a scratch directory and are removed after."""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import attrs

from quantbot.config import loader
from quantbot.config.schema import LoadedConfig, config_hash
from quantbot.domain.errors import ConfigError
from quantbot.research.walk_forward.grid import Point, label, plain
from quantbot.signals.registry import SleeveDecl

# What a walk-forward keeps of a replay's summary.json metrics (all post-cost: the replay's
# equity is after fees and slippage).
METRICS = (
    "sharpe",
    "total_return_pct",
    "calmar",
    "max_drawdown_pct",
    "turnover",
    "win_rate_pct",
    "trades",
)


@attrs.frozen
class Task:
    """One replay of the walk-forward: ``phase`` "in" (in-sample) or "out" (out-of-sample)."""

    phase: str
    fold: int
    point: int
    date_from: date
    date_to: date  # inclusive


@attrs.frozen
class Context:
    """What every task shares; sent to each worker once (``engine``)."""

    loaded: LoadedConfig
    data: tuple[Path, ...]
    symbols: tuple[str, ...]
    points: tuple[Point, ...]
    cost_bps: float | None  # None: the config's own fill and cost model


def with_point(loaded: LoadedConfig, point: Point, cost_bps: float | None) -> LoadedConfig:
    """``loaded`` with each sleeve of ``point`` given its parameters (checked as the config
    loader checks a built-in sleeve's table; a bad one is a ``ConfigError`` naming the grid
    point), and with ``cost_bps`` as the only cost of a fill when it is given."""
    config = loaded.config
    signals = dict(config.signals)
    for sleeve, params in plain(point).items():
        decl = signals.get(sleeve)
        if decl is None:
            raise ConfigError(
                f"--grid [{sleeve}]: not a declared sleeve (declared: {', '.join(signals)})"
            )
        where = f"--grid point {label(point)}"
        table = {**decl.plain(), **params}
        built = SleeveDecl.from_table(table, ("signals", sleeve), lambda _key, w=where: w)
        signals[sleeve] = attrs.evolve(built, origin=decl.origin)
    config = attrs.evolve(config, signals=signals)
    if cost_bps is not None:
        sim = attrs.evolve(
            config.venue.sim,
            slippage_model="fixed",
            slippage_bps=cost_bps,
            fee_bps=0.0,
            proxy_spread_bps=0.0,
        )
        config = attrs.evolve(config, venue=attrs.evolve(config.venue, sim=sim))
    plain_config = loader.to_plain(config)
    return LoadedConfig(
        config=config, path=loaded.path, env_keys=loaded.env_keys, hash=config_hash(plain_config)
    )


def run_task(ctx: Context, task: Task) -> dict[str, Any]:
    """The task's replay: its metrics and its daily equity ``[[iso_day, equity], ...]``."""
    from quantbot.research.replay import ReplayRequest, run_replay  # noqa: PLC0415

    loaded = with_point(ctx.loaded, ctx.points[task.point], ctx.cost_bps)
    with tempfile.TemporaryDirectory(prefix="quantbot-wf-", dir=_scratch_root()) as tmp:
        request = ReplayRequest(
            data=ctx.data,
            symbols=ctx.symbols,
            date_from=task.date_from,
            date_to=task.date_to,
            out_root=Path(tmp),
            loaded=_bars_of(ctx),
            report=False,  # read back as metrics here; its HTML page would go unread
        )
        result = asyncio.run(run_replay(loaded, request))
    metrics = result.summary["metrics"]
    return {
        "metrics": {k: metrics.get(k) for k in METRICS},
        "equity": result.summary["equity_curve"],
    }


def _scratch_root() -> str | None:
    """Where a task's replay writes its files, read back and removed at once: a memory-backed
    directory where the system has one (``/dev/shm``: no disk, and the replay's closing
    fsyncs cost nothing), else the system's temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


# The bars each process has loaded, by (files, symbols): one read per worker process (or one
# in all, serially), not one per task. A worker runs many tasks of one walk-forward.
_BARS: dict[tuple[Any, ...], Any] = {}


def _bars_of(ctx: Context) -> Any:
    from quantbot.marketdata.loaders import load_symbols  # noqa: PLC0415

    key = (tuple(str(p) for p in ctx.data), tuple(ctx.symbols))
    bars = _BARS.get(key)
    if bars is None:
        _BARS.clear()  # one walk-forward's bars at a time
        bars = _BARS[key] = load_symbols(list(ctx.data), symbols=set(ctx.symbols) or None)
    return bars


def daily_returns(equity: list[list[Any]]) -> list[float]:
    values = [float(v) for _, v in equity]
    return [b / a - 1.0 if a else 0.0 for a, b in itertools.pairwise(values)]
