"""The folds of a walk-forward: train and test windows over the data's bar days.

The timeline is the sorted distinct UTC days that hold a bar (the replay's ``--from``/``--to``
granularity), so a window of ``N bars`` is N of those days and a window of ``Nd`` is the days
within N calendar days of its first day.

Each fold, in timeline indexes (half-open ``[start, end)``):

- ``train``: ``[train_start, train_end)``: rolling (a fixed length sliding by ``step``) or
  anchored (always from the first day, growing);
- purge: the last ``horizon`` bars before the test are not trained on: a label that looks
  ``horizon`` bars ahead from them would read the test window (``train_end + horizon <=
  test_start``);
- embargo: ``embargo`` more bars are left out between the purged train and the test, and no
  train bar of the fold lies in the test window or in the ``embargo`` bars after it;
- ``test``: ``[test_start, test_end)``; the next fold's test starts ``step`` later.

``check`` asserts all of it on every fold; ``build`` calls it, so a fold that would leak can
never reach the runner.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

import attrs

from quantbot.domain.errors import DataError

_SPAN = re.compile(r"^\s*(\d+)\s*(d|bars?)\s*$")


@attrs.frozen
class Span:
    """A window length: ``count`` bars, or ``count`` calendar days (``days=True``)."""

    count: int
    days: bool

    def __str__(self) -> str:
        return f"{self.count}d" if self.days else f"{self.count} bars"


def parse_span(text: str, flag: str) -> Span:
    """``180d`` (calendar days) or ``500 bars`` / ``500bars`` (bar days of the data)."""
    match = _SPAN.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise DataError(
            f"{flag} {text!r}: use a positive count of days or bars, e.g. 180d or 500 bars"
        )
    return Span(int(match.group(1)), match.group(2) == "d")


@attrs.frozen
class FoldSpec:
    train: Span
    test: Span
    step: Span
    embargo: int = 0  # bars
    horizon: int = 0  # bars: the longest a label looks ahead (the purge)
    anchored: bool = False


@attrs.frozen
class Fold:
    index: int
    train_start: int
    train_end: int  # exclusive, after the purge
    test_start: int
    test_end: int  # exclusive
    purged: int  # train bars removed by the purge
    embargo: int

    def record(self, days: Sequence[date]) -> dict[str, object]:
        """The fold's bounds as days (inclusive ``from``/``to``) and as timeline indexes."""
        return {
            "fold": self.index,
            "train": {
                "from": str(days[self.train_start]),
                "to": str(days[self.train_end - 1]),
                "bars": self.train_end - self.train_start,
            },
            "purged_bars": self.purged,
            "embargo_bars": self.embargo,
            "test": {
                "from": str(days[self.test_start]),
                "to": str(days[self.test_end - 1]),
                "bars": self.test_end - self.test_start,
            },
            "index": [self.train_start, self.train_end, self.test_start, self.test_end],
        }


class FoldLeak(AssertionError):
    """A fold whose train window could see its test window."""


def _advance(days: Sequence[date], start: int, span: Span) -> int:
    """The index ``span`` after ``start`` (may be ``len(days)`` or beyond)."""
    if not span.days:
        return start + span.count
    if start >= len(days):
        return start + 1
    limit = days[start] + timedelta(days=span.count)
    end = start
    while end < len(days) and days[end] < limit:
        end += 1
    return end


def build(days: Sequence[date], spec: FoldSpec) -> list[Fold]:
    """Every whole fold the timeline holds, checked by ``check``."""
    folds: list[Fold] = []
    train_start = 0
    raw_end = _advance(days, 0, spec.train)  # train window before the purge
    while True:
        train_end = raw_end - spec.horizon
        test_start = raw_end + spec.embargo
        test_end = _advance(days, test_start, spec.test)
        if test_end > len(days) or test_start >= len(days):
            break
        if train_end <= train_start:
            raise DataError(
                f"fold {len(folds) + 1}: purging {spec.horizon} bars (--horizon) leaves no train "
                f"bars of the {raw_end - train_start} in --train {spec.train}"
            )
        fold = Fold(
            len(folds) + 1,
            train_start,
            train_end,
            test_start,
            test_end,
            raw_end - train_end,
            spec.embargo,
        )
        check(fold, spec, len(days))
        folds.append(fold)
        nxt = _advance(days, test_start, spec.step) - test_start  # bars the walk moves on
        if test_start + nxt < test_end:
            raise DataError(
                f"--step {spec.step} is shorter than --test {spec.test}: the test windows "
                "would overlap and the stitched out-of-sample equity count days twice"
            )
        raw_end += nxt
        if not spec.anchored:
            train_start = (
                _advance(days, train_start, spec.step) if spec.step.days else train_start + nxt
            )
    if not folds:
        raise DataError(
            f"the data's {len(days)} bar days hold no fold of --train {spec.train} + --embargo "
            f"{spec.embargo} bars + --test {spec.test}"
        )
    return folds


def check(fold: Fold, spec: FoldSpec, n: int) -> None:
    """Assert the fold's bounds: raise ``FoldLeak`` naming the fold and the rule it breaks."""
    where = f"fold {fold.index}"
    if not (0 <= fold.train_start < fold.train_end <= fold.test_start < fold.test_end <= n):
        raise FoldLeak(f"{where}: bounds out of order {fold}")
    if fold.train_end + spec.horizon > fold.test_start:
        raise FoldLeak(
            f"{where}: train bar {fold.train_end - 1} + horizon {spec.horizon} reaches test "
            f"bar {fold.test_start} (purge)"
        )
    if fold.test_start - fold.train_end < spec.horizon + spec.embargo:
        raise FoldLeak(
            f"{where}: {fold.test_start - fold.train_end} bars between train and test, "
            f"fewer than horizon {spec.horizon} + embargo {spec.embargo}"
        )
    banned = range(fold.test_start, fold.test_end + spec.embargo)
    if fold.train_start < banned.stop and banned.start < fold.train_end:
        raise FoldLeak(f"{where}: train overlaps the test window or its embargo")
