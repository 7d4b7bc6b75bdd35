"""`quantbot walk-forward`'s engines on a fixed grid: serial against local worker processes.

    python -m bench.walk_forward_bench [--workers N] [--rounds R] [--out PATH]
    (the last step of make bench)

A 16-point grid (trend fast x slow, 4 x 4) over 12 rolling folds of the shared daily bars
(AAPL, IBM, MSFT; 250-bar train, 60-bar test and step, 5 embargo, 10 horizon): 192 in-sample
and 12 out-of-sample replays. Each round runs it serially, on local workers started from
nothing, and again on those workers (warm); the report gives the medians of each: wall time,
CPU time, the speed-up, the per-task overhead of the engine ((warm parallel wall x workers -
serial wall) / tasks, and as a share of a serial task), the once-per-run cost of starting the
workers (cold less warm), both together per task, and the peak RSS (VmHWM) of this process and
of the largest worker. Every run must write the same bytes; the bench fails otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
DAILY = REPO.parent / "shared" / "data" / "daily"
GRID = "[trend]\nfast = [3, 5, 8, 12]\nslow = [20, 30, 40, 60]\n"
DEFAULT_OUT = Path("runtime/bench/walk_forward_report.json")


def _hwm_kib(pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _workers() -> tuple[int, float]:
    """The largest VmHWM (KiB) of this process's loky workers (still alive: loky keeps them
    idle) and their CPU seconds (user + system) in all."""
    me, peaks, cpu = str(os.getpid()), [0], 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        parent = stat.rsplit(")", 1)[1].split()[1]
        if parent == me and b"LokyProcess" in cmdline:
            peaks.append(_hwm_kib(proc.name))
            fields = stat.rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return max(peaks), cpu


def run(workers: int, rounds: int) -> dict[str, Any]:
    from joblib.externals.loky import get_reusable_executor
    from loguru import logger

    from quantbot.config.schema import load_config
    from quantbot.research.walk_forward import folds, grid
    from quantbot.research.walk_forward.walk import WalkRequest, run_walk, timeline

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    loaded = load_config(REPO / "config.toml")
    with tempfile.TemporaryDirectory() as tmp:
        grid_path = Path(tmp) / "grid.toml"
        grid_path.write_text(GRID)
        spec = folds.FoldSpec(
            folds.Span(250, False), folds.Span(60, False), folds.Span(60, False),
            embargo=5, horizon=10,
        )  # fmt: skip
        data = tuple(DAILY / f for f in ("AAPL.csv", "IBM.csv", "MSFT.csv"))
        span = 250 + 5 + 12 * 60  # bar days of 12 folds
        days = timeline(WalkRequest(data=data, symbols=(), spec=spec, points=()))
        base = WalkRequest(
            data=data,
            date_to=days[span - 1],
            symbols=(),
            spec=spec,
            points=tuple(grid.load(grid_path)),
            workers=workers,
        )
        wall: dict[str, list[float]] = {"serial": [], "local": [], "local_warm": []}
        cpu: dict[str, list[float]] = {k: [] for k in wall}
        outputs: dict[str, dict[str, bytes]] = {}
        for _ in range(rounds):  # interleaved: a burst of load on the machine hits all three
            # A new executor: the local run below starts its workers from nothing.
            get_reusable_executor(max_workers=workers, reuse=False)
            worker_cpu = 0.0
            for kind, times in wall.items():  # local_warm: the walk again on local's workers
                request = _evolve(base, kind.split("_")[0], Path(tmp) / kind)
                started, cpu_started = time.perf_counter(), time.process_time()
                result = run_walk(loaded, request)
                times.append(time.perf_counter() - started)
                used = time.process_time() - cpu_started
                if kind != "serial":
                    before, worker_cpu = worker_cpu, _workers()[1]
                    used += worker_cpu - before
                cpu[kind].append(used)
                outputs[kind] = {p.name: p.read_bytes() for p in sorted(result.out_dir.iterdir())}
                n_folds = len(result.summary["folds"])
                n_tasks = n_folds * (len(base.points) + 1)
        worker_kib = _workers()[0]
    if not outputs["serial"] == outputs["local"] == outputs["local_warm"]:
        raise SystemExit("walk-forward bench: serial and local outputs differ")
    med = {k: statistics.median(v) for k, v in wall.items()}
    serial, local, warm = med["serial"], med["local"], med["local_warm"]
    task = serial / n_tasks
    overhead = (warm * workers - serial) / n_tasks
    overhead_cold = (local * workers - serial) / n_tasks
    return {
        "folds": n_folds,
        "grid_points": len(base.points),
        "tasks": n_tasks,
        "bar_days": span,
        "to": str(days[span - 1]),
        "workers": workers,
        "rounds": rounds,
        # Medians over the rounds (each round: serial, local from cold, local again warm).
        "serial_wall_s": round(serial, 3),
        "local_wall_s": round(local, 3),
        "local_warm_wall_s": round(warm, 3),
        "speed_up": round(serial / local, 3),
        "speed_up_warm": round(serial / warm, 3),
        "serial_task_s": round(task, 4),
        # What the engine adds to each task once its workers run: (warm wall x workers -
        # serial wall) / tasks, and as a share of a serial task.
        "overhead_per_task_s": round(overhead, 4),
        "overhead_share_of_task": round(overhead / task, 4),
        # What starting the workers adds to a run, once (spawn, imports, the first read of
        # the bars): the cold local run's wall less the warm one's.
        "worker_start_s": round(local - warm, 3),
        # Both together, spread over the tasks of this run.
        "overhead_per_task_with_start_s": round(overhead_cold, 4),
        "overhead_share_with_start": round(overhead_cold / task, 4),
        # CPU seconds (medians): the serial run's, and each local run's parent plus its
        # workers. Close together: the tasks cost the same CPU in workers; a speed-up short
        # of the worker count then comes from cores other processes are using.
        "serial_cpu_s": round(statistics.median(cpu["serial"]), 3),
        "local_cpu_s": round(statistics.median(cpu["local"]), 3),
        "local_warm_cpu_s": round(statistics.median(cpu["local_warm"]), 3),
        "wall_s_each_round": {k: [round(x, 3) for x in v] for k, v in wall.items()},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "parent_peak_rss_mib": round(_hwm_kib() / 1024, 1),
        "worker_peak_rss_mib": round(worker_kib / 1024, 1),
        "identical_outputs": True,
    }


def _evolve(base: Any, engine: str, out_root: Path) -> Any:
    import attrs

    return attrs.evolve(base, engine=engine, out_root=out_root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.walk_forward_bench", description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    report = run(args.workers, args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    for key, value in report.items():
        print(f"{key:>26}: {value}")
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
