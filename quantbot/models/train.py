"""``quantbot model train``'s work: bars from CSV files -> a logistic model -> an artifact,
and the rules on where training may write (``refusal``).

Deterministic: the same files give a byte-identical artifact. Its ``created`` time is the
training data's last bar (an injectable ``created_ns`` overrides it), never the wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import quantbot
from quantbot.clock import Clock, iso_utc
from quantbot.config.schema import Config
from quantbot.domain.errors import DataError
from quantbot.marketdata.csv_bars import load_csv_file
from quantbot.models import logistic
from quantbot.models.artifact import load_verified, sha256, write_artifact
from quantbot.models.features import NAMES
from quantbot.models.startup import MODEL_KINDS
from quantbot.models.walk import walk_forward
from quantbot.ops.lock import StateLock
from quantbot.records.manifest import git_commit
from quantbot.risk.golive import GO_LIVE_FILE, GoLiveStore


def train(paths: Sequence[Path], out: Path, *, created_ns: int | None = None) -> dict[str, Any]:
    """Train on ``paths`` and write the artifact to ``out``; returns its manifest."""
    series, files = [], []
    for path in paths:
        found = load_csv_file(path)
        series += found
        files.append(
            {
                "path": str(path),
                "sha256": sha256(Path(path).read_bytes()),
                "symbols": [s.symbol for s in found],
                "bars": sum(len(s) for s in found),
            }
        )
    bars = [bar for s in series for bar in s]
    if not bars:
        raise DataError(f"{', '.join(map(str, paths))}: no bars to train on")
    split = logistic.samples(series)
    try:
        model = logistic.fit(split.train)
    except ValueError as e:
        raise DataError(f"{', '.join(map(str, paths))}: {e}") from e
    first = min(b.ts_ns for b in bars)
    last = max(b.ts_ns for b in bars)
    about = {
        "kind": logistic.KIND,
        "created": iso_utc(last if created_ns is None else created_ns),
        "training_data": {
            "from": iso_utc(first),
            "to": iso_utc(last),
            "files": files,
            "label": "1 when the next bar closes above this bar's close",
            "split": f"chronological per file: the last {logistic.VALIDATION_FRACTION:.0%} "
            "of labelled bars held out for validation",
            "train_bars": len(split.train),
        },
        "features": list(NAMES),
        "training": {
            "epochs": logistic.EPOCHS,
            "learning_rate": logistic.LEARNING_RATE,
            "l2": logistic.L2,
        },
        "validation": logistic.score(model, split.validation),
        "walk_forward": walk_forward(split.timed),
        "code": {
            "package_version": quantbot.__version__,
            "git_commit": git_commit(Path(quantbot.__file__).resolve().parent),
        },
    }
    write_artifact(out, {logistic.MODEL_FILE: model.to_bytes()}, about)
    return load_verified(out).manifest


def refusal(config: Config, out: Path, clock: Clock) -> str | None:
    """Why training must not write ``out`` under ``config``, or None (``config.models``)."""
    state_dir = Path(config.run.state_dir)
    if GoLiveStore(state_dir / GO_LIVE_FILE, clock).load().enabled:
        return (
            f"go-live is enabled in {state_dir}: this is a live config, and training never "
            "runs in live (`quantbot go-live disable` first, or train with a research config)"
        )
    if StateLock(state_dir).is_held_elsewhere():
        return (
            f"a quantbot daemon is running on {state_dir}: stop it first (a running daemon "
            "never swaps its model; the next start would load what training wrote)"
        )
    target = out.resolve()
    for decl in config.signals.values():
        loads = decl.kind in MODEL_KINDS and decl.artifact_dir().resolve() == target
        if loads and not config.models.allow_training_in_paper:
            return (
                f"{out} is the artifact that sleeve {decl.name!r} of this config loads: training "
                "into it replaces the model a paper run trades on; set [models] "
                "allow_training_in_paper = true to allow it, or train into another directory"
            )
    return None
