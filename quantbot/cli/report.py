"""`quantbot report tca [--date D] [--runtime DIR] [--config PATH] [--out DIR]`: the
execution report.

Reads ``<run.runtime_dir>/<tca.file>`` and ``<run.runtime_dir>/<records.decisions_file>``
(with their rotated days), writes ``tca-report-<date>.json`` and ``.csv`` under ``--out``
(default: the records directory's ``reports/``) and prints the three answers. Without
``--date`` it reports today, or the whole of a replay when ``--runtime`` is a replay's
directory. Exit 0 when written, 2 on bad input (a malformed date, an unreadable config, no
TCA records on disk).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date as Date
from pathlib import Path

import orjson

from quantbot.analytics.execution_report import ReportInputError, build_report, write_report
from quantbot.cli.help import documented
from quantbot.clock import Clock, LiveClock, iso_utc, utc_date
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

EXIT_OK, EXIT_USAGE = 0, 2


def add_report_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report`` (and its ``tca``) to the ``quantbot`` command's subparsers."""
    parser = sub.add_parser(
        "report",
        **documented(
            "execution reports from the runtime records",
            "quantbot report tca",
            "quantbot report tca --date all",
        ),
    )
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    tca = kinds.add_parser(
        "tca",
        **documented(
            "transaction costs, fills, blocks per gate and PnL before and after costs of a "
            "day's orders (or of a replay), written as JSON and CSV",
            "quantbot report tca",
            "quantbot report tca --date 2026-12-07",
            "quantbot report tca --date all --out reports/",
            "quantbot report tca --runtime runtime/replay/rp-4b294e1e0241b120",
        ),
    )
    tca.add_argument(
        "--date",
        default=None,
        help="UTC day YYYY-MM-DD of the decisions, or 'all': every day (default: today; "
        "for a replay's --runtime, the replay's whole span)",
    )
    tca.add_argument(
        "--runtime",
        type=Path,
        default=None,
        help="records directory (default: the config's run.runtime_dir, runtime in the "
        "shipped config.toml; a replay's is runtime/replay/<id>)",
    )
    tca.add_argument(
        "--config",
        type=Path,
        default=Path("config.toml"),
        help="config file (default: ./config.toml)",
    )
    tca.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: reports/ in the records directory: <--runtime>/"
        "reports, else <run.runtime_dir>/reports)",
    )
    return parser


def replay_span(runtime: Path) -> str | None:
    """``rp-<id> (first day .. last day)`` when ``runtime`` is a replay's directory (its
    ``summary.json`` names the replay), else None."""
    try:
        summary = orjson.loads((runtime / "summary.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(summary, dict) or "replay_id" not in summary:
        return None
    first, last = summary.get("first_bar_ns"), summary.get("last_bar_ns")
    days = f" ({iso_utc(first)[:10]} .. {iso_utc(last)[:10]})" if first and last else ""
    return f"{summary['replay_id']}{days}"


def _valid_date(text: str) -> str | None:
    try:
        return Date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        return None


def run_report(args: argparse.Namespace, clock: Clock | None = None) -> int:
    """Build and write the report; the exit status (0 written, 2 bad input)."""
    if args.date is not None and args.date != "all" and _valid_date(args.date) is None:
        print(f"quantbot report: --date {args.date!r}: use YYYY-MM-DD or all", file=sys.stderr)
        return EXIT_USAGE
    try:
        if not args.config.is_file():
            raise ConfigError(f"{args.config}: config file not found (use --config PATH)")
        config = load_config(args.config).config
    except ConfigError as e:
        print(f"quantbot report: config error: {e}", file=sys.stderr)
        return EXIT_USAGE
    runtime = args.runtime or Path(config.run.runtime_dir)
    date = args.date
    if date is None:
        span = replay_span(runtime)
        date = "all" if span else utc_date((clock or LiveClock()).now_ns())
        if span:
            print(f"quantbot report: {runtime} is replay {span}: reporting all of it "
                  "(--date YYYY-MM-DD for one day)", file=sys.stderr)  # fmt: skip
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
