"""`quantbot run --execution-mode paper` against each loopback venue server, as a user would
point it at a testnet: it trades through the real SDK, and the API key and secret appear in
no output, log, manifest, record or state file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.alpaca_book import AlpacaBook
from quantbot.testing.binance import BinanceServer
from quantbot.testing.binance_book import BinanceBook
from quantbot.testing.binance_futures import BinanceFuturesServer
from quantbot.testing.binance_futures_book import FuturesBook
from quantbot.testing.binance_ws import BinanceWsServer
from tests.integration.daemon import journal_events, read_jsonl, start
from tests.integration.loopback import Servers, ServerThread

MINUTE_MS = 60_000
# Unmistakable values: if either shows up anywhere on disk or in the output, it leaked.
KEY = "e2eKEYa8f3c1d9b7"
SECRET = "e2eSECRETz4q9w2x7v6"

# The market starts two hours back and is moved a minute per tick, so every bar the daemon
# sees is closed (and old): staleness limits are opened up for that, nothing else.
COMMON = {
    "QUANTBOT__MARKET__SOURCE": "venue",
    "QUANTBOT__DATA_CONTRACT__MAX_STALENESS_S": "100000",
    "QUANTBOT__PRETRADE__MAX_DATA_AGE_S": "100000",
    "QUANTBOT__PRETRADE__MAX_QUOTE_AGE_S": "100000",  # the book's quotes are as old as its bars
    "QUANTBOT__PRETRADE__COLLAR_WINDOW_S": "100000",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_VOLUME": "0",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_NOTIONAL": "0",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MAX_PARTICIPATION": "1",
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
    "QUANTBOT__TCA__QUOTE_TIMEOUT_S": "5",  # a loaded test machine: every quote is waited for
}


def _two_hours_back_ms() -> int:
    now = int(time.time() * 1000)
    return now - now % MINUTE_MS - 120 * MINUTE_MS


def binance() -> tuple[Any, dict[str, str]]:
    server = BinanceServer(
        api_key=KEY, api_secret=SECRET, book=BinanceBook(start_ms=_two_hours_back_ms())
    )
    env = {
        "QUANTBOT__VENUE__NAME": "ccxt",
        "QUANTBOT__MARKET__SYMBOLS": '["ETH/USDT", "BTC/USDT"]',
        "QUANTBOT__VENUE__CCXT__POLL_INTERVAL_S": "0.2",
        "QUANTBOT__VENUE__CCXT__TIMEOUT_S": "3",
        "QUANTBOT_CCXT_API_KEY": KEY,
        "QUANTBOT_CCXT_SECRET": SECRET,
    }
    return server, env


def binance_streamed() -> tuple[Any, dict[str, str]]:
    """Spot with bars pushed over the websocket (ccxt.pro), not polled."""
    rest, env = binance()
    ws = BinanceWsServer(rest.book)
    env["QUANTBOT__VENUE__CCXT__STREAM"] = "true"
    return Streamed(rest, ws), env


class Streamed(Servers):
    """The REST server and the websocket on one book: a tick closes candles and pushes."""

    def __init__(self, rest: BinanceServer, ws: BinanceWsServer) -> None:
        super().__init__(rest, ws)
        self.rest, self.ws = rest, ws

    def tick(self, minutes: int) -> Any:
        return self.ws.tick(minutes)


def binance_futures() -> tuple[Any, dict[str, str]]:
    server = BinanceFuturesServer(
        api_key=KEY, api_secret=SECRET, book=FuturesBook(start_ms=_two_hours_back_ms())
    )
    _, env = binance()
    env.update(
        {
            "QUANTBOT__VENUE__CCXT__MARKET_TYPE": "future",
            "QUANTBOT__VENUE__CCXT__MAX_LEVERAGE": "3",
            "QUANTBOT__MARKET__SYMBOLS": '["ETH/USDT:USDT", "BTC/USDT:USDT"]',
        }
    )
    return server, env


def alpaca() -> tuple[Any, dict[str, str]]:
    server = AlpacaServer(
        AlpacaBook(start_ns=_two_hours_back_ms() * 1_000_000), api_key=KEY, api_secret=SECRET
    )
    env = {
        "QUANTBOT__VENUE__NAME": "alpaca",
        "QUANTBOT__MARKET__SYMBOLS": '["AAPL", "MSFT"]',
        "QUANTBOT__VENUE__ALPACA__POLL_INTERVAL_S": "0.2",
        "QUANTBOT__VENUE__ALPACA__TIMEOUT_S": "3",
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": SECRET,
    }
    return server, env


@pytest.mark.e2e
@pytest.mark.parametrize(
    "make",
    [binance, binance_streamed, binance_futures, alpaca],
    ids=["ccxt-binance", "ccxt-binance-websocket", "ccxt-binance-futures", "alpaca"],
)
def test_paper_run_trades_on_the_loopback_venue_and_never_leaks_the_keys(
    workdir: Path, make: Any
) -> None:
    server, env = make()
    with ServerThread(server) as srv:
        if isinstance(server, AlpacaServer):
            srv.call(lambda: server.set_clock(True))  # a session is open
        url_key = "CCXT__BASE_URL" if "QUANTBOT_CCXT_SECRET" in env else "ALPACA__BASE_URL"
        env[f"QUANTBOT__VENUE__{url_key}"] = srv.url
        if isinstance(server, Streamed):
            env["QUANTBOT__VENUE__CCXT__WS_URL"] = server.ws.ws_url
        env["QUANTBOT__VENUE__ALPACA__DATA_URL"] = srv.url
        proc = start(
            workdir, "run", "--execution-mode", "paper", "--duration", "9s", env={**COMMON, **env}
        )
        while proc.poll() is None:  # move the market a minute every 0.1 s while it runs
            srv.call(lambda: server.tick(1))
            time.sleep(0.1)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-3000:]
    [manifest] = (workdir / "runtime" / "manifests").glob("*.json")
    mode = orjson.loads(manifest.read_bytes())["feature_flags"]["market_data"]
    assert mode.startswith("push" if isinstance(server, Streamed) else "poll"), mode

    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    accepted = [r for r in records if (r.get("order") or {}).get("outcome") == "ACCEPTED"]
    assert accepted, "no order was accepted by the loopback venue"
    # TCA from the venue's own quotes (issue 22): each order sent records the bid and ask it
    # arrived at, and each that filled has its spread paid measured from them.
    for r in accepted:
        quote = r["order"]["arrival_quote"]
        assert quote["source"] == "venue" and 0 < quote["bid"] <= quote["ask"], quote
    final = {t["client_order_id"]: t for t in read_jsonl(workdir / "runtime" / "tca.jsonl")}
    filled = [final[c] for c in (r["intent"]["client_order_id"] for r in accepted)
              if c in final and final[c]["fills"]]  # fmt: skip
    assert filled, "no order the desk sent filled"
    assert all((t["spread_source"], t["quote_source"]) == ("quote", "venue") for t in filled)
    events = journal_events(workdir)
    assert any(e["type"] == "FILL" for e in events), "no fill came back through the SDK"
    assert any(e["type"] == "INTENT" for e in events)

    texts = [out, err] + [
        p.read_text(errors="replace")
        for root in (workdir / "runtime", workdir / "state")
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(".sock")
    ]
    for text in texts:
        assert KEY not in text and SECRET not in text
