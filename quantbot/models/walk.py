"""The model's walk-forward check: the research walk-forward's folds (``research.walk_forward
.folds``) over the training bars' days, anchored, purged of the one bar a label looks ahead;
a model is fitted on each fold's train window and scored on its test window. The artifact's
manifest carries every fold's score (``walk_forward``), so a reader sees how the model did
on days it had not seen, not only on the final hold-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from quantbot.clock import utc_date
from quantbot.models.logistic import fit, score
from quantbot.research.walk_forward.folds import FoldSpec, Span, build

TRAIN_BARS = 750  # about three years of daily bars
TEST_BARS = 500  # about two
SPEC = FoldSpec(
    train=Span(TRAIN_BARS, days=False),
    test=Span(TEST_BARS, days=False),
    step=Span(TEST_BARS, days=False),
    horizon=1,  # a label reads the next bar's close: the last train bar before a test is purged
    anchored=True,
)


def walk_forward(timed: Sequence[tuple[int, list[float], int]]) -> list[dict[str, Any]]:
    """Each fold's bounds and out-of-sample score; [] when the data holds no whole fold."""
    day_of = {ts: date.fromisoformat(utc_date(ts)) for ts in {ts for ts, _, _ in timed}}
    days = sorted(set(day_of.values()))
    if len(days) < TRAIN_BARS + TEST_BARS:
        return []
    index = {day: i for i, day in enumerate(days)}
    results = []
    for fold in build(days, SPEC):
        train, test = [], []
        for ts, x, y in timed:
            i = index[day_of[ts]]
            if fold.train_start <= i < fold.train_end:
                train.append((x, y))
            elif fold.test_start <= i < fold.test_end:
                test.append((x, y))
        record = fold.record(days)
        del record["index"]
        results.append({**record, "score": score(fit(train), test)})
    return results
