"""What a walk-forward writes under ``runtime/walk_forward/<id>/``:

- ``folds.jsonl``: one line per fold and grid point: the fold's bounds, the point's params,
  its in-sample metrics, ``chosen``, and for the chosen point its out-of-sample metrics;
- ``oos_equity.csv``: the out-of-sample equity of the folds' chosen points, stitched (each
  fold's curve scaled to start where the previous one ended);
- ``summary.json``: the inputs, the sleeves as declared, each fold's choice, the distribution
  across folds of the out-of-sample metrics, how often each point was chosen, and the
  overfitting statistics (``research.overfit`` where it exists);
- ``report.html``: a table per fold and the stitched equity, offline.

Everything is a function of the inputs: a second run writes the same bytes.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.config.schema import LoadedConfig
from quantbot.domain.errors import DataError
from quantbot.fsutil import ensure_private_dir, write_private
from quantbot.research.walk_forward import report
from quantbot.research.walk_forward.folds import Fold
from quantbot.research.walk_forward.grid import Point, label, plain
from quantbot.research.walk_forward.runner import daily_returns
from quantbot.signals.user_code import SleeveCodeError

DISTRIBUTED = {
    "return_pct": "total_return_pct",
    "turnover": "turnover",
    "max_drawdown_pct": "max_drawdown_pct",
    "hit_rate_pct": "win_rate_pct",
    "sharpe": "sharpe",
}


@attrs.frozen
class Walk:
    wid: str
    loaded: LoadedConfig
    request_record: dict[str, Any]
    days: list[date]
    folds: list[Fold]
    points: list[Point]
    in_results: list[list[dict[str, Any]]]  # per fold, per point
    chosen: list[int]  # per fold
    out_results: list[dict[str, Any]]  # per fold


@attrs.frozen
class WalkResult:
    wid: str
    out_dir: Path
    summary: dict[str, Any]


def write(out_dir: Path, walk: Walk) -> WalkResult:
    try:
        if out_dir.exists():  # a pure function of its inputs: start clean
            shutil.rmtree(out_dir)
        ensure_private_dir(out_dir)
    except OSError as e:
        raise DataError(f"--out {out_dir.parent}: cannot write the walk-forward there: {e}") from e
    lines = []
    for fold, results, chosen, oos in zip(
        walk.folds, walk.in_results, walk.chosen, walk.out_results, strict=True
    ):
        bounds = fold.record(walk.days)
        for i, (point, result) in enumerate(zip(walk.points, results, strict=True)):
            lines.append(
                {
                    **bounds,
                    "point": i + 1,
                    "params": plain(point),
                    "in_sample": result["metrics"],
                    "chosen": i == chosen,
                    "out_of_sample": oos["metrics"] if i == chosen else None,
                }
            )
    write_private(out_dir / "folds.jsonl", b"".join(orjson.dumps(x) + b"\n" for x in lines))
    equity = stitched(walk)
    csv = "date,fold,equity\n" + "".join(f"{d},{f},{v:.2f}\n" for d, f, v in equity)
    write_private(out_dir / "oos_equity.csv", csv.encode())
    summary = build_summary(walk, equity)
    write_private(out_dir / "summary.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    write_private(out_dir / "report.html", report.html(summary, equity).encode())
    return WalkResult(walk.wid, out_dir, summary)


def stitched(walk: Walk) -> list[tuple[str, int, float]]:
    """(day, fold, equity): each fold's out-of-sample curve scaled to start at the last
    fold's end (the first fold's at its own starting equity)."""
    out: list[tuple[str, int, float]] = []
    level = None
    for fold, oos in zip(walk.folds, walk.out_results, strict=True):
        curve = oos["equity"]
        if not curve:
            continue
        start = float(curve[0][1])
        scale = 1.0 if level is None or not start else level / start
        for day, value in curve:
            out.append((day, fold.index, float(value) * scale))
        level = out[-1][2]
    return out


def distribution(values: list[float | None]) -> dict[str, Any]:
    """n, min, median, mean, max of the values that exist (None: the metric was undefined)."""
    xs = sorted(float(v) for v in values if v is not None)
    if not xs:
        return {"n": 0, "min": None, "median": None, "mean": None, "max": None}
    mid = len(xs) // 2
    median = xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
    return {
        "n": len(xs),
        "min": round(xs[0], 6),
        "median": round(median, 6),
        "mean": round(sum(xs) / len(xs), 6),
        "max": round(xs[-1], 6),
    }


def build_summary(walk: Walk, equity: list[tuple[str, int, float]]) -> dict[str, Any]:
    counts = Counter(walk.chosen)
    start = equity[0][2] if equity else None
    end = equity[-1][2] if equity else None
    return {
        "id": walk.wid,
        "created_from": {
            "config_hash": walk.loaded.hash,
            "data": walk.request_record["data"],
        },
        "settings": {k: v for k, v in walk.request_record.items() if k != "data"},
        "sleeves": sleeves_record(walk.loaded),
        "grid": [{"point": i + 1, "params": plain(p)} for i, p in enumerate(walk.points)],
        "folds": [
            {
                **fold.record(walk.days),
                "chosen_point": c + 1,
                "chosen_params": plain(walk.points[c]),
                "in_sample": walk.in_results[k][c]["metrics"],
                "out_of_sample": walk.out_results[k]["metrics"],
            }
            for k, (fold, c) in enumerate(zip(walk.folds, walk.chosen, strict=True))
        ],
        "distribution": {
            name: distribution([r["metrics"].get(key) for r in walk.out_results])
            for name, key in DISTRIBUTED.items()
        },
        "stitched": {
            "start_equity": round(start, 2) if start is not None else None,
            "end_equity": round(end, 2) if end is not None else None,
            "total_return_pct": round((end / start - 1) * 100, 3) if start and end else None,
        },
        "stability": {
            "folds": len(walk.folds),
            "distinct_chosen": len(counts),
            "most_chosen_share": round(max(counts.values()) / len(walk.folds), 4),
            "chosen": [
                {
                    "point": p + 1,
                    "label": label(walk.points[p]),
                    "folds": n,
                    "share": round(n / len(walk.folds), 4),
                }
                for p, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
            ],
        },
        "overfitting": overfitting(walk, counts),
    }


def sleeves_record(loaded: LoadedConfig) -> dict[str, Any]:
    """The sleeves as the config declares them, and the sha256 of each one's source (a user
    sleeve's file, or the built-in module's)."""
    out = {}
    for name, decl in loaded.config.signals.items():
        try:
            sha = decl.code().sha256
        except SleeveCodeError:  # the replay has already said why the code does not load
            sha = None
        out[name] = {"kind": decl.kind, "params": decl.params, "source_sha256": sha}
    return out


def overfitting(walk: Walk, counts: Counter[int]) -> dict[str, Any]:
    """DSR and PBO over the grid (``research.overfit``, when it exists; null otherwise): each
    point's in-sample daily returns, the folds' train windows one after another, and the
    most often chosen point as the chosen trial."""
    trials = [
        [x for k in range(len(walk.folds)) for x in daily_returns(walk.in_results[k][p]["equity"])]
        for p in range(len(walk.points))
    ]
    chosen = max(counts, key=lambda p: (counts[p], -p))
    record: dict[str, Any] = {
        "dsr": None,
        "pbo": None,
        "trials": len(trials),
        "chosen_point": chosen + 1,
    }
    try:
        from quantbot.research import overfit  # type: ignore[attr-defined]  # noqa: PLC0415
    except ImportError:
        record["note"] = "quantbot.research.overfit is not installed"
        return record
    try:
        record["dsr"] = _finite(overfit.deflated_sharpe(trials, chosen))
        record["pbo"] = _finite(overfit.pbo_cscv(trials)) if len(trials) > 1 else None
    except ValueError as e:  # too few returns or trials for the statistic
        record["note"] = str(e)
    return record


def _finite(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return round(value, 6) if math.isfinite(value) else None
