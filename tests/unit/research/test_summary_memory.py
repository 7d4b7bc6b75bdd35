"""The summary's per-bar series at the end of a long replay: the equal-weight basket and the
exposure ratios are compact arrays (8 bytes a value), not lists of float objects (32 bytes
and more a value). Measured as tracemalloc's peak while ``performance`` computes the
metrics for two lengths of the same run (allocation sizes, not time)."""

from __future__ import annotations

import tracemalloc

from quantbot.domain.values import Bar
from quantbot.research.summary import ReplayTally, performance
from quantbot.research.trades import RoundTrips

MINUTE = 60 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
BOUND = 16  # bytes a bar: 8 now; the lists of floats of before took 33


def peak_bytes(bars: int) -> tuple[int, dict]:
    tally = ReplayTally()
    for i in range(bars):
        close = 100.0 + (i % 89) * 0.01
        tally.note_batch([Bar("AAA", T0 + i * MINUTE, close, close, close, close, 1.0)], 1e3, None)
        tally.gross[-1] = 500.0  # a position held: the exposure ratios have a value a bar
    tracemalloc.start()
    try:
        result = performance(tally, RoundTrips())
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def test_the_metrics_of_a_longer_run_need_a_few_bytes_more_a_bar() -> None:
    short, long = 20_000, 80_000
    small, _ = peak_bytes(short)
    large, result = peak_bytes(long)
    assert result["metrics"]["avg_gross_exposure_pct"] == 50.0  # every bar counted
    per_bar = (large - small) / (long - short)
    assert per_bar < BOUND, f"{per_bar:.0f} bytes a bar while the metrics are computed"
