"""The replay bench's verdicts: the issue's targets, each met or missed, and how quantbot's
throughput and memory scale from the smallest workload to the largest."""

from __future__ import annotations

from typing import Any

# The issue's, on this machine class. Throughput ratios are taken on CPU time (bars per
# CPU-second of each engine's own process): the machine is shared and loaded, and wall time
# carries other processes' load; the wall-time ratios are reported beside them.
TARGETS = {
    "bars_per_cpu_s_vs_backtesting": (">=", 0.5),  # aim: 1.0
    "bars_per_cpu_s_vs_backtrader": (">=", 3.0),
    "quantbot_deadband_0_bars_per_cpu_s_vs_backtesting": (">=", 0.25),
    "bars_per_cpu_s_largest_vs_smallest": (">=", 0.9),  # within 10%
    "run_rss_largest_vs_smallest": ("<=", 1.1),  # flat in the number of orders
    "peak_rss_vs_backtesting": ("<=", 1.3),
    "step_p50_us": ("<=", 10.0),
    "step_p99_us": ("<=", 50.0),
    "step_p99_9_us": ("<=", 250.0),
}


def scaling(workloads: list[dict[str, Any]]) -> dict[str, Any] | None:
    """quantbot's figures at the smallest and the largest workload, and largest / smallest:
    throughput (CPU and wall), peak RSS, and the run's own RSS (peak less the resident input
    and the latency samples, which grow with the bars by construction), beside the trades."""
    if len(workloads) < 2:
        return None
    small, large = (w["engines"]["quantbot"] for w in (workloads[0], workloads[-1]))
    result: dict[str, Any] = {"bars": [workloads[0]["bars"], workloads[-1]["bars"]]}
    result["trades"] = [small["trades"], large["trades"]]
    for figure in ("bars_per_cpu_s", "bars_per_s", "peak_rss_mb", "run_rss_mb", "input_rss_mb"):
        a, b = small["median"][figure], large["median"][figure]
        result[figure] = {"smallest": a, "largest": b, "ratio": round(b / a, 3) if a else None}
    return result


def targets(workloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each of the issue's targets that this report measured: value, limit, met or not."""
    rows = []

    def add(name: str, value: float, where: str) -> None:
        op, limit = TARGETS[name]
        met = value >= limit if op == ">=" else value <= limit
        rows.append(
            {"target": name, "where": where, "value": value, "op": op, "limit": limit, "met": met}
        )

    for w in workloads:
        where = f"{w['bars']} bars"
        for name, value in w["ratios"].items():
            if name in TARGETS:
                add(name, value, where)
        for name in ("step_p50_us", "step_p99_us", "step_p99_9_us"):
            add(name, w["engines"]["quantbot"]["median"][name], where)
    scaled = scaling(workloads)
    if scaled is not None:
        where = f"{scaled['bars'][1]} vs {scaled['bars'][0]} bars"
        add("bars_per_cpu_s_largest_vs_smallest", scaled["bars_per_cpu_s"]["ratio"], where)
        add("run_rss_largest_vs_smallest", scaled["run_rss_mb"]["ratio"], where)
    return rows
