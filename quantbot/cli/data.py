"""`quantbot data download`: a venue's bar history into files `quantbot replay` reads.

    quantbot data download --venue binance --symbols BTC/USDT ETH/USDT --timeframe 1m \\
        --from 2024-01-01 --to 2024-01-02 --out data/binance

writes ``btc_usdt-1m.json`` (ccxt OHLCV JSON) per symbol, ``instruments.json`` (tick, lot,
minimum notional from the venue's market metadata) and ``download.json`` (first, last, bars
and gaps per file) into ``--out``. Run it again with the same ``--out`` and it fetches only
what is not on disk yet. Progress and gaps go to stderr, the files written to stdout.

Exit status: 0 written; 2 bad arguments (unknown venue or symbol, a bad timeframe, --from
not before --to, missing credentials); 1 the venue failed after bounded retries (what was
fetched is kept: run the same command again to resume).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from quantbot.cli.event_loop import run_on_event_loop
from quantbot.cli.help import documented, examples
from quantbot.clock import Clock, LiveClock
from quantbot.config.venues import AlpacaConfig
from quantbot.domain.errors import DataError, VenueAuthError, VenueError
from quantbot.records.redact import redact_text

EXIT_OK, EXIT_VENUE, EXIT_USAGE = 0, 1, 2
VENUES = ("binance", "alpaca")
DESCRIPTION = """\
Writes one ccxt OHLCV JSON file per symbol (btc_usdt-1m.json, aapl-1m.json), instruments.json
(tick, lot and minimum notional from the venue's market metadata) and download.json (first,
last, bars and gaps per file) into --out, for `quantbot replay --data DIR`. Run it again with
the same --out and it fetches only what is not on disk yet. Progress and gaps go to stderr.

binance: public market data, no key needed. alpaca: the keys come from APCA_API_KEY_ID and
APCA_API_SECRET_KEY in the environment, never from the command line.
"""


def _moment(text: str) -> tuple[datetime, bool, str]:
    """``YYYY-MM-DD`` (a whole day) or ``YYYY-MM-DDTHH:MM[:SS][Z]`` (UTC) -> (start, is_day,
    text)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC), True, text
        moment = datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM)"
        ) from e
    if moment.tzinfo is not None and moment.utcoffset() != timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r}: give the time in UTC (or end it with Z)")
    return moment.replace(tzinfo=UTC), False, text


def add_parser(sub: Any) -> None:
    data = sub.add_parser(
        "data",
        **documented(
            "market data tools",
            "quantbot data download --venue binance --symbols BTC/USDT --from 2024-01-01 "
            "--out data/binance",
            "quantbot data download --help",
        ),
    )
    actions = data.add_subparsers(dest="data_command", required=True)
    p = actions.add_parser(
        "download",
        help="a venue's bar history into files replay reads (resumable)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "quantbot data download --venue binance --symbols BTC/USDT ETH/USDT --timeframe 1m "
            "--from 2024-01-01 --to 2024-01-02 --out data/binance",
            "quantbot data download --venue alpaca --symbols AAPL MSFT --timeframe 1d "
            "--from 2020-01-01 --out data/alpaca",
            "quantbot replay --data data/binance",
        ),
    )
    p.add_argument("--venue", required=True, choices=VENUES, help="where the bars come from")
    p.add_argument("--symbols", nargs="+", required=True, help="e.g. BTC/USDT ETH/USDT, or AAPL")
    p.add_argument("--timeframe", default="1m", help="bar size: 1m, 5m, 1h, 1d ... (default 1m)")
    p.add_argument("--from", dest="start", type=_moment, required=True,
                   help="first day (UTC), or a UTC time YYYY-MM-DDTHH:MM")  # fmt: skip
    p.add_argument("--to", dest="end", type=_moment, default=None,
                   help="last day (UTC, included), or a UTC time (excluded); "
                   "default: now")  # fmt: skip
    p.add_argument("--out", type=Path, required=True, help="directory for the files")
    p.add_argument("--page-size", type=int, default=None,
                   help="bars per request (default: the most the venue allows)")  # fmt: skip
    p.add_argument("--base-url", default="",
                   help="the venue's API at another address (a proxy, or a loopback server: "
                   "python -m quantbot.testing.binance / .alpaca)")  # fmt: skip
    p.add_argument("--data-url", default="",
                   help="alpaca: the market data API's address (default: --base-url "
                   "if given)")  # fmt: skip
    p.add_argument(
        "--feed", default="iex", choices=("iex", "sip"), help="alpaca: data feed (default: iex)"
    )
    p.add_argument("--adjustment", default="all", choices=("raw", "split", "dividend", "all"),
                   help="alpaca: corporate-action adjustment of prices (default: all)")  # fmt: skip
    p.add_argument("--live-account", action="store_true",
                   help="alpaca: the keys are a live account's (assets are read from the live "
                   "API; default: paper)")  # fmt: skip


