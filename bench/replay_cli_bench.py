"""`quantbot replay` as a user runs it: the command on a ccxt OHLCV JSON file, end to end.

    python -m bench.replay_cli_bench [--bars N ...] [--repeat R] [--out PATH]

``bench.replay_bench`` times the replay loop on bars already in memory, beside the other
engines. This one times what a user waits for and what the machine must hold: the command
with the shipped config (its own sleeves and sizer), reading the file, playing it, and
writing the summary and report. Each run is a fresh interpreter (``--child``) that calls the
CLI's ``main`` and reports its wall time and peak RSS (VmHWM: loading included). The bars
are the replay bench's seeded synthetic minute bars, written as a bare JSON array.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench import replay_bench as rb
from bench.provenance import finish, report_head

DEFAULT_BARS = (300_000,)
DEFAULT_OUT = Path("runtime/bench/replay_cli_report.json")
SYMBOL = "SIMAAA"  # the file is SIMAAA-1m.json: the loader takes the symbol from its name
FIGURES = ("wall_s", "bars_per_s", "peak_rss_mb", "file_mb")


def write_json(path: Path, columns_file: Path, bars: int) -> None:
    """The first ``bars`` bars of ``columns_file`` as ``[[ms, o, h, l, c, v], ...]``."""
    opens, highs, lows, closes, volumes = rb.read_columns(columns_file, bars)
    start_ms = rb.START_NS // 1_000_000
    step_ms = rb.INTERVAL_S * 1_000
    rows = [
        [start_ms + i * step_ms, opens[i], highs[i], lows[i], closes[i], volumes[i]]
        for i in range(bars)
    ]
    path.write_bytes(orjson.dumps(rows))


def child(data: Path, out: Path, config: Path) -> dict[str, Any]:
    """One `quantbot replay` in this interpreter: exit status, wall time, peak RSS."""
    from quantbot.cli.main import main

    argv = ["replay", "--data", str(data), "--out", str(out), "--config", str(config)]
    # Run where the replay's output goes: the config's relative runtime_dir (where the
    # command's log is written) is then the temporary one, never the checkout's runtime/.
    os.chdir(out)
    started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries this run's JSON only
        code = main(argv)
    wall = time.perf_counter() - started
    (summary_path,) = out.glob("rp-*/summary.json")
    summary = orjson.loads(summary_path.read_bytes())
    return {
        "exit": code,
        "wall_s": round(wall, 3),
        "peak_rss_mb": rb._mb("VmHWM"),
        "bars": summary["bars"],
        "orders_sent": summary["orders"]["sent"],
    }


def run_child(data: Path, config: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quantbot-replay-cli-") as out:
        args = ["--child", "--data", str(data.resolve()), "--config", str(config.resolve())]
        args += ["--out", str(Path(out).resolve())]
        run, stderr = rb.run_json_child("bench.replay_cli_bench", args, "quantbot replay")
    if run["exit"] != 0:
        raise RuntimeError(f"quantbot replay exited {run['exit']}:\n{stderr[-3000:]}")
    return run


def run_benchmark(
    bars: list[int], *, repeat: int, out: Path, config_path: Path, seed: int | None
) -> dict[str, Any]:
    from quantbot.config.schema import load_config

    loaded = load_config(config_path)
    seed = loaded.config.market.seed if seed is None else seed
    report: dict[str, Any] = {
        **report_head("quantbot replay (the command)"),
        "settings": {
            "command": "quantbot replay --data SIMAAA-1m.json --out <tmp> --config <config>",
            "config": {"path": str(config_path), "hash": loaded.hash},
            "input": "seeded synthetic 1-minute bars of one symbol (bench.replay_bench's), "
            "as a bare ccxt OHLCV JSON array",
            "seed": seed,
            "repeat": repeat,
            "wall_s": "the CLI's main(), from argument parsing to the report written",
            "peak_rss_mb": "VmHWM of the interpreter that ran it: imports, loading, replay, "
            "summary and report",
        },
        "workloads": [],
    }
    with tempfile.TemporaryDirectory(prefix="quantbot-replay-cli-bars-") as tmp:
        columns = Path(tmp) / "bars.f64"
        rb.write_bars(columns, max(bars), SYMBOL, seed)
        for n in bars:
            data = Path(tmp) / f"{SYMBOL}-1m.json"
            write_json(data, columns, n)
            runs = [run_child(data, config_path) for _ in range(repeat)]
            for run in runs:
                run["bars_per_s"] = round(n / run["wall_s"], 1)
                run["file_mb"] = round(data.stat().st_size / 1e6, 3)
            median = {k: round(statistics.median(r[k] for r in runs), 3) for k in FIGURES}
            report["workloads"].append({"bars": n, "median": median, "runs": runs})
    finish(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return report


def format_table(report: dict[str, Any]) -> str:
    lines = [
        f"quantbot replay, the command: median of {report['settings']['repeat']} run(s)",
        f"{'bars':>9}{'file MB':>9}{'wall s':>9}{'bars/s':>9}{'peak RSS MB':>13}",
    ]
    for w in report["workloads"]:
        m = w["median"]
        lines.append(
            f"{w['bars']:>9}{m['file_mb']:>9.1f}{m['wall_s']:>9.1f}{m['bars_per_s']:>9.0f}"
            f"{m['peak_rss_mb']:>13.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_cli_bench", description=__doc__)
    add = parser.add_argument
    add("--bars", type=int, nargs="+", default=list(DEFAULT_BARS), help="default: 300000")
    add("--repeat", type=int, default=3, help="runs per size (median quoted)")
    add("--out", type=Path, default=DEFAULT_OUT)
    add("--config", type=Path, default=Path("config.toml"))
    add("--seed", type=int, help="synthetic market seed (default: the config's)")
    add("--child", action="store_true", help=argparse.SUPPRESS)
    add("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.bars) < 2 or args.repeat < 1:
        parser.error("--bars must be >= 2 and --repeat >= 1")
    if args.child:
        sys.stdout.write(orjson.dumps(child(args.data, args.out, args.config)).decode() + "\n")
        return 0
    report = run_benchmark(
        args.bars, repeat=args.repeat, out=args.out, config_path=args.config, seed=args.seed
    )
    print(format_table(report))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
