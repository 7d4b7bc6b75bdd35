"""`quantbot check-leakage`: prefix invariance and warm-up sensitivity of the configured sleeves
(``research.leakage``). Exit 0 clean, 1 a leak (the first leaking bar named), 2 bad input."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from quantbot.cli.help import documented

EXIT_CLEAN, EXIT_LEAK = 0, 1
DEFAULT_CUTS = 4
# An EMA forgets its start geometrically; the records keep six decimals.
DEFAULT_SETTLE, DEFAULT_TOLERANCE = 250, 1e-5


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from e
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from e
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more")
    return value


def add_parser(sub: Any, with_config: Any) -> None:
    p = with_config(
        sub.add_parser(
            "check-leakage",
            **documented(
                "check the configured sleeves for look-ahead (prefix invariance, warm-up)",
                "quantbot check-leakage",
                "quantbot check-leakage --config config.toml --data ../shared/data/daily/",
                "quantbot check-leakage --config examples/sleeves/donchian.toml --cuts 8",
            ),
        )
    )
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=None,
        help="bar files or directories, as for replay (default: a generated daily series of "
        "600 bars, SYNTH)",
    )
    p.add_argument(
        "--symbols",
        nargs="+",
        default=(),
        help="only these symbols (default: every symbol of the data)",
    )
    p.add_argument(
        "--cuts",
        type=_positive_int,
        default=DEFAULT_CUTS,
        help=f"cut points for prefix invariance (default {DEFAULT_CUTS})",
    )
    p.add_argument(
        "--settle",
        type=_positive_int,
        default=DEFAULT_SETTLE,
        help="bars past the later start's warm-up before warm-up sensitivity compares targets "
        f"(default {DEFAULT_SETTLE})",
    )
    p.add_argument(
        "--tolerance",
        type=_tolerance,
        default=DEFAULT_TOLERANCE,
        help="largest accepted difference of a sleeve's target between the two starts "
        f"(default {DEFAULT_TOLERANCE:g})",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="keep the replays under DIR (default: a temp dir)"
    )


def run(args: argparse.Namespace, loaded: Any) -> int:
    from quantbot.cli.event_loop import run_on_event_loop  # noqa: PLC0415
    from quantbot.cli.replay import data_files  # noqa: PLC0415
    from quantbot.research import leakage  # noqa: PLC0415
    from quantbot.research.replay import ReplayRequest  # noqa: PLC0415

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with leakage.scratch_dir() as scratch:
        work = args.out or Path(scratch)
        if args.data is None:
            work.mkdir(parents=True, exist_ok=True)
            data = (leakage.synthetic_daily(work / "SYNTH.csv"),)
        else:
            data = data_files(args.data)
        request = ReplayRequest(data=data, symbols=tuple(args.symbols), out_root=work / "replays")
        sleeves = ", ".join(f"{n} ({d.kind})" for n, d in loaded.config.signals.items())
        print(f"check-leakage: sleeves {sleeves}; data {', '.join(p.name for p in data)}")

        async def main() -> int:
            prefix = await leakage.prefix_invariance(loaded, request, args.cuts, say)
            warm = await leakage.warmup_sensitivity(
                loaded, request, say, settle=args.settle, tolerance=args.tolerance
            )
            return _report(prefix, warm)

        return run_on_event_loop(main())


def _report(prefix: Any, warm: Any) -> int:
    cuts = ", ".join(str(c) for c in prefix.cuts)
    if prefix.leak is None:
        print(f"prefix invariance: ok ({prefix.compared} decisions identical at cuts {cuts})")
    else:
        print(f"prefix invariance: {prefix.leak.describe()}")
    print(
        f"warm-up sensitivity: start {warm.start}, {warm.compared} bars compared after "
        f"{warm.settle} settling bars, tolerance {warm.tolerance:g}"
    )
    for name, gap in warm.divergence.items():
        verdict = "FAIL" if gap > warm.tolerance else "ok"
        where = f" at {warm.worst[name]}" if gap else ""
        before = warm.settling.get(name)
        settling = f"; {before:.3g} while settling" if before is not None else ""
        print(f"  {name}: max divergence {gap:.3g}{where}{settling}: {verdict}")
    leaked = prefix.leak is not None or bool(warm.failed)
    print("check-leakage: LEAK" if leaked else "check-leakage: clean")
    return EXIT_LEAK if leaked else EXIT_CLEAN
