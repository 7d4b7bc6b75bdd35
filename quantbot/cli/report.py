"""`quantbot report tca [--date D] [--config PATH] [--out DIR]`: the execution report.

Reads ``<run.runtime_dir>/<tca.file>`` and ``<run.runtime_dir>/<records.decisions_file>``
(with their rotated days), writes ``tca-report-<date>.json`` and ``.csv`` under ``--out`` (default
``<run.runtime_dir>/reports``) and prints the three answers. Exit 0 when written, 2 on bad
input (a malformed date, an unreadable config, no TCA records on disk).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date as Date
from pathlib import Path

import orjson

from quantbot.analytics.execution_report import ReportInputError, build_report, write_report
from quantbot.clock import Clock, LiveClock, utc_date
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

EXIT_OK, EXIT_USAGE = 0, 2


def add_report_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report`` to the ``quantbot`` command's subparsers."""
    parser = sub.add_parser("report", help="execution reports from the runtime records")
    parser.add_argument("kind", choices=("tca",), help="tca: transaction costs of a day")
    parser.add_argument(
        "--date",
        default=None,
        help="UTC day YYYY-MM-DD of the decisions (default: today); 'all': every day",
    )
    parser.add_argument(
        "--runtime",
        type=Path,
        default=None,
        help="records directory (default: the config's run.runtime_dir; a replay's is "
        "runtime/replay/<id>)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config.toml"),
        help="config file (default: ./config.toml)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: runtime/reports)"
    )
    return parser


def _valid_date(text: str) -> str | None:
    try:
        return Date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        return None


def run_report(args: argparse.Namespace, clock: Clock | None = None) -> int:
    """Build and write the report; the exit status (0 written, 2 bad input)."""
    date = utc_date((clock or LiveClock()).now_ns()) if args.date is None else args.date
    if date != "all" and _valid_date(date) is None:
        print(f"quantbot report: --date {date!r}: use YYYY-MM-DD or all", file=sys.stderr)
        return EXIT_USAGE
    try:
        if not args.config.is_file():
            raise ConfigError(f"{args.config}: config file not found (use --config PATH)")
        config = load_config(args.config).config
    except ConfigError as e:
        print(f"quantbot report: config error: {e}", file=sys.stderr)
        return EXIT_USAGE
    runtime = args.runtime or Path(config.run.runtime_dir)
    try:
        report = build_report(
            runtime / config.tca.file,
            runtime / config.records.decisions_file,
            date=None if date == "all" else date,
        )
    except ReportInputError as e:
        print(f"quantbot report: {e}", file=sys.stderr)
        return EXIT_USAGE
    out_dir = args.out or runtime / "reports"
    try:
        json_path, csv_path = write_report(report, out_dir)
    except OSError as e:
        print(f"quantbot report: --out {out_dir}: cannot write the report there: {e}",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    sys.stdout.write(orjson.dumps(report["answers"], option=orjson.OPT_INDENT_2).decode() + "\n")
    overall = report["overall"]
    print(
        f"{date}: {overall['orders']} orders, {report['blocks']['total']} blocks; "
        f"wrote {json_path} and {csv_path}",
        file=sys.stderr,
    )
    return EXIT_OK
