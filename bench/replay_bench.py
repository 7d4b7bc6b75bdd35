"""Replay benchmark: seeded 1-minute bars of one symbol through quantbot's full pipeline, and
the identical strategy in backtrader and backtesting.py on the identical bars.

    python -m bench.replay_bench [--bars N ...] [--repeat R] [--no-compare] [--profile]

quantbot runs the plain EMA(10)/EMA(30) stop-and-reverse sleeve of ``bench.strategies``
through the daemon `quantbot replay` builds, played as it plays it (every gate, the journal,
the embedded venue's book, one decision record per bar, the summary and report at the end),
with the config overrides listed in the report. The bars are generated once into a file;
every run is a fresh interpreter (``--child``) that loads them in its engine's own form
(quantbot: float columns turned into ``Bar`` objects one at a time, as a feed does; the
others: a pandas DataFrame), so each peak RSS is that engine's alone. Runs are interleaved
across engines, so load on this shared machine hits them alike, and the report quotes
medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import math
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

import orjson

# Only what every engine's run needs: a reference engine's peak RSS must not carry quantbot.
from bench import instructions as ins
from bench import strategies as st
from bench.provenance import finish, report_head
from bench.replay_targets import scaling, targets
from bench.round_trip import ROUND_TRIP, round_trips

DEFAULT_BARS = (300_000, 1_000_000)
DEFAULT_OUT = Path("runtime/bench/replay_report.json")
INTERVAL_S = 60
START_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
WARMUP_BARS = 1_000  # timed, but left out of the latency percentiles
ROUND_TRIP_BARS = 100_000  # the round-trip run's length at most (it times each batch's CPU)
COLUMNS = ("Open", "High", "Low", "Close", "Volume")  # float64, one column after the other
CHILD_TIMEOUT_S = 1_800
# quantbot again with deadband 0: every bar through every stage (sizer, limits, entry rules,
# liquidity), same trades. Reported beside the headline run (the config as shipped).
WORST_CASE = "quantbot_deadband_0"
FIGURES = (
    *("bars_per_s", "wall_s", "peak_rss_mb", "input_rss_mb"),
    *("cpu_s", "bars_per_cpu_s", "run_rss_mb"),
)
LATENCIES = tuple(f"{w}_{q}_us" for w in ("step", "batch") for q in ("p50", "p99", "p99_9"))


def write_bars(path: Path, bars: int, symbol: str, seed: int) -> None:
    """Generate ``bars`` seeded synthetic 1-minute bars into ``path`` (float64 columns)."""
    from quantbot.marketdata.synthetic import SyntheticMarket

    market = SyntheticMarket(symbols=[symbol], seed=seed, interval_s=INTERVAL_S)
    columns = [array("d") for _ in COLUMNS]
    for i in range(bars):
        (bar,) = market.next_bars(START_NS + i * INTERVAL_S * 1_000_000_000)
        for column, value in zip(
            columns, (bar.open, bar.high, bar.low, bar.close, bar.volume), strict=True
        ):
            column.append(value)
    with path.open("wb") as f:
        for column in columns:
            column.tofile(f)


def read_columns(path: Path, bars: int) -> list[array]:
    """The first ``bars`` bars of ``path``, one ``array('d')`` per column."""
    total = path.stat().st_size // (8 * len(COLUMNS))
    if not 0 < bars <= total:
        raise ValueError(f"{path} holds {total} bars, {bars} asked for")
    columns = []
    with path.open("rb") as f:
        for _ in COLUMNS:
            column = array("d")
            column.fromfile(f, total)
            columns.append(column[:bars])
    return columns


def read_frame(path: Path, bars: int) -> Any:
    """The same bars as a pandas DataFrame indexed by bar open time."""
    import numpy as np
    import pandas as pd

    columns = read_columns(path, bars)
    index = pd.date_range(pd.Timestamp(START_NS), periods=bars, freq=f"{INTERVAL_S}s")
    data = {n: np.frombuffer(c, dtype=np.float64) for n, c in zip(COLUMNS, columns, strict=True)}
    return pd.DataFrame(data, index=index, copy=True)


def _mb(field: str) -> float:
    """VmRSS / VmHWM of this process in MB (Linux); elsewhere the ru_maxrss peak."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_config(path: Path, *, deadband_zero: bool = False) -> tuple[Any, dict[str, Any], str]:
    """The config at ``path`` with the benchmark's overrides, the overrides, and its hash."""
    from quantbot.config.schema import load_config

    loaded = load_config(path)
    config = loaded.config
    changes = st.overrides(
        config.run.trading_profile, config.market.symbols[0], deadband_zero=deadband_zero
    )
    return st.apply_overrides(config, changes), changes, loaded.hash


