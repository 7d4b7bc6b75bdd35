"""Pipeline benchmark: the daemon's paper pipeline, in-process, on a SimClock.

The ``Daemon`` that `quantbot run --execution-mode paper` builds, with its state and runtime
dirs in a temp dir (embedded venue with its book on disk, journal, daily guard, TCA, control
file and socket), fed seeded synthetic 1-minute bars that are generated before the timed
loop in place of its feed task. Per bar time the clock is set to the bar's close, then
``pipeline.on_batch`` is timed. Latency per bar = that time / bars in the batch.

    python -m bench.pipeline_bench [--bars N] [--symbols K] [--repeat R] [--out PATH]

The machine is shared and noisy: every workload runs R times and the report quotes medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import resource
import statistics
import tempfile
import time
from array import array
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import attrs
import orjson

from bench.provenance import finish, report_head
from bench.round_trip import FSYNC_FLOOR, ROUND_TRIP, fsync_floor, round_trips
from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import LoadedConfig, load_config
from quantbot.daemon.daemon import Daemon
from quantbot.domain.values import Bar
from quantbot.marketdata.synthetic import SyntheticMarket

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
    uvloop = None

DEFAULT_WORKLOADS = ((1, 50_000), (3, 20_000))  # (symbols, bars per symbol)
DEFAULT_OUT = Path("runtime/bench/report.json")
WARMUP_BARS = 1_000  # the first bars of each run are timed but left out of the percentiles
INTERVAL_S = 60
START_NS = 1_767_225_600 * NS_PER_S  # 2026-01-01T00:00:00Z: day rotation happens mid-run
FIGURES = (
    *("p50_us", "p99_us", "p99_9_us", "mean_us", "bars_per_s", "wall_s", "peak_rss_mb"),
    *("cpu_s", "bars_per_cpu_s", "plain_p50_us", "plain_cpu_p50_us"),
    *(f"round_trip{c}_{q}_us" for c in ("", "_cpu") for q in ("p50", "p99", "p99_9", "mean")),
)
# The (µs, on the paper venue), in wall time and in the loop thread's CPU time.
TARGETS = {"round_trip_p50_us": 100.0, "round_trip_cpu_p50_us": 100.0}


def _run_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    return uvloop.run(coro) if uvloop is not None else asyncio.run(coro)


def workload_symbols(loaded: LoadedConfig, count: int) -> list[str]:
    names = list(loaded.config.market.symbols)
    names += [f"BENCH{i:03d}" for i in range(len(names), count)]
    return names[:count]


def make_batches(symbols: list[str], bars: int, seed: int) -> list[list[Bar]]:
    market = SyntheticMarket(symbols=symbols, seed=seed, interval_s=INTERVAL_S)
    step_ns = INTERVAL_S * NS_PER_S
    return [market.next_bars(START_NS + i * step_ns) for i in range(bars)]


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))
    return ordered[index]


async def run_once(loaded: LoadedConfig, symbols: list[str], batches: list[list[Bar]]) -> dict:
    clock = SimClock(START_NS)
    with tempfile.TemporaryDirectory(prefix="quantbot-bench-") as tmp:
        config = loaded.config
        config = attrs.evolve(
            config,
            run=attrs.evolve(config.run, state_dir=f"{tmp}/state", runtime_dir=tmp),
            market=attrs.evolve(config.market, symbols=symbols),
        )
        # `quantbot run --execution-mode paper`'s own daemon: its venue book on disk, its
        # journal and daily guard syncing each order before the submit, its control file and
        # socket, its TCA; only the feed task is replaced by this loop.
        daemon = Daemon(
            LoadedConfig(config, loaded.path, loaded.env_keys, loaded.hash),
            execution_mode="paper",
            clock=clock,
            run_id="bench",
        )
        await daemon.start()
        pipeline, written = daemon.parts.pipeline, daemon.parts.services.records
        assert pipeline is not None and written is not None
        interval_ns = INTERVAL_S * NS_PER_S
        perf = time.perf_counter_ns
        counters = pipeline.counters
        samples: list[float] = []
        batch_ns, batch_cpu_ns, sent, filled = (array("q") for _ in range(4))  # per batch
        thread_cpu = time.thread_time_ns
        try:
            loop_start, cpu_start = perf(), time.process_time_ns()
            for batch in batches:
                clock.set(batch[0].ts_ns + interval_ns)
                accepted, fills = counters.orders_accepted, counters.fills
                cpu = thread_cpu()
                start = perf()
                await pipeline.on_batch(batch)
                took = perf() - start
                batch_cpu_ns.append(thread_cpu() - cpu)
                samples.append(took / len(batch))
                batch_ns.append(took)
                sent.append(counters.orders_accepted - accepted)
                filled.append(counters.fills - fills)
            wall_ns, cpu_ns = perf() - loop_start, time.process_time_ns() - cpu_start
        finally:
            await daemon.close()
        records = written.records_written  # the daemon lets go of its writer at close
    warmup = min(math.ceil(WARMUP_BARS / len(symbols)), len(samples) // 2)
    timed = sorted(samples[warmup:])
    wall_s = wall_ns / NS_PER_S
    return {
        **attrs.asdict(counters),
        "orders": counters.intents,
        "records": records,
        "symbols": len(symbols),
        "warmup_bar_times": warmup,
        "p50_us": round(percentile(timed, 50) / 1e3, 2),
        "p99_us": round(percentile(timed, 99) / 1e3, 2),
        "p99_9_us": round(percentile(timed, 99.9) / 1e3, 2),
        "mean_us": round(statistics.fmean(timed) / 1e3, 2),
        "max_us": round(timed[-1] / 1e3, 2),
        "wall_s": round(wall_s, 4),
        "bars_per_s": round(counters.bars / wall_s, 1),
        "cpu_s": round(cpu_ns / NS_PER_S, 4),
        "bars_per_cpu_s": round(counters.bars / (cpu_ns / NS_PER_S), 1),
        **round_trips(batch_ns, batch_cpu_ns, sent, filled, warmup),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets the RSS high-water mark, so ru_maxrss is per run."""
    with contextlib.suppress(OSError):
        return Path("/proc/self/clear_refs").write_text("5") == 1
    return False


