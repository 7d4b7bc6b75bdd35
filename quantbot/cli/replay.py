"""`quantbot replay`: the command line of the replay engine."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from quantbot.cli.event_loop import run_on_event_loop
from quantbot.cli.help import documented
from quantbot.clock import iso_utc
from quantbot.domain.errors import DataError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from e


class ProgressLine:
    """A line to ``out`` each time another ``1/steps`` of the bars has been played (a tenth
    by default; the last line is at 100%), so a long replay is visibly moving. Counted in
    bars, not timed: the same replay prints the same lines."""

    def __init__(self, out: TextIO, steps: int = 10) -> None:
        self._out = out
        self._steps = steps
        self._shown = 0  # steps already shown

    def __call__(self, played: int, total: int, ts_ns: int) -> None:
        reached = played * self._steps // total
        if reached <= self._shown:
            return
        self._shown = reached
        self._out.write(
            f"replay: {played:,} of {total:,} bars ({played * 100 // total}%), "
            f"market time {iso_utc(ts_ns)[:16].replace('T', ' ')}\n"
        )
        self._out.flush()


# A directory given to --data stands for the bar files directly in it.
_DATA_SUFFIXES = (".csv", ".json")
# Files beside the bars that describe them, not bars: the instruments file and the manifest
# `quantbot data download` writes into the directory it fills.
_NOT_BARS = ("instruments.json", "download.json")


def data_files(paths: list[Path]) -> tuple[Path, ...]:
    """``--data``'s files: a file as given, a directory as its ``*.csv`` and ``*.json`` files
    (not hidden, not in subdirectories, not ``instruments.json`` or ``download.json``), sorted
    by name so the replay id does not depend on the order the filesystem lists them in."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and not p.name.startswith(".")
                and p.suffix.lower() in _DATA_SUFFIXES
                and p.name not in _NOT_BARS
            )
            if not inside:
                raise DataError(f"--data {path}: a directory with no .csv or .json files in it")
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"--data: no such file or directory: {path}")
    return tuple(files)


# -- --symbol-map FILE=SYMBOL ----------------------------------------------------------------
def _symbol_map_entry(text: str) -> tuple[str, str]:
    file, sep, symbol = text.rpartition("=")
    if not sep or not file.strip() or not symbol.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not FILE=SYMBOL (e.g. GOOG_1d.csv=GOOG)")
    return file.strip(), symbol.strip()


def mapped_files(files: tuple[Path, ...], entries: list[tuple[str, str]]) -> tuple[Path, ...]:
    """``files`` with each ``--symbol-map`` entry's file carrying its symbol (a
    ``SymbolPath``). An entry's FILE is a path (as given or resolved) or a bare file name; one
    that names no data file, or several, is an error: a typo must not be ignored."""
    from quantbot.marketdata.loaders import SymbolPath  # noqa: PLC0415 (loaded on use)

    symbols: dict[int, str] = {}
    for file, symbol in entries:
        key = Path(file)
        hits = [
            i
            for i, path in enumerate(files)
            if path == key or path.resolve() == key.resolve() or str(key) == path.name
        ]
        if len(hits) != 1:
            what = "no --data file" if not hits else f"{len(hits)} --data files"
            raise DataError(f"--symbol-map {file}={symbol}: {file} names {what}")
        if symbols.get(hits[0], symbol) != symbol:
            raise DataError(f"--symbol-map {file}: given two symbols")
        symbols[hits[0]] = symbol
    return tuple(
        SymbolPath(path, symbol=symbols[i]) if i in symbols else path
        for i, path in enumerate(files)
    )


def add_parser(sub: Any, with_config: Any, profiles: tuple[str, ...]) -> None:
    p = with_config(
        sub.add_parser(
            "replay",
            **documented(
                "run the live pipeline over historical bars (records under runtime/replay/)",
                "quantbot replay --data ../shared/data/daily/IBM.csv",
                "quantbot replay --data ../shared/data/daily/ --symbols IBM AAPL "
                "--from 2003-01-01 --to 2003-12-31",
                "quantbot replay --config examples/sleeves/donchian.toml --data data/binance "
                "--trading-mode balanced",
                "quantbot replay --against 20261207T183824-c6b369",
            ),
        )
    )
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        default=None,
        help="(required unless --against) bar files, or directories of them (their *.csv "
        "and *.json): CSV with a header "
        "(date,open,high,low,close,volume[,adj_close][,symbol]: ISO dates or date-times, UTC "
        "unless zoned, M/D/YYYY, epoch s/ms/us; Yahoo's Adj Close; pandas' unnamed index), "
        "Binance kline CSV, or ccxt OHLCV JSON ([[ms, o, h, l, c, v], ...]); the symbol comes "
        "from the file name less a timeframe (AAPL.csv, GOOG_daily.csv: GOOG, "
        "btc_usdt-1m.json: BTC/USDT) unless the file names it or --symbol-map does",
    )
    p.add_argument(
        "--symbol-map",
        dest="symbol_map",
        type=_symbol_map_entry,
        action="append",
        default=[],
        metavar="FILE=SYMBOL",
        help="the symbol of a --data file's bars (repeatable), FILE as a path or a file name: "
        "--symbol-map spx_1d.csv=SPY",
    )
    p.add_argument(
        "--from",
        dest="date_from",
        type=_day,
        default=None,
        help="first day (UTC; default: the data's first)",
    )
    p.add_argument(
        "--to",
        dest="date_to",
        type=_day,
        default=None,
        help="last day (UTC; default: the data's last)",
    )
    p.add_argument(
        "--symbols",
        nargs="+",
        default=(),
        help="only these symbols (default: every symbol of the data)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the root the replay's <id>/ directory goes under (default: "
        "<run.runtime_dir>/replay, runtime/replay in the shipped config.toml)",
    )
    p.add_argument(
        "--trading-mode",
        choices=profiles,
        default=None,
        dest="trading_profile",
        help="trading profile (default: the config's run.trading_profile, conservative in the "
        "shipped config.toml)",
    )
    p.add_argument(
        "--snapshot",
        default=None,
        metavar="FILE:HASH",
        help="run on the config a snapshot line names (a records' snapshots.jsonl and the "
        'hash a decision record names under "snapshot") instead of --config\'s file: '
        "replaying the same data to that record's bar reproduces it",
    )
    add_against(p)