def percentile(ordered: list[int], q: float) -> int:
    """Nearest-rank percentile of an already sorted list (as in the pipeline bench)."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))]


def _latencies(name: str, samples: array) -> dict[str, float]:
    timed = sorted(samples[min(WARMUP_BARS, len(samples) // 2) :])
    quantiles = (("p50", 50), ("p99", 99), ("p99_9", 99.9))
    return {f"{name}_{k}_us": round(percentile(timed, q) / 1e3, 2) for k, q in quantiles}


def _tenths(samples: array) -> list[float]:
    """Mean on_batch time (µs) in each tenth of the run: does a bar get dearer as it goes?"""
    size = max(1, len(samples) // 10)
    chunks = [samples[i : i + size] for i in range(0, size * 10, size)]
    return [round(sum(c) / len(c) / 1e3, 1) for c in chunks if c]


def _profile(profiler: cProfile.Profile, top: int = 30) -> dict[str, Any]:
    """The heaviest functions by own and by cumulative time, as shares of on_batch."""
    raw = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [
        {
            "function": f"{Path(path).name}:{line}({func})",
            "calls": calls,
            "tottime_s": round(tottime, 3),
            "cumtime_s": round(cumtime, 3),
        }
        for (path, line, func), (_, calls, tottime, cumtime, _) in raw.items()
    ]
    loop = max((r["cumtime_s"] for r in rows if "(on_batch)" in r["function"]), default=0.0)
    for r in rows:
        r["tottime_pct"] = round(100 * r["tottime_s"] / loop, 1) if loop else None
        r["cumtime_pct"] = round(100 * r["cumtime_s"] / loop, 1) if loop else None
    by = {
        k: sorted(rows, key=lambda r, k=k: r[k], reverse=True)[:top]
        for k in ("tottime_s", "cumtime_s")
    }
    return {
        "on_batch_s": loop,
        "top_by_own_time": by["tottime_s"],
        "top_by_cumulative_time": by["cumtime_s"],
    }


def _run_async(coro: Any) -> Any:
    try:  # the event loop `quantbot replay` runs on
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def child(engine: str, data: Path, bars: int, config: Path, **options: bool) -> dict[str, Any]:
    """One run of ``engine`` on the first ``bars`` bars of ``data``: its executions, wall time
    and peak RSS during the run (its input resident, loaded before the peak is reset)."""
    profiler = cProfile.Profile() if options.get("profile") else None
    if engine == "quantbot":
        cfg, _, _ = bench_config(config, deadband_zero=options.get("deadband_zero", False))
        loaded: Any = read_columns(data, bars)
    else:
        loaded = read_frame(data, bars)
    with contextlib.suppress(OSError):  # Linux: "5" resets VmHWM, the peak becomes the run's
        Path("/proc/self/clear_refs").write_text("5")
    input_rss = _mb("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    if engine == "quantbot":
        kwargs = {"start_ns": START_NS, "interval_s": INTERVAL_S, "profiler": profiler,
                  "round_trip": options.get("round_trip", False)}  # fmt: skip
        result = _run_async(st.run_quantbot(cfg, loaded, **kwargs))
    else:
        result = st.RUNNERS[engine](loaded)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    executions = result.pop("executions")
    samples_mb = 0.0  # quantbot's latency samples, resident at the peak, not the engine's
    if engine == "quantbot":
        batch_ns = result.pop("batch_ns")
        if "sent" in result:  # --round-trip: the order round trip's figures (bench.round_trip)
            per_batch = (result.pop(k) for k in ("batch_cpu_ns", "sent", "filled"))
            warmup = min(WARMUP_BARS, len(batch_ns) // 2)
            result["round_trip"] = round_trips(batch_ns, *per_batch, warmup)
        samples_mb = sum(len(a) * a.itemsize for a in (batch_ns, result["step_ns"])) / 2**20
        result.update(_latencies("step", result.pop("step_ns")) | _latencies("batch", batch_ns))
        result["batch_mean_us_by_tenth"] = _tenths(batch_ns)
        if profiler is not None:
            result["profile"] = _profile(profiler)
    return {
        "engine": engine,
        "bars": bars,
        "wall_s": round(wall, 3),
        "bars_per_s": round(bars / wall, 1),
        "cpu_s": round(cpu, 3),
        "bars_per_cpu_s": round(bars / cpu, 1),
        "peak_rss_mb": (peak := _mb("VmHWM")),
        "input_rss_mb": input_rss,
        "run_rss_mb": round(peak - input_rss - samples_mb, 1),
        "trades": len(executions),
        "executions": executions,
        **result,
    }


def run_json_child(module: str, args: list[str], what: str) -> tuple[dict[str, Any], str]:
    """``python -m module *args`` in a fresh interpreter that can import this checkout: the
    JSON object on its last stdout line, and its stderr."""
    root = str(Path(__file__).resolve().parent.parent)
    paths = [root, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False, env=env,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{what} run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return orjson.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def _round_trip(data: Path, bars: int, config: Path) -> dict[str, Any]:
    """The order round trip in a replay (``bench.round_trip``): the sending batch plus the
    filling batch, wall and thread CPU. A replay fsyncs nothing per order
    (``records.durability.REPLAY``), so this is the work itself; the pipeline bench gives the
    same pair with paper mode's durable writes."""
    run = run_child("quantbot", data, bars, config, "--round-trip")
    return {"bars": bars, "definition": ROUND_TRIP, **run["round_trip"]}


