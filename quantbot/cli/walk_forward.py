"""`quantbot walk-forward`: purged, embargoed walk-forward evaluation over the replay engine.

quantbot walk-forward --data PATH... --train 180d --test 30d --step 30d --embargo 5d
    [--anchored] --grid FILE [--sample N --seed S] [--objective sharpe|return|calmar]
    [--cost fixed:BPS] [--horizon N] [--workers N] [--engine serial|local|ray]
    [--ray-address ADDR] [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from quantbot.cli.help import documented
from quantbot.cli.replay import _day, data_files
from quantbot.domain.errors import DataError

_BARS = re.compile(r"^\s*(\d+)\s*(d|bars?)?\s*$")


def _cost(text: str) -> float:
    kind, _, arg = text.partition(":")
    if kind == "from_tca" and arg:
        from quantbot.research.walk_forward.cost import tca_cost_bps  # noqa: PLC0415

        try:
            return tca_cost_bps(Path(arg))
        except DataError as e:
            raise argparse.ArgumentTypeError(str(e)) from e
    try:
        value = float(arg)
    except ValueError:
        value = -1.0
    if kind != "fixed" or not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(
            f"--cost {text!r}: use fixed:BPS (0..1000 basis points of each fill's value) "
            "or from_tca:PATH (the median cost of the filled orders in a run's TCA records)"
        )
    return value


def _bars(flag: str):
    def parse(text: str) -> int:
        match = _BARS.match(text)
        if match is None:
            raise argparse.ArgumentTypeError(f"{flag} {text!r}: a count of bars, e.g. 5 or 5d")
        return int(match.group(1))

    return parse


def add_parser(sub: Any, with_config: Any) -> None:
    p = with_config(
        sub.add_parser(
            "walk-forward",
            **documented(
                "walk-forward a grid of sleeve params over the replay engine "
                "(runtime/walk_forward/<id>/)",
                "quantbot walk-forward --data ../shared/data/daily/ --from 2001-01-01 "
                "--to 2004-12-31 --train 365d --test 90d --step 90d --embargo 5 --horizon 10 "
                "--grid grid.toml --cost fixed:5",
                "quantbot walk-forward --data ../shared/data/daily/IBM.csv --train '250 bars' "
                "--test '60 bars' --step '60 bars' --anchored --grid grid.toml",
                "quantbot walk-forward --data data/binance --train 30d --test 7d --step 7d "
                "--grid grid.toml --sample 20 --seed 1 --engine serial",
            ),
        )
    )
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        help="bar files or directories of them, as for replay",
    )
    p.add_argument(
        "--symbols",
        nargs="+",
        default=(),
        help="only these symbols (default: every symbol of the data)",
    )
    p.add_argument(
        "--from",
        dest="date_from",
        type=_day,
        default=None,
        help="first day used (UTC; default: the data's first)",
    )
    p.add_argument(
        "--to",
        dest="date_to",
        type=_day,
        default=None,
        help="last day used (UTC; default: the data's last)",
    )
    for flag, default in (("--train", None), ("--test", None), ("--step", None)):
        p.add_argument(
            flag,
            required=default is None,
            metavar="SPAN",
            help="a window: Nd (calendar days) or 'N bars' (bar days of the data)",
        )
    p.add_argument(
        "--embargo",
        type=_bars("--embargo"),
        default=0,
        metavar="N",
        help="bars (bar days; 5d = 5 bars) left out between train and test and "
        "after the test (default 0)",
    )
    p.add_argument(
        "--horizon",
        type=_bars("--horizon"),
        default=None,
        metavar="N",
        help="bars a label looks ahead: the train bars this close to the test are "
        "purged (default: the longest max_hold_bars of [sizer.harvest.*])",
    )
    p.add_argument(
        "--anchored",
        action="store_true",
        help="train from the first day (growing) instead of a rolling window",
    )
    p.add_argument("--grid", type=Path, required=True, help="TOML grid of sleeve params")
    p.add_argument(
        "--sample",
        type=int,
        default=None,
        metavar="N",
        help="a seeded random sample of N grid points (default: every point)",
    )
    p.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    p.add_argument(
        "--objective",
        choices=("sharpe", "return", "calmar"),
        default="sharpe",
        help="in-sample choice, post-cost (default sharpe)",
    )
    p.add_argument(
        "--cost",
        type=_cost,
        default=None,
        metavar="fixed:BPS|from_tca:PATH",
        help="every fill costs BPS basis points and nothing else, or the median total cost "
        "of the filled orders in PATH's TCA records (tca.jsonl, or a directory of them) "
        "(default: the config's [venue.sim] fees and slippage model)",
    )
    p.add_argument(
        "--engine",
        choices=("serial", "local", "ray"),
        default="local",
        help="local: worker processes (default); serial: this process; ray: a Ray cluster "
        "(the optional extra: pip install 'quantbot[ray]')",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="--engine ray: join this cluster (default: start a local one of --workers CPUs)",
    )
    p.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument(
        "--out", type=Path, default=None, help="root for <id>/ (default <runtime_dir>/walk_forward)"
    )


def run(args: argparse.Namespace, loaded: Any) -> int:
    from quantbot.research.walk_forward import folds, grid  # noqa: PLC0415
    from quantbot.research.walk_forward.walk import WalkRequest, run_walk  # noqa: PLC0415

    harvest = loaded.config.sizer.harvest
    horizon = args.horizon
    if horizon is None:
        horizon = max(
            p.max_hold_bars for p in (harvest.scalper, harvest.swing, harvest.trend_runner)
        )
    spec = folds.FoldSpec(
        train=folds.parse_span(args.train, "--train"),
        test=folds.parse_span(args.test, "--test"),
        step=folds.parse_span(args.step, "--step"),
        embargo=args.embargo,
        horizon=horizon,
        anchored=args.anchored,
    )
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise DataError(f"--from {args.date_from} is after --to {args.date_to}")
    if args.workers < 1:
        raise DataError(f"--workers {args.workers}: must be at least 1")
    points = grid.sample(grid.load(args.grid), args.sample, args.seed)
    request = WalkRequest(
        data=data_files(args.data),
        symbols=tuple(args.symbols),
        spec=spec,
        points=tuple(points),
        objective=args.objective,
        cost_bps=args.cost,
        engine=args.engine,
        workers=args.workers,
        ray_address=args.ray_address,
        out_root=args.out,
        date_from=args.date_from,
        date_to=args.date_to,
    )
    result = run_walk(loaded, request, say=lambda line: print(line, file=sys.stderr, flush=True))
    print(describe(result), flush=True)
    return 0


def describe(result: Any) -> str:
    s = result.summary
    d = s["distribution"]
    lines = [
        f"walk-forward {result.wid}: {len(s['folds'])} folds x {len(s['grid'])} points, "
        f"objective {s['settings']['objective']}"
    ]
    for f in s["folds"]:
        oos = f["out_of_sample"]
        lines.append(
            f"  fold {f['fold']}: train {f['train']['from']}..{f['train']['to']} "
            f"test {f['test']['from']}..{f['test']['to']}  point {f['chosen_point']}  "
            f"oos return {_n(oos['total_return_pct'])}% sharpe {_n(oos['sharpe'])}"
        )
    st, of = s["stitched"], s["overfitting"]
    lines += [
        f"  oos return % across folds: median {_n(d['return_pct']['median'])} "
        f"[{_n(d['return_pct']['min'])} .. {_n(d['return_pct']['max'])}]; stitched "
        f"{_n(st['total_return_pct'])}%",
        f"  most chosen: {s['stability']['chosen'][0]['label']} "
        f"({s['stability']['chosen'][0]['folds']} of {len(s['folds'])} folds)",
        f"  overfitting: dsr {_n(of['dsr'])} pbo {_n(of['pbo'])} over {of['trials']} trials",
        f"  folds:   {result.out_dir / 'folds.jsonl'}",
        f"  equity:  {result.out_dir / 'oos_equity.csv'}",
        f"  summary: {result.out_dir / 'summary.json'}",
        f"  report:  {result.out_dir / 'report.html'}",
    ]
    return "\n".join(lines)


def _n(x: Any) -> str:
    return "n/a" if x is None else f"{x:g}"