def _from_snapshot(spec: str, trading_profile: str | None) -> Any:
    """The config of ``FILE:HASH``'s snapshot line (``records.snapshot_config``)."""
    from quantbot.records import snapshot_config, snapshots  # noqa: PLC0415

    if trading_profile is not None:
        raise DataError("--snapshot names its trading profile: --trading-mode does not go with it")
    file, sep, digest = spec.rpartition(":")
    if not sep or not file or not digest:
        raise DataError(f"--snapshot {spec}: give FILE:HASH (runtime/snapshots.jsonl:1a2b...)")
    try:
        content = snapshots.find(Path(file), digest)
    except (OSError, KeyError) as e:
        raise DataError(f"--snapshot {spec}: {e}") from e
    return snapshot_config.config_from_snapshot(content)


def run(args: argparse.Namespace, loaded: Any) -> int:
    if args.against is not None:
        return run_against(args, loaded)
    if not args.data:
        raise DataError("replay: give --data PATH... (or --against RUN)")
    # Imported here: the daemon and its stages load only for the commands that need them.
    from quantbot.research.replay import ReplayRequest, describe, run_replay  # noqa: PLC0415

    data = mapped_files(data_files(args.data), args.symbol_map)
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise DataError(f"--from {args.date_from} is after --to {args.date_to}")
    request = ReplayRequest(
        data=data,
        symbols=tuple(args.symbols),
        date_from=args.date_from,
        date_to=args.date_to,
        out_root=args.out,
    )

    async def main() -> int:
        result = await run_replay(loaded, request, progress=ProgressLine(sys.stderr))
        print(describe(result), flush=True)
        return 0

    return run_on_event_loop(main())


# -- --against RUN: the live-vs-replay diff (research/against.py) ----------------------------
# --config's default, told apart from a --config given: with --against and no --config the
# replay runs on the run's own config, from its manifest.
_DEFAULT_CONFIG = Path("config.toml")


def add_against(p: argparse.ArgumentParser) -> None:
    p.set_defaults(config=_DEFAULT_CONFIG)
    p.add_argument(
        "--against",
        default=None,
        metavar="RUN",
        help="replay a paper or live run's bars (from its decision records) on its config "
        "(its manifest's, unless --config is given) and compare: a run id (its manifest in "
        "<runtime>/manifests/) or a manifest's path. Writes against.json in the replay's "
        "directory; exit 1 when a decision diverges (fills are only reported)",
    )


def load(args: argparse.Namespace, load_file: Any) -> Any:
    """The config the command starts from: ``load_file``'s (--config's file). With --against
    and no --config, where no config.toml is, the defaults (their runtime/ is where a run
    id is looked up): the replay runs on the run's own config, from its manifest."""
    if getattr(args, "snapshot", None) is not None:
        return _from_snapshot(args.snapshot, args.trading_profile)
    if args.against is not None and args.config is _DEFAULT_CONFIG and not args.config.is_file():
        from quantbot.config.schema import load_config  # noqa: PLC0415

        return load_config(None, trading_profile=args.trading_profile)
    return load_file(args, args.trading_profile)


def run_against(args: argparse.Namespace, loaded: Any) -> int:
    # Imported here: the daemon and its stages load only for the commands that need them.
    from quantbot.research import against, run_records  # noqa: PLC0415

    if args.data or args.symbols or args.date_from or args.date_to or args.symbol_map:
        raise DataError(
            "--against RUN replays the run's own bars: "
            "--data, --symbols, --from, --to and --symbol-map do not go with it"
        )
    path = run_records.manifest_path(args.against, Path(loaded.config.run.runtime_dir))
    run_ = run_records.read_run(path)
    if args.config is _DEFAULT_CONFIG:
        loaded = run_records.run_config(run_, args.trading_profile)
    loaded = run_records.with_run_instruments(loaded, run_)

    async def main() -> int:
        report, where = await against.replay_against(
            loaded, run_, args.out, progress=ProgressLine(sys.stderr)
        )
        print(against.describe(report, where), flush=True)
        return 1 if report["diverged"] else 0

    return run_on_event_loop(main())