def run_child(engine: str, data: Path, bars: int, config: Path, *flags: str) -> dict[str, Any]:
    """``child`` in a fresh interpreter (``python -m bench.replay_bench --child ...``)."""
    args = ["--child", engine, "--data", str(data), "--bars", str(bars), "--config", str(config)]
    return run_json_child("bench.replay_bench", [*args, *flags], engine)[0]


def _run_engine(engine: str, data: Path, bars: int, config: Path) -> dict[str, Any]:
    """One run of ``engine``; ``WORST_CASE`` is quantbot with deadband 0, labelled as such."""
    if engine != WORST_CASE:
        return run_child(engine, data, bars, config)
    return {**run_child("quantbot", data, bars, config, "--deadband-zero"), "engine": engine}


# -- the report -------------------------------------------------------------------------------


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    first = runs[0]
    keys = FIGURES + (LATENCIES if first["engine"].startswith("quantbot") else ())
    summary = {
        "median": {k: round(statistics.median(r[k] for r in runs), 2) for k in keys},
        "trades": first["trades"],
        "final_position": first["final_position"],
        "same_in_every_run": all(r["executions"] == first["executions"] for r in runs),
        "runs": [{k: v for k, v in r.items() if k not in ("executions", "profile")} for r in runs],
    }
    if "counters" in first:
        summary["counters"] = first["counters"]
    return summary


def agreement(quantbot: list, other: list) -> dict[str, Any]:
    """Do two engines' executions ``(bar index, signed qty)`` agree, in count and one by one?"""
    diff = next((i for i, (a, b) in enumerate(zip(quantbot, other, strict=False)) if a != b), None)
    if diff is None and len(quantbot) != len(other):
        diff = min(len(quantbot), len(other))
    first = None
    if diff is not None:
        first = {
            "index": diff,
            "quantbot": quantbot[diff : diff + 1],
            "engine": other[diff : diff + 1],
        }
    return {
        "trades": {"quantbot": len(quantbot), "engine": len(other)},
        "trades_agree": len(quantbot) == len(other),
        "executions_identical": diff is None,
        "first_difference": first,
    }


