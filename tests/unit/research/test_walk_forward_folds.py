"""The walk-forward's fold builder: rolling and anchored windows in bars or calendar days,
the purge (train bars whose label horizon reaches the test) and the embargo, asserted on
every fold; a fold that breaks them is refused."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from quantbot.domain.errors import DataError
from quantbot.research.walk_forward.folds import (
    Fold,
    FoldLeak,
    FoldSpec,
    Span,
    build,
    check,
    parse_span,
)

DAYS = [date(2020, 1, 1) + timedelta(days=i) for i in range(100)]


def bounds(folds: list[Fold]) -> list[tuple[int, int, int, int]]:
    return [(f.train_start, f.train_end, f.test_start, f.test_end) for f in folds]


def test_rolling_folds_in_bars_purge_the_horizon_and_leave_the_embargo_out() -> None:
    spec = FoldSpec(Span(30, False), Span(10, False), Span(10, False), embargo=2, horizon=3)
    folds = build(DAYS, spec)
    # train [0, 30) less its last 3 bars; 2 embargo bars; test the next 10; then 10 on.
    assert bounds(folds) == [
        (0, 27, 32, 42),
        (10, 37, 42, 52),
        (20, 47, 52, 62),
        (30, 57, 62, 72),
        (40, 67, 72, 82),
        (50, 77, 82, 92),
    ]  # (60, 87, 92, 102) would run past the 100 days: not a fold
    assert all(f.purged == 3 and f.embargo == 2 for f in folds)
    assert [f.index for f in folds] == [1, 2, 3, 4, 5, 6]
    record = folds[0].record(DAYS)
    assert record["train"] == {"from": "2020-01-01", "to": "2020-01-27", "bars": 27}
    assert record["test"] == {"from": "2020-02-02", "to": "2020-02-11", "bars": 10}


def test_anchored_folds_train_from_the_first_day_and_grow() -> None:
    spec = FoldSpec(Span(40, False), Span(20, False), Span(20, False), horizon=5, anchored=True)
    assert bounds(build(DAYS, spec)) == [(0, 35, 40, 60), (0, 55, 60, 80), (0, 75, 80, 100)]


def test_spans_in_calendar_days_count_the_days_with_bars_within_them() -> None:
    weekdays = [d for d in DAYS if d.weekday() < 5]  # 2020-01-01 is a Wednesday
    spec = FoldSpec(Span(28, True), Span(14, True), Span(14, True))
    folds = build(weekdays, spec)
    first = folds[0].record(weekdays)
    assert first["train"] == {"from": "2020-01-01", "to": "2020-01-28", "bars": 20}
    assert first["test"] == {"from": "2020-01-29", "to": "2020-02-11", "bars": 10}
    second = folds[1].record(weekdays)
    assert second["train"]["from"] == "2020-01-15" and second["test"]["from"] == "2020-02-12"


@pytest.mark.parametrize(
    ("fold", "rule"),
    [
        # train ends at 29 (exclusive 30) with a 3-bar horizon: bar 29's label reads bar 32.
        (Fold(1, 0, 30, 32, 42, 0, 0), "purge"),
        # purged, but only 3 bars between train and test where horizon 3 + embargo 2 are due.
        (Fold(1, 0, 29, 32, 42, 3, 2), "fewer than horizon 3 + embargo 2"),
        (Fold(1, 0, 45, 32, 42, 0, 0), "out of order"),
    ],
)
def test_a_fold_that_could_see_its_test_window_is_caught(fold: Fold, rule: str) -> None:
    spec = FoldSpec(Span(30, False), Span(10, False), Span(10, False), embargo=2, horizon=3)
    with pytest.raises(FoldLeak, match=re.escape(rule)) as caught:
        check(fold, spec, 100)
    assert str(caught.value).startswith("fold 1:")


def test_a_horizon_that_purges_the_whole_train_window_names_horizon() -> None:
    spec = FoldSpec(Span(30, False), Span(10, False), Span(10, False), horizon=30)
    with pytest.raises(DataError, match="--horizon"):
        build(DAYS, spec)


def test_test_windows_may_not_overlap_and_the_data_must_hold_a_fold() -> None:
    with pytest.raises(DataError, match="--step 5 bars is shorter than --test 10 bars"):
        build(DAYS, FoldSpec(Span(30, False), Span(10, False), Span(5, False)))
    with pytest.raises(DataError, match="hold no fold"):
        build(DAYS, FoldSpec(Span(95, False), Span(10, False), Span(10, False)))


def test_spans_parse_days_and_bars_and_reject_the_rest() -> None:
    assert parse_span("180d", "--train") == Span(180, True)
    assert parse_span("500 bars", "--train") == Span(500, False)
    assert parse_span("1bar", "--test") == Span(1, False)
    for bad in ("0d", "3w", "", "d"):
        with pytest.raises(DataError, match="--test"):
            parse_span(bad, "--test")