def run_benchmark(
    workloads: list[tuple[int, int]],
    *,
    repeat: int = 3,
    out: Path = DEFAULT_OUT,
    config_path: Path = Path("config.toml"),
    seed: int | None = None,
) -> dict[str, Any]:
    loaded = load_config(config_path)
    seed = loaded.config.market.seed if seed is None else seed
    head = report_head("pipeline")
    head["machine"]["event_loop"] = f"uvloop {uvloop.__version__}" if uvloop else "asyncio"
    report: dict[str, Any] = {
        **head,
        "config": {
            "path": str(config_path),
            "hash": loaded.hash,
            "profile": loaded.config.run.trading_profile,
        },
        "settings": {
            "repeat": repeat,
            "seed": seed,
            "interval_s": INTERVAL_S,
            "warmup_bars": WARMUP_BARS,
            "peak_rss": "ru_maxrss, reset per run" if _reset_peak_rss() else "ru_maxrss, process",
            "latency": "on_batch time / bars in batch (perf_counter_ns), warm-up excluded",
            "throughput": "total bars / wall time of the whole loop (warm-up included); "
            "bars_per_cpu_s: over the process's CPU time of the loop (all threads)",
            "round_trip": ROUND_TRIP,
            "fsync": FSYNC_FLOOR,
        },
        "workloads": [],
    }
    for count, bars in workloads:
        symbols = workload_symbols(loaded, count)
        batches = make_batches(symbols, bars, seed)
        runs = []
        for _ in range(repeat):
            gc.collect()
            _reset_peak_rss()
            runs.append(_run_loop(run_once(loaded, symbols, batches)))
        del batches
        median = {k: round(statistics.median(r[k] for r in runs), 2) for k in FIGURES}
        counts = {k: runs[0][k] for k in ("bars", "orders", "fills", "records", "round_trips")}
        counts["same_in_every_run"] = all(r[k] == v for r in runs for k, v in counts.items())
        workload = {"name": f"{count}x{bars}", "symbols": symbols, "bars_per_symbol": bars}
        report["workloads"].append({**workload, "counts": counts, "median": median, "runs": runs})
    report["targets"] = targets(report["workloads"])
    report["fsync"] = fsync_floor()  # the disk's share of the round trip's wall time
    finish(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return report


def targets(workloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's round-trip target (p50, on the paper venue), per workload: met or not."""
    rows = []
    for w in workloads:
        for name, limit in TARGETS.items():
            value = w["median"][name]
            rows.append(
                {"target": name, "where": w["name"], "value": value, "op": "<=", "limit": limit}
                | {"met": value <= limit}
            )
    return rows


def format_table(report: dict[str, Any]) -> str:
    head = (
        f"{'workload':<10}{'bars':>8}{'orders':>8}{'fills':>8}{'records':>9}"
        f"{'p50 µs':>9}{'p99 µs':>9}{'p99.9 µs':>10}{'bars/s':>10}{'RSS MB':>8}"
    )
    lines = [f"pipeline bench, median of {report['settings']['repeat']} run(s)", head]
    for w in report["workloads"]:
        c, m = w["counts"], w["median"]
        lines.append(
            f"{w['name']:<10}{c['bars']:>8}{c['orders']:>8}{c['fills']:>8}{c['records']:>9}"
            f"{m['p50_us']:>9.1f}{m['p99_us']:>9.1f}{m['p99_9_us']:>10.1f}"
            f"{m['bars_per_s']:>10.0f}{m['peak_rss_mb']:>8.1f}"
        )
        lines.append(
            f"{'':<10}order round trip µs p50 / p99 / p99.9, wall: {m['round_trip_p50_us']} / "
            f"{m['round_trip_p99_us']} / {m['round_trip_p99_9_us']}, CPU: "
            f"{m['round_trip_cpu_p50_us']} / {m['round_trip_cpu_p99_us']} / "
            f"{m['round_trip_cpu_p99_9_us']} ({c['round_trips']} orders)"
        )
        lines.append(
            f"{'':<10}plain batch p50 µs, wall {m['plain_p50_us']}, CPU "
            f"{m['plain_cpu_p50_us']}; {m['bars_per_cpu_s']:.0f} bars per CPU-second"
        )
    if f := report.get("fsync"):
        lines.append(
            f"one fsync'd line on this disk µs p50 / p99, wall: {f['fsync_p50_us']} / "
            f"{f['fsync_p99_us']}, CPU: {f['fsync_cpu_p50_us']} / {f['fsync_cpu_p99_us']}"
        )
    for t in report.get("targets", []):
        state = "met" if t["met"] else "MISSED"
        lines.append(f"target {t['target']} {t['value']} <= {t['limit']}: {state} ({t['where']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_bench", description=__doc__)
    parser.add_argument("--bars", type=int, help="bars per symbol (default: 50000 and 20000)")
    parser.add_argument("--symbols", type=int, help="one workload with K symbols instead of 1, 3")
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload (median quoted)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--seed", type=int, help="synthetic market seed (default: config's)")
    args = parser.parse_args(argv)
    for name in ("bars", "symbols", "repeat"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1, got {value}")
    if args.symbols is not None:
        workloads = [(args.symbols, args.bars or DEFAULT_WORKLOADS[-1][1])]
    else:
        workloads = [(k, args.bars or n) for k, n in DEFAULT_WORKLOADS]
    report = run_benchmark(
        workloads, repeat=args.repeat, out=args.out, config_path=args.config, seed=args.seed
    )
    print(format_table(report))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
