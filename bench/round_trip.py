"""An order's round trip on the paper venue, from the pipeline bench's per-batch timings.

A bar that sends an order (the venue accepted one during its ``on_batch``; an intent refused
by a gate sends nothing and does not count) decides, journals the INTENT (durable before the
submit in paper), reserves, submits to the embedded venue and records. The venue fills it when
it next matches: at the start of the next batch under the shipped ``next_open`` fill model (the
one this pairing is for), where the fill is journaled, booked in the ledger and recorded in
TCA. So

    round trip = on_batch time of the sending batch + on_batch time of the first later batch
                 with a fill

Each is reported twice: in wall time (what the order waits: the INTENT's fsync included, which
on a shared disk is most of it) and in CPU time of the event loop's thread (``thread_time_ns``,
kernel time included: the work itself, what a change to the pipeline moves). The filling batch
also decides its own bar: ``plain_p50_us`` (batches that neither sent nor filled) is reported
beside it, so that share can be read off. A send with no fill within ``FILL_WINDOW`` batches
(a limit that never filled) is counted as ``round_trips_unfilled`` and left out.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

QUANTILES = (("p50", 50), ("p99", 99), ("p99_9", 99.9))
FILL_WINDOW = 5  # batches after the send in which its fill must arrive to be paired
ROUND_TRIP = (
    "on_batch of the batch that sent an order + on_batch of the first later batch with a fill "
    f"(within {FILL_WINDOW}); warm-up excluded; whole batches, not divided by bars; wall "
    "(perf_counter_ns, the INTENT's fsync included) and CPU of the loop's thread (thread_time_ns)"
)


def _pct(ordered: list[int], q: float) -> float:
    """Nearest-rank percentile of a sorted list, ns -> µs."""
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))
    return round(ordered[index] / 1e3, 2)


def _figures(prefix: str, ordered: list[int]) -> dict[str, float]:
    figures = {f"{prefix}_{n}_us": _pct(ordered, q) if ordered else 0.0 for n, q in QUANTILES}
    figures[f"{prefix}_mean_us"] = round(statistics.fmean(ordered) / 1e3, 2) if ordered else 0.0
    return figures


def round_trips(
    batch_ns: array, batch_cpu_ns: array, sent: array, filled: array, warmup: int
) -> dict[str, float]:
    """Round-trip and plain-batch latency figures (µs) from per-batch wall and thread-CPU
    durations (ns), orders sent and fills seen per batch; the first ``warmup`` batches are
    left out."""
    trips: list[int] = []
    trips_cpu: list[int] = []
    plain: list[int] = []
    plain_cpu: list[int] = []
    unfilled = 0
    count = len(batch_ns)
    for i in range(warmup, count):
        if not sent[i]:
            if not filled[i]:
                plain.append(batch_ns[i])
                plain_cpu.append(batch_cpu_ns[i])
            continue
        fill = next((j for j in range(i + 1, min(count, i + 1 + FILL_WINDOW)) if filled[j]), None)
        if fill is None:
            unfilled += 1
            continue
        trips.append(batch_ns[i] + batch_ns[fill])
        trips_cpu.append(batch_cpu_ns[i] + batch_cpu_ns[fill])
    for values in (trips, trips_cpu, plain, plain_cpu):
        values.sort()
    result: dict[str, float] = {
        "round_trips": len(trips),
        "round_trips_unfilled": unfilled,
        "plain_batches": len(plain),
        "plain_p50_us": _pct(plain, 50) if plain else 0.0,
        "plain_cpu_p50_us": _pct(plain_cpu, 50) if plain_cpu else 0.0,
    }
    return result | _figures("round_trip", trips) | _figures("round_trip_cpu", trips_cpu)


class BatchMeter:
    """Per batch: the thread CPU (``thread_time_ns``), orders accepted and fills, read from
    the pipeline's counters around each batch (``start`` before, ``stop`` after): the
    columns ``round_trips`` takes beside the batches' wall times."""

    def __init__(self, counters: Any) -> None:
        self._counters = counters
        self._at = (0, 0, 0)
        self.batch_cpu_ns, self.sent, self.filled = array("q"), array("q"), array("q")

    def start(self) -> None:
        c = self._counters
        self._at = (c.orders_accepted, c.fills, time.thread_time_ns())

    def stop(self) -> None:
        now, (accepted, fills, cpu), c = time.thread_time_ns(), self._at, self._counters
        self.batch_cpu_ns.append(now - cpu)
        self.sent.append(c.orders_accepted - accepted)
        self.filled.append(c.fills - fills)

    def columns(self) -> dict[str, array]:
        return {"batch_cpu_ns": self.batch_cpu_ns, "sent": self.sent, "filled": self.filled}


FSYNC_SAMPLES = 50
FSYNC_FLOOR = (
    f"{FSYNC_SAMPLES} appends of one 200-byte line to a file in the bench's temp dir, each "
    "followed by os.fsync (the journal INTENT's durability before a submit): the floor under a "
    "paper or live round trip's wall time on this disk; wall and thread CPU"
)


def fsync_floor(directory: Path | None = None, samples: int = FSYNC_SAMPLES) -> dict[str, float]:
    """p50/p99 (µs) of an append + fsync, wall and CPU: what one durable line costs here."""
    wall, cpu = [], []
    with tempfile.TemporaryDirectory(dir=directory, prefix="quantbot-fsync-") as tmp:
        fd = os.open(Path(tmp) / "probe.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for _ in range(samples):
                os.write(fd, b"x" * 199 + b"\n")
                started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
                os.fsync(fd)
                cpu.append(time.thread_time_ns() - cpu_started)
                wall.append(time.perf_counter_ns() - started)
        finally:
            os.close(fd)
    wall.sort()
    cpu.sort()
    return {
        "fsync_p50_us": _pct(wall, 50), "fsync_p99_us": _pct(wall, 99),
        "fsync_cpu_p50_us": _pct(cpu, 50), "fsync_cpu_p99_us": _pct(cpu, 99),
    }  # fmt: skip
