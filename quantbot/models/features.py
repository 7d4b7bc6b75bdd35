"""The bar features the logistic model reads, computed the same way in training and in the
sleeve (one class, so the two cannot drift apart).

Per symbol, after each bar: log returns over 1, 5 and 20 bars, the bar's range as a fraction
of its close, and the volume's z-score against the previous 20 bars. O(1) per bar (plain
floats over a 21-close deque and a 20-volume deque; no Decimal, no dict rebuilds).
"""

from __future__ import annotations

import math
from collections import deque

from quantbot.domain.values import Bar

NAMES = ("ret_1", "ret_5", "ret_20", "range", "volume_z")
LOOKBACK = 20  # bars of history a feature vector needs; ready after LOOKBACK + 1 bars
WARMUP_BARS = LOOKBACK + 1


class FeatureWindow:
    """One symbol's recent closes and volumes; ``push`` returns the features or None."""

    __slots__ = ("closes", "volumes")

    def __init__(self) -> None:
        self.closes: deque[float] = deque(maxlen=LOOKBACK + 1)
        self.volumes: deque[float] = deque(maxlen=LOOKBACK)

    def push(self, bar: Bar) -> list[float] | None:
        closes, volumes = self.closes, self.volumes
        close = bar.close
        closes.append(close)
        ready = len(closes) > LOOKBACK
        features = None
        if ready:
            n = len(volumes)
            mean = sum(volumes) / n
            var = sum((v - mean) * (v - mean) for v in volumes) / n
            std = math.sqrt(var)
            volume_z = (bar.volume - mean) / std if std > 0.0 else 0.0
            features = [
                math.log(close / closes[-2]),
                math.log(close / closes[-6]),
                math.log(close / closes[0]),
                (bar.high - bar.low) / close,
                max(-10.0, min(10.0, volume_z)),
            ]
        volumes.append(bar.volume)
        return features