def _workload(bars: int, runs: dict[str, list[dict]], skipped: dict[str, str]) -> dict[str, Any]:
    engines: dict[str, Any] = {name: _summary(r) for name, r in runs.items()}
    engines |= {name: {"skipped": why} for name, why in skipped.items()}
    mine = engines["quantbot"]["median"]
    workload: dict[str, Any] = {"bars": bars, "engines": engines, "agreement": {}, "ratios": {}}
    for name in (n for n in runs if not n.startswith("quantbot")):
        reference = runs["quantbot"][0]["executions"]
        workload["agreement"][name] = agreement(reference, runs[name][0]["executions"])
        theirs = engines[name]["median"]
        ratios = workload["ratios"]
        for figure in ("bars_per_cpu_s", "bars_per_s", "peak_rss_mb"):
            key = f"{figure.removesuffix('_mb')}_vs_{name}"
            ratios[key] = round(mine[figure] / theirs[figure], 3)
        if WORST_CASE in runs:
            worst = engines[WORST_CASE]["median"]
            for figure in ("bars_per_cpu_s", "bars_per_s"):
                ratio = round(worst[figure] / theirs[figure], 3)
                ratios[f"{WORST_CASE}_{figure}_vs_{name}"] = ratio
    if WORST_CASE in runs:
        workload["agreement"][WORST_CASE] = agreement(
            runs["quantbot"][0]["executions"], runs[WORST_CASE][0]["executions"]
        )
    return workload


def _settings(config: Any, changes: dict[str, Any], repeat: int, seed: int) -> dict[str, Any]:
    from quantbot.records.durability import REPLAY

    return {
        "strategy": f"EMA({st.FAST})/EMA({st.SLOW}) stop-and-reverse, 1 unit, market orders "
        "filled at the next bar's open, no commission or slippage",
        "symbol": config.market.symbols[0],
        "seed": seed,
        "interval_s": INTERVAL_S,
        "repeat": repeat,
        "profile": config.run.trading_profile,
        "overrides": changes,
        "wiring": "`quantbot replay`'s own: research.replay.replay_daemon (the daemon a paper "
        "run builds, on the embedded venue, its book in the run's state dir) and play() per "
        "bar, the summary and report.html at the end; the sleeve is the built-in ema_sar "
        "declared by the overrides, only the decision step's sizer is the benchmark's",
        "sizer": "bench.strategies.UnitSizer (one unit) in place of the base sizer",
        "fsync": "as `quantbot replay` (records.durability.REPLAY): every file buffered, "
        f"flushed every {REPLAY.flush_every_steps} bars, fsync'd every "
        f"{REPLAY.fsync_every_steps} bars and at close; nothing fsync'd per record",
        "deadband": f"the profile's ({config.profile.deadband}, as shipped); "
        f"{WORST_CASE}: 0, every bar through every stage, same trades",
        "latency": "step: DecisionStep.step alone; batch: the whole play() (clock, "
        "on_batch, the summary's tally); "
        f"perf_counter_ns; the first {WARMUP_BARS} bars left out",
        "throughput": "bars / wall time of the run: quantbot's daemon start, replay loop (Bar "
        "construction included), close, summary and report; the others' setup, run and end "
        "statistics",
        "peak_rss": "VmHWM of the run's own interpreter, reset once its input was loaded (the "
        "input stays resident: quantbot float columns, the others a DataFrame); quantbot's "
        "includes its latency samples (16 bytes a bar)",
    }


