"""`quantbot run` as a subprocess against the loopback Binance (ccxt), for the drills.

As tests/integration/test_real_venues_e2e.py: the market starts two hours back and moves a
minute per tick, so every bar the daemon sees is closed (and old): staleness limits are
opened up for that, nothing else.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson

from quantbot.testing.binance import BinanceServer
from quantbot.testing.binance_book import BinanceBook
from tests.integration.daemon import REPO_ROOT, start
from tests.integration.loopback import ServerThread

KEY = "drillKEYa1b2c3d4"
SECRET = "drillSECRETe5f6g7h8"
MINUTE_MS = 60_000
PAPER = ("run", "--execution-mode", "paper")
ENV = {
    "QUANTBOT__MARKET__SOURCE": "venue",
    "QUANTBOT__MARKET__SYMBOLS": '["ETH/USDT", "BTC/USDT"]',
    "QUANTBOT__VENUE__NAME": "ccxt",
    "QUANTBOT__VENUE__CCXT__POLL_INTERVAL_S": "0.2",
    "QUANTBOT__VENUE__CCXT__TIMEOUT_S": "3",
    "QUANTBOT__DATA_CONTRACT__MAX_STALENESS_S": "100000",
    "QUANTBOT__PRETRADE__MAX_DATA_AGE_S": "100000",
    "QUANTBOT__PRETRADE__COLLAR_WINDOW_S": "100000",
    "QUANTBOT__PRETRADE__MAX_QUOTE_AGE_S": "100000",  # the book's quotes are as old as its bars
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_VOLUME": "0",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_NOTIONAL": "0",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MAX_PARTICIPATION": "1",
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
    "QUANTBOT_CCXT_API_KEY": KEY,
    "QUANTBOT_CCXT_SECRET": SECRET,
}


def server(*, minutes_back: int = 120, balances: dict[str, Decimal] | None = None) -> BinanceServer:
    """The loopback market, ``minutes_back`` behind the wall clock: a drill that moves it a
    minute every 0.1 s for longer needs more, so that its bars stay closed (in the past)."""
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - now_ms % MINUTE_MS - minutes_back * MINUTE_MS
    book = BinanceBook(start_ms=start_ms, balances=balances)
    return BinanceServer(api_key=KEY, api_secret=SECRET, book=book)


def prepare(workdir: Path) -> None:
    (workdir / "config.toml").write_bytes((REPO_ROOT / "config.toml").read_bytes())


def start_daemon(
    workdir: Path, srv: ServerThread, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    full = {**ENV, "QUANTBOT__VENUE__CCXT__BASE_URL": srv.url, **(env or {})}
    return start(workdir, *PAPER, *args, env=full)


def tick_until(
    srv: ServerThread,
    server: BinanceServer,
    done: Callable[[], bool],
    *,
    what: str,
    proc: subprocess.Popen[str],
    timeout: float = 40,
) -> None:
    """Move the market a minute every 0.1 s until ``done()`` (bounded), as a live market does
    while the daemon runs."""
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"daemon exited ({proc.returncode}) before {what}:\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        srv.call(lambda: server.tick(1))
        time.sleep(0.1)


def complete_lines(path: Path) -> list[dict]:
    """The events of a JSONL file as they are on disk now: complete lines only (the last may
    be being written)."""
    if not path.exists():
        return []
    events = []
    for line in path.read_bytes().split(b"\n"):
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return events
