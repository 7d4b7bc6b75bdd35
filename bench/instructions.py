"""Instructions per bar, counted by valgrind's callgrind: deterministic where wall and CPU time
are not, so two commits can be compared on a loaded machine.

The replay bench's own quantbot child (``python -m bench.replay_bench --child quantbot``: the
daemon `quantbot replay` builds, every gate, the journal, one record per bar, the summary and
report at the end) runs under callgrind twice, on the first ``base`` bars and on the first
``bars`` bars of the same file, with ``PYTHONHASHSEED=0``. The interpreter's start-up, the
imports, the daemon's start and close cost the same in both, so

    per bar = (instructions(bars) - instructions(base)) / (bars - base)

is the replay loop's cost per bar (the summary's and report's per-bar share included). The
whole run's count divided by ``bars`` is reported beside it.

    python -m bench.instructions [--bars 20000] [--base 2000] [--data PATH] [--deadband0]

``--deadband0`` measures the worst case instead: quantbot with deadband 0, every bar through
every stage (the replay bench's ``quantbot_deadband_0``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

DEFAULT_BARS = 20_000
DEFAULT_BASE = 2_000  # past the sleeve's warm-up and the first trades
TIMEOUT_S = 3_600
NOT_INSTALLED = "valgrind not installed"


def valgrind_version(valgrind: str) -> str:
    done = subprocess.run([valgrind, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or done.stderr.strip()


def read_total(path: Path) -> int:
    """The event total of a callgrind output file (its ``summary:`` or ``totals:`` line)."""
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"{path}: no summary or totals line (not a callgrind output file?)")


def count(command: list[str], valgrind: str, *, env: dict[str, str] | None = None) -> dict:
    """Instructions executed by ``command`` under callgrind, and the JSON object its stdout
    ends with (``{}`` when it prints none)."""
    with tempfile.TemporaryDirectory(prefix="quantbot-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            capture_output=True, text=True, timeout=TIMEOUT_S, check=False, env=env,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"callgrind run failed (exit {done.returncode}): {' '.join(command)}\n"
                f"{done.stderr[-3000:]}"
            )
        lines = done.stdout.strip().splitlines()
        result = orjson.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        return {"instructions": read_total(out), "result": result}


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    paths = [root, *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "PYTHONHASHSEED": "0"}


def measure(
    data: Path,
    config: Path,
    *,
    bars: int = DEFAULT_BARS,
    base: int = DEFAULT_BASE,
    valgrind: str | None = None,
    deadband_zero: bool = False,
) -> dict[str, Any]:
    """Instructions per bar of the quantbot replay child on ``data`` (the replay bench's bar
    file), or ``{"skipped": ...}`` when valgrind is not on PATH (``valgrind`` overrides)."""
    valgrind = valgrind or shutil.which("valgrind")
    if valgrind is None or shutil.which(valgrind) is None:
        return {"skipped": NOT_INSTALLED}
    if not 0 < base < bars:
        raise ValueError(f"need 0 < base < bars, got base={base} bars={bars}")
    env = _child_env()
    runs = {}
    for n in (base, bars):
        child = ["-m", "bench.replay_bench", "--child", "quantbot", "--data", str(data)]
        child += ["--bars", str(n), "--config", str(config)]
        child += ["--deadband-zero"] if deadband_zero else []
        runs[n] = count([sys.executable, *child], valgrind, env=env)
    whole, fixed = runs[bars]["instructions"], runs[base]["instructions"]
    return {
        "tool": f"{valgrind_version(valgrind)} --tool=callgrind",
        "method": "(instructions(bars) - instructions(base)) / (bars - base): the replay "
        "loop's cost per bar, start-up and close cancelled out; PYTHONHASHSEED=0",
        "bars": bars,
        "base_bars": base,
        "deadband_zero": deadband_zero,
        "instructions": whole,
        "base_instructions": fixed,
        "per_bar": round((whole - fixed) / (bars - base)),
        "per_bar_whole_run": round(whole / bars),
        "trades": runs[bars]["result"].get("trades"),
        "base_trades": runs[base]["result"].get("trades"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bars", type=int, default=DEFAULT_BARS, help="bars of the measured run")
    parser.add_argument("--base", type=int, default=DEFAULT_BASE, help="bars of the base run")
    parser.add_argument("--data", type=Path, help="bar file (default: seeded, as the bench's)")
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--seed", type=int, help="synthetic market seed (default: the config's)")
    parser.add_argument(
        "--deadband0", action="store_true", help="the worst case: deadband 0, every stage per bar"
    )
    args = parser.parse_args(argv)
    if not 0 < args.base < args.bars:
        parser.error("need 0 < --base < --bars")
    from bench import replay_bench as rb

    with tempfile.TemporaryDirectory(prefix="quantbot-callgrind-bars-") as tmp:
        data = args.data
        if data is None:
            config, _, _ = rb.bench_config(args.config)
            seed = config.market.seed if args.seed is None else args.seed
            data = Path(tmp) / "bars.f64"
            rb.write_bars(data, args.bars, config.market.symbols[0], seed)
        result = measure(
            data, args.config, bars=args.bars, base=args.base, deadband_zero=args.deadband0
        )
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