def run_benchmark(
    bars: list[int],
    *,
    repeat: int = 3,
    out: Path = DEFAULT_OUT,
    config_path: Path = Path("config.toml"),
    seed: int | None = None,
    compare: bool = True,
    profile: bool = False,
    worst_case: bool = True,
    instructions: tuple[int, int] | None = None,
    round_trip: bool = True,
) -> dict[str, Any]:
    """Run every workload ``repeat`` times (engines interleaved; the reference engines on the
    first workload only), count instructions per bar under callgrind when ``instructions``
    (bars, base bars) is given, write the report to ``out`` and return it."""
    config, changes, config_hash = bench_config(config_path)
    seed = config.market.seed if seed is None else seed
    skipped = st.missing_engines() if compare else dict.fromkeys(st.ENGINES, "--no-compare")
    report: dict[str, Any] = {
        **report_head("replay"),
        "config": {"path": str(config_path), "hash": config_hash},
        "engine_versions": {e: st.engine_version(e) for e in st.ENGINES if e not in skipped},
        "settings": _settings(config, changes, repeat, seed),
        "workloads": [],
    }
    with tempfile.TemporaryDirectory(prefix="quantbot-replay-bars-") as tmp:
        data = Path(tmp) / "bars.f64"
        longest = max(*bars, instructions[0] if instructions else 0)
        write_bars(data, longest, config.market.symbols[0], seed)
        for index, n in enumerate(bars):
            engines = ["quantbot"]
            if index == 0:
                engines += [WORST_CASE] if worst_case else []
                engines += [e for e in st.ENGINES if e not in skipped]
            runs: dict[str, list[dict]] = {e: [] for e in engines}
            for _ in range(repeat):
                for engine in engines:
                    runs[engine].append(_run_engine(engine, data, n, config_path))
            report["workloads"].append(_workload(n, runs, skipped if index == 0 else {}))
        if profile:
            run = run_child("quantbot", data, bars[0], config_path, "--profile")
            report["profile"] = {"bars": bars[0], **run["profile"]}
        if round_trip:
            report["round_trip"] = _round_trip(data, min(bars[0], ROUND_TRIP_BARS), config_path)
        if instructions is None:
            report["instructions"] = {"skipped": "not asked for (--no-instructions)"}
        else:
            count, base = instructions
            report["instructions"] = ins.measure(data, config_path, bars=count, base=base)
    report["scaling"] = scaling(report["workloads"])
    report["targets"] = targets(report["workloads"])
    finish(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str))
    return report


