"""The walk-forward itself: folds over the data's bar days, every grid point in-sample on each
fold, the best by the objective (ties: the first in grid order) out-of-sample, then the output
(``output``) under ``runtime/walk_forward/<id>/``."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import NS_PER_S
from quantbot.config.schema import LoadedConfig
from quantbot.research.walk_forward import engine, folds, output
from quantbot.research.walk_forward.grid import Point
from quantbot.research.walk_forward.runner import Context, Task, with_point

OBJECTIVES = {"sharpe": "sharpe", "return": "total_return_pct", "calmar": "calmar"}


@attrs.frozen
class WalkRequest:
    data: tuple[Path, ...]
    symbols: tuple[str, ...]
    spec: folds.FoldSpec
    points: tuple[Point, ...]
    objective: str = "sharpe"
    cost_bps: float | None = None
    engine: str = "serial"
    workers: int = 2
    out_root: Path | None = None  # default: <runtime_dir>/walk_forward
    date_from: date | None = None  # the data used: these days (inclusive) only
    date_to: date | None = None
    ray_address: str | None = None  # --engine ray: join this cluster (None: start a local one)


def timeline(request: WalkRequest) -> list[date]:
    """The distinct UTC days that hold a bar of any symbol, in order."""
    from quantbot.research.replay import ReplayRequest, load_bars  # noqa: PLC0415

    series = load_bars(
        ReplayRequest(
            data=request.data,
            symbols=request.symbols,
            date_from=request.date_from,
            date_to=request.date_to,
        )
    )
    days = {
        datetime.fromtimestamp(ts // NS_PER_S, tz=UTC).date()
        for bars in series.values()
        for ts in bars.timestamps
    }
    return sorted(days)


def walk_id(loaded: LoadedConfig, request: WalkRequest, digests: list[str]) -> str:
    """A digest of every input that decides the output, and nothing else (not --engine,
    --workers or --out)."""
    spec = request.spec
    inputs = [
        loaded.hash,
        digests,
        list(request.symbols),
        [str(request.date_from), str(request.date_to)],
        [[list(p) for p in point] for point in request.points],
        [
            str(spec.train),
            str(spec.test),
            str(spec.step),
            spec.embargo,
            spec.horizon,
            spec.anchored,
        ],
        request.objective,
        request.cost_bps,
    ]
    return "wf-" + hashlib.sha256(orjson.dumps(inputs)).hexdigest()[:16]


def file_digests(data: tuple[Path, ...]) -> list[str]:
    out = []
    for path in data:
        with path.open("rb") as handle:
            out.append(hashlib.file_digest(handle, "sha256").hexdigest())
    return out


def score(metrics: dict[str, Any], objective: str) -> float:
    """The objective's value; a missing or non-finite one ranks last."""
    value = metrics.get(OBJECTIVES[objective])
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else -math.inf


def choose(results: list[dict[str, Any]], objective: str) -> int:
    """The index of the best result (ties: the first)."""
    best = 0
    for i, r in enumerate(results):
        if score(r["metrics"], objective) > score(results[best]["metrics"], objective):
            best = i
    return best


def run_walk(
    loaded: LoadedConfig, request: WalkRequest, say: Callable[[str], None] | None = None
) -> output.WalkResult:
    for point in request.points:  # every point checked before the first replay
        with_point(loaded, point, request.cost_bps)
    days = timeline(request)
    fold_list = folds.build(days, request.spec)
    digests = file_digests(request.data)
    wid = walk_id(loaded, request, digests)
    ctx = Context(loaded, request.data, request.symbols, request.points, request.cost_bps)
    n_points = len(request.points)
    say = say or (lambda _line: None)
    say(
        f"walk-forward {wid}: {len(fold_list)} folds x {n_points} grid points "
        f"({request.engine} engine)"
    )

    def progress(phase: str) -> engine.Progress:
        def told(done: int, total: int, task: Task) -> None:
            say(f"walk-forward: {phase} {done}/{total} (fold {task.fold}, point {task.point + 1})")

        return told

    with engine.session(request.engine, request.workers, request.ray_address):
        in_results, chosen, out_results = _play(ctx, request, fold_list, days, progress)
    root = request.out_root or Path(loaded.config.run.runtime_dir) / "walk_forward"
    return output.write(
        root / wid,
        output.Walk(
            wid=wid,
            loaded=loaded,
            request_record=_request_record(request, digests),
            days=days,
            folds=fold_list,
            points=list(request.points),
            in_results=in_results,
            chosen=chosen,
            out_results=out_results,
        ),
    )


def _play(
    ctx: Context,
    request: WalkRequest,
    fold_list: list[folds.Fold],
    days: list[date],
    progress: Callable[[str], engine.Progress],
) -> tuple[list[list[dict[str, Any]]], list[int], list[dict[str, Any]]]:
    """Every point in-sample on each fold, then each fold's best out-of-sample."""
    n_points = len(request.points)
    in_tasks = [
        Task("in", f.index, p, days[f.train_start], days[f.train_end - 1])
        for f in fold_list
        for p in range(n_points)
    ]
    in_results = engine.run_tasks(
        ctx, in_tasks, request.engine, request.workers, progress("in-sample")
    )
    by_fold = [in_results[i * n_points : (i + 1) * n_points] for i in range(len(fold_list))]
    chosen = [choose(r, request.objective) for r in by_fold]
    out_tasks = [
        Task("out", f.index, c, days[f.test_start], days[f.test_end - 1])
        for f, c in zip(fold_list, chosen, strict=True)
    ]
    out_results = engine.run_tasks(
        ctx, out_tasks, request.engine, request.workers, progress("out-of-sample")
    )
    return by_fold, chosen, out_results


def _request_record(request: WalkRequest, digests: list[str]) -> dict[str, Any]:
    spec = request.spec
    return {
        "data": [{"file": p.name, "sha256": d} for p, d in zip(request.data, digests, strict=True)],
        "symbols": list(request.symbols),
        "from": str(request.date_from) if request.date_from else None,
        "to": str(request.date_to) if request.date_to else None,
        "train": str(spec.train),
        "test": str(spec.test),
        "step": str(spec.step),
        "embargo_bars": spec.embargo,
        "horizon_bars": spec.horizon,
        "anchored": spec.anchored,
        "objective": request.objective,
        "cost": "config" if request.cost_bps is None else f"fixed:{request.cost_bps:g}",
    }
