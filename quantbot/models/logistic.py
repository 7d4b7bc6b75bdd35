"""A logistic-regression confidence model: P(next bar closes up | features), pure Python.

Training is deterministic: standardise each feature by its training mean and (population)
std, then a fixed number of full-batch gradient steps with L2 from zero weights, in a fixed
order. The same bars give the same floats, so the same bytes (``to_bytes`` sorts keys).
The split is chronological: the last ``validation_fraction`` of each file's labelled bars are
held out and scored (accuracy, log loss), never trained on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import attrs
import orjson

from quantbot.domain.values import Bar
from quantbot.models.features import NAMES, FeatureWindow

KIND = "logistic_regression"
MODEL_FILE = "model.json"
EPOCHS = 200
LEARNING_RATE = 0.5
L2 = 1e-3
VALIDATION_FRACTION = 0.2


@attrs.frozen
class LogisticModel:
    features: tuple[str, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, x: Sequence[float]) -> float:
        z = self.bias
        for value, mean, std, weight in zip(x, self.means, self.stds, self.weights, strict=True):
            z += weight * (value - mean) / std
        z = max(-50.0, min(50.0, z))
        return 1.0 / (1.0 + math.exp(-z))

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {"kind": KIND, **attrs.asdict(self)}, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LogisticModel:
        """``ValueError`` naming what is wrong when ``data`` is not this model's file."""
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"not JSON ({e})") from e
        if not isinstance(raw, dict) or raw.get("kind") != KIND:
            raise ValueError(f"not a {KIND} model (kind={raw.get('kind')!r})")
        n = len(NAMES)
        vectors = ("means", "stds", "weights")
        if tuple(raw.get("features", ())) != NAMES:
            raise ValueError(f"features {raw.get('features')!r}, expected {list(NAMES)}")
        for key in vectors:
            values = raw.get(key)
            if not (isinstance(values, list) and len(values) == n and all(map(_finite, values))):
                raise ValueError(f"{key} must be {n} finite numbers")
        if any(s <= 0 for s in raw["stds"]) or not _finite(raw.get("bias")):
            raise ValueError("stds must be > 0 and bias a finite number")
        return cls(NAMES, *(tuple(float(v) for v in raw[k]) for k in vectors), float(raw["bias"]))


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@attrs.frozen
class Samples:
    train: list[tuple[list[float], int]]
    validation: list[tuple[list[float], int]]
    # every labelled bar: (its open time, features, label), for the walk-forward folds
    timed: list[tuple[int, list[float], int]]


def samples(series: Sequence[Sequence[Bar]]) -> Samples:
    """(features, 1 if the next bar closed higher) per bar, split chronologically per series."""
    train: list[tuple[list[float], int]] = []
    validation: list[tuple[list[float], int]] = []
    timed: list[tuple[int, list[float], int]] = []
    for bars in series:
        window = FeatureWindow()
        rows = []
        for bar, following in itertools.pairwise(bars):
            x = window.push(bar)
            if x is not None:
                label = 1 if following.close > bar.close else 0
                rows.append((x, label))
                timed.append((bar.ts_ns, x, label))
        cut = len(rows) - int(len(rows) * VALIDATION_FRACTION)
        train += rows[:cut]
        validation += rows[cut:]
    return Samples(train, validation, timed)


def fit(train: Sequence[tuple[list[float], int]]) -> LogisticModel:
    if len(train) < 2 * len(NAMES):
        raise ValueError(f"{len(train)} labelled bars are too few to train on")
    n = len(NAMES)
    count = len(train)
    means = [math.fsum(x[i] for x, _ in train) / count for i in range(n)]
    stds = []
    for i in range(n):
        var = math.fsum((x[i] - means[i]) ** 2 for x, _ in train) / count
        stds.append(math.sqrt(var) if var > 0 else 1.0)
    rows = [([(x[i] - means[i]) / stds[i] for i in range(n)], y) for x, y in train]
    weights = [0.0] * n
    bias = 0.0
    for _ in range(EPOCHS):
        grad = [0.0] * n
        grad_b = 0.0
        for z, y in rows:
            s = bias + sum(w * v for w, v in zip(weights, z, strict=True))
            s = max(-50.0, min(50.0, s))
            err = 1.0 / (1.0 + math.exp(-s)) - y
            grad_b += err
            for i in range(n):
                grad[i] += err * z[i]
        bias -= LEARNING_RATE * grad_b / count
        for i in range(n):
            weights[i] -= LEARNING_RATE * (grad[i] / count + L2 * weights[i])
    return LogisticModel(NAMES, tuple(means), tuple(stds), tuple(weights), bias)


def score(model: LogisticModel, rows: Sequence[tuple[list[float], int]]) -> dict[str, float]:
    """Accuracy and mean log loss over ``rows`` (the held-out bars); empty: zeros."""
    if not rows:
        return {"bars": 0, "accuracy": 0.0, "log_loss": 0.0}
    hits = 0
    loss = 0.0
    for x, y in rows:
        p = min(max(model.probability(x), 1e-12), 1 - 1e-12)
        hits += (p > 0.5) == (y == 1)
        loss -= math.log(p) if y else math.log(1 - p)
    return {"bars": len(rows), "accuracy": hits / len(rows), "log_loss": loss / len(rows)}