def format_table(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        f"replay bench: {s['strategy']}; median of {s['repeat']} run(s)",
        f"{'bars':>9} {'engine':<20}{'trades':>8}{'bars/CPU-s':>11}{'bars/s':>9}{'CPU s':>8}"
        f"{'RSS MB':>8}{'step µs p50 / p99 / p99.9':>28}",
    ]
    for w in report["workloads"]:
        for name, e in w["engines"].items():
            if "skipped" in e:
                lines.append(f"{w['bars']:>9} {name:<20}skipped: {e['skipped']}")
                continue
            m = e["median"]
            lat = (
                f"{m['step_p50_us']} / {m['step_p99_us']} / {m['step_p99_9_us']}"
                if "step_p50_us" in m
                else ""
            )
            lines.append(
                f"{w['bars']:>9} {name:<20}{e['trades']:>8}{m['bars_per_cpu_s']:>11.0f}"
                f"{m['bars_per_s']:>9.0f}{m['cpu_s']:>8.1f}{m['peak_rss_mb']:>8.1f}{lat:>28}"
            )
        if w["ratios"]:
            lines.append(
                f"{'':>10}ratios: " + ", ".join(f"{k} {v}" for k, v in w["ratios"].items())
            )
        for name, a in w["agreement"].items():
            same = "identical" if a["executions_identical"] else f"DIFFER {a['first_difference']}"
            lines.append(
                f"{'':>10}trades quantbot {a['trades']['quantbot']}, {name} "
                f"{a['trades']['engine']}: executions {same}"
            )
    scaled = report.get("scaling")
    if scaled:
        lines.append(f"scaling, quantbot {scaled['bars'][1]} vs {scaled['bars'][0]} bars:")
        for figure in ("bars_per_cpu_s", "bars_per_s", "peak_rss_mb", "run_rss_mb"):
            f = scaled[figure]
            lines.append(f"  {figure:<16}{f['smallest']:>10} -> {f['largest']:>10}  x{f['ratio']}")
    counted = report.get("instructions", {})
    if "skipped" in counted:
        lines.append(f"instructions per bar: skipped: {counted['skipped']}")
    elif counted:
        lines.append(
            f"instructions per bar ({counted['bars']}-bar replay, callgrind): "
            f"{counted['per_bar']:,} (whole run / bars: {counted['per_bar_whole_run']:,})"
        )
    if trip := report.get("round_trip"):
        lines.append(
            f"order round trip µs in a replay ({trip['bars']} bars, {trip['round_trips']} "
            f"orders, no fsync) p50 / p99, wall: {trip['round_trip_p50_us']} / "
            f"{trip['round_trip_p99_us']}, CPU: {trip['round_trip_cpu_p50_us']} / "
            f"{trip['round_trip_cpu_p99_us']}; plain batch CPU p50 {trip['plain_cpu_p50_us']}"
        )
    lines.append("targets:")
    for t in report["targets"]:
        state = "met" if t["met"] else "MISSED"
        lines.append(
            f"  {t['target']:<50}{t['value']:>9} {t['op']} {t['limit']:<7}{state:<8}{t['where']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replay_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--bars",
        type=int,
        nargs="+",
        default=list(DEFAULT_BARS),
        help="workload sizes (default: 300000 1000000); the first is compared",
    )
    add("--repeat", type=int, default=3, help="runs per engine and workload (median quoted)")
    add("--out", type=Path, default=DEFAULT_OUT)
    add("--config", type=Path, default=Path("config.toml"))
    add("--seed", type=int, help="synthetic market seed (default: the config's)")
    add("--no-compare", action="store_true", help="quantbot only, no reference engines")
    add("--profile", action="store_true", help="also cProfile a quantbot run of the first size")
    add("--deadband-zero", action="store_true", help=argparse.SUPPRESS)  # a child's worst case
    add(
        "--no-round-trip",
        action="store_true",
        help="skip the order round-trip run (a quantbot run of the first size, at most "
        f"{ROUND_TRIP_BARS} bars, timing each batch's CPU too)",
    )
    add("--round-trip", action="store_true", help=argparse.SUPPRESS)  # that run, as a child
    add("--no-worst-case", action="store_true", help="skip the deadband-0 quantbot run")
    add(
        "--instructions-bars",
        type=int,
        nargs=2,
        default=[ins.DEFAULT_BARS, ins.DEFAULT_BASE],
        metavar=("BARS", "BASE"),
        help="callgrind instructions per bar: (count(BARS) - count(BASE)) / (BARS - BASE) "
        "(default: 20000 2000; skipped when valgrind is not installed)",
    )
    add("--no-instructions", action="store_true", help="skip the callgrind count")
    add("--child", choices=("quantbot", *st.ENGINES), help=argparse.SUPPRESS)
    add("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.bars) < 1 or args.repeat < 1:
        parser.error("--bars and --repeat must be >= 1")
    if not 0 < args.instructions_bars[1] < args.instructions_bars[0]:
        parser.error("--instructions-bars needs 0 < BASE < BARS")
    if args.child:
        options = {
            "profile": args.profile,
            "deadband_zero": args.deadband_zero,
            "round_trip": args.round_trip,
        }
        result = child(args.child, args.data, args.bars[0], args.config, **options)
        sys.stdout.write(orjson.dumps(result, default=str).decode() + "\n")
        return 0
    report = run_benchmark(
        args.bars,
        repeat=args.repeat,
        out=args.out,
        config_path=args.config,
        seed=args.seed,
        compare=not args.no_compare,
        profile=args.profile,
        worst_case=not args.no_worst_case,
        round_trip=not args.no_round_trip,
        instructions=None if args.no_instructions else tuple(args.instructions_bars),
    )
    print(format_table(report))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