def _span_ms(args: argparse.Namespace, clock: Clock) -> tuple[int, int]:
    start, _, start_text = args.start
    if args.end is None:
        end, end_text = datetime.fromtimestamp(clock.now_ns() / 1e9, tz=UTC), "now"
    else:
        end, whole_day, end_text = args.end
        end = end + timedelta(days=1) if whole_day else end
    if start >= end:
        raise DataError(f"--from {start_text} is after --to {end_text}: nothing to download")
    now_ms = clock.now_ns() // 1_000_000
    if int(start.timestamp() * 1000) >= now_ms:
        raise DataError(f"--from {start_text} is in the future")
    return int(start.timestamp() * 1000), min(int(end.timestamp() * 1000), now_ms)


def _source(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> Any:
    """The venue's ``HistorySource``; a bad timeframe or missing keys are a ``DataError``."""
    if args.venue == "binance":
        from quantbot.venues.ccxt.history import CcxtHistory  # noqa: PLC0415 -- ccxt is slow to import

        if args.timeframe not in CcxtHistory.timeframes("binance"):
            known = ", ".join(CcxtHistory.timeframes("binance"))
            raise DataError(f"--timeframe {args.timeframe!r}: binance has {known}")
        return CcxtHistory("binance", base_url=args.base_url)
    from quantbot.venues.alpaca.history import AlpacaHistory, alpaca_timeframe  # noqa: PLC0415

    try:
        alpaca_timeframe(args.timeframe)
    except ValueError as e:
        raise DataError(str(e)) from e
    names = AlpacaConfig()
    key, secret = environ.get(names.key_env, ""), environ.get(names.secret_env, "")
    if not key or not secret:
        raise DataError(
            f"alpaca needs an API key: set {names.key_env} and {names.secret_env} in the "
            "environment"
        )
    return AlpacaHistory(
        api_key=key,
        secret=secret,
        paper=not args.live_account,
        base_url=args.base_url,
        data_url=args.data_url or args.base_url,
        feed=args.feed,
        adjustment=args.adjustment,
    )


def run(args: argparse.Namespace, clock: Clock | None = None) -> int:
    """Download; the exit status (``DataError`` is left to the caller: exit 2)."""
    from quantbot.marketdata.download import Downloader, DownloadRequest  # noqa: PLC0415
    from quantbot.marketdata.ohlcv_json import timeframe_seconds  # noqa: PLC0415

    clock = clock or LiveClock()
    try:
        timeframe_seconds(args.timeframe)
    except ValueError as e:
        raise DataError(f"--timeframe: {e}") from e
    if args.page_size is not None and args.page_size < 1:
        raise DataError(f"--page-size {args.page_size}: must be at least 1")
    start_ms, end_ms = _span_ms(args, clock)
    source = _source(args, os.environ)
    out = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"--out {out}: cannot use it as a directory: {e}") from e
    request = DownloadRequest(tuple(args.symbols), args.timeframe, start_ms, end_ms, out,
                              args.page_size)  # fmt: skip

    def say(line: str) -> None:
        print(f"data download: {line}", file=sys.stderr, flush=True)

    async def main() -> int:
        try:
            summaries = await Downloader(source, clock=clock, say=say).run(request)
        except VenueError as e:
            say(f"{args.venue} failed: {type(e).__name__}: {redact_text(str(e))}")
            if isinstance(e, VenueAuthError) and args.venue == "alpaca":
                where = "live" if args.live_account else "paper"
                say(f"the keys were refused by Alpaca's {where} API: are they a "
                    f"{'paper' if args.live_account else 'live'} account's? "
                    f"({'drop' if args.live_account else 'add'} --live-account)")  # fmt: skip
            say("the bars fetched so far are kept; run the same command again to resume")
            return EXIT_VENUE
        finally:
            await source.close()
        for s in summaries:
            print(f"{s.path}\t{s.symbol}\t{s.bars} bars\t{len(s.gaps)} gaps")
        return EXIT_OK

    return run_on_event_loop(main())
