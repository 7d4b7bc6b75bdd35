"""TCA from real quotes: the bid and ask each order arrived at, read from the real SDKs on the
loopback venues (Alpaca's latest quote, the Binance ticker through ccxt) or from the embedded
venue's spread model, measured into the TCA row; without one, the proxy price the config
names, and the row says which and why."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
import pytest

from quantbot.analytics.arrival import ArrivalQuotes
from quantbot.analytics.tca import TcaRecorder
from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import PretradeConfig, TcaConfig
from quantbot.domain.values import Bar, Instrument, OrderIntent, Quote, Side, SubmitOutcome
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.ops.runtime_contract import TESTING_ENV
from quantbot.testing.faults import Fault
from quantbot.venues.base import Capabilities
from quantbot.venues.sim.venue import SimVenue
from tests.contract.harness import AlpacaHarness, BinanceFuturesHarness, BinanceHarness

BPS = Decimal(10_000)


@pytest.fixture(autouse=True)
def testing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TESTING_ENV, "1")  # the embedded venue's harness wraps it in a double


def order(
    cid: str, symbol: str, qty: str, side: Side = Side.BUY, price: str = "100"
) -> OrderIntent:
    return OrderIntent(cid, f"{symbol}@1", symbol, side, Decimal(qty), bar_ts_ns=1,
                       arrival_price=Decimal(price))  # fmt: skip


def bar(symbol: str, close: float, ts_ns: int = 0) -> Bar:
    return Bar(symbol, ts_ns, close, close + 1, close - 1, close, 1e6, 60.0)


def tca_rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


async def measured(
    h: Any, quotes: ArrivalQuotes, intent: OrderIntent, *, reducing: bool
) -> dict[str, Any]:
    """One order as the desk sends it: decided, its quote begun, submitted, its quote
    collected, its fills booked; the last TCA row."""
    clock, venue = SimClock(1_000 * NS_PER_S), h.venue
    tca = TcaRecorder(h.root / "tca.jsonl", clock, TcaConfig())
    tca.on_decision(intent, decision_ts_ns=clock.now_ns(), decision_price=intent.arrival_price,
                    sleeve="trend", profile="balanced", venue=venue.name)  # fmt: skip
    pending = quotes.begin(intent, reducing=reducing)
    result = await venue.submit(intent)
    assert result.outcome is SubmitOutcome.ACCEPTED  # the order went, whatever the quote did
    tca.on_arrival(intent.client_order_id, await quotes.end(pending))
    tca.on_submitted(intent.client_order_id, outcome="ACCEPTED", reason_code=None,
                     submit_price=intent.arrival_price)  # fmt: skip
    await h.market_moves()  # the market order meets the market
    for f in await venue.fills_since(0):
        if f.client_order_id == intent.client_order_id:
            tca.on_fill(f)
    tca.close()
    return tca_rows(h.root / "tca.jsonl")[-1]


def spread_paid(row: dict[str, Any], reference: Decimal) -> float:
    side = 1 if row["side"] == "BUY" else -1
    vwap = Decimal(row["fill_vwap"])
    return float((side * (vwap - reference) / reference * BPS).quantize(Decimal("0.0001")))


async def test_alpaca_the_latest_quote_at_arrival_is_in_the_row_and_spread_paid_from_its_mid(
    tmp_path: Path,
) -> None:
    h = AlpacaHarness(tmp_path)
    venue = await h.open()
    try:
        bid, ask = h.server.book.touch("AAPL")
        quotes = ArrivalQuotes(venue, TcaConfig())
        row = await measured(h, quotes, order("qa-1", "AAPL", "2"), reducing=True)
    finally:
        await h.close()
    assert row["status"] == "filled"
    assert row["spread_source"] == "quote" and row["quote_source"] == "venue"
    assert (Decimal(row["quote"]["bid"]), Decimal(row["quote"]["ask"])) == (bid, ask)
    mid = (bid + ask) / 2
    assert row["spread_paid_bps"] == spread_paid(row, mid)  # measured, not half the proxy
    assert row["spread_paid_bps"] != TcaConfig().proxy_spread_bps / 2
    assert row["quoted_spread_bps"] == float(((ask - bid) / mid * BPS).quantize(Decimal("0.0001")))
    assert "GET /v2/stocks/quotes/latest" in h.server.requests


async def test_a_slow_quote_never_holds_the_order_and_the_row_says_proxy_and_why(
    tmp_path: Path,
) -> None:
    h = BinanceHarness(tmp_path)
    venue = await h.open()
    try:
        h.server.faults.arm("GET /api/v3/ticker/24hr", Fault("delay", delay_s=0.8))
        quotes = ArrivalQuotes(venue, TcaConfig(quote_timeout_s=0.1))
        quotes.on_bar(bar("ETH/USDT", 2000.0))
        started = time.monotonic()
        row = await measured(
            h, quotes, order("qb-1", "ETH/USDT", "0.01", price="2000"),
            reducing=True,
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        await h.close()
    assert took < 0.7  # the 0.8 s quote was not waited for
    assert row["status"] == "filled"
    assert row["quote"] is None and row["spread_source"] == "proxy"
    assert row["quote_missing"].startswith("timeout")
    assert (row["proxy_source"], Decimal(row["proxy_price"])) == ("bar_close", Decimal(2000))
    assert row["spread_paid_bps"] == spread_paid(row, Decimal(2000))


async def test_an_order_adding_risk_takes_the_quote_gates_read_and_reads_no_second(
    tmp_path: Path,
) -> None:
    h = BinanceHarness(tmp_path)
    venue = await h.open()
    try:
        gate = QuoteGate(PretradeConfig(), h.clock, venue)
        quotes = ArrivalQuotes(venue, TcaConfig(), gate)
        intent = order("qb-2", "ETH/USDT", "0.01", price="2000")
        pending = quotes.begin(intent, reducing=False)

        async def read(dependency: str, fn: Any) -> Any:
            return await fn()

        _, blocked = await gate.check(intent, reducing=False, read=read)  # the OMS's gate
        assert blocked is None
        arrival = await quotes.end(pending)
        bid, ask = h.server.book.bid_ask("ETHUSDT")
    finally:
        await h.close()
    assert arrival.source == "venue"
    assert (arrival.quote.bid, arrival.quote.ask) == (float(bid), float(ask))
    assert h.server.requests.count("GET /api/v3/ticker/24hr") == 1


async def test_the_embedded_venue_quotes_from_its_spread_model(tmp_path: Path) -> None:
    clock = SimClock(1_000 * NS_PER_S)
    venue = SimVenue(clock=clock, instruments={"SIMA": Instrument("SIMA", "0.01", "1", "1")},
                     state_path=tmp_path / "sim_venue.json", initial_cash=Decimal(100_000),
                     fee_bps=0, slippage_bps=5, participation_cap=1.0)  # fmt: skip
    await venue.connect()
    venue.on_bar(bar("SIMA", 100.0))
    quotes = ArrivalQuotes(venue, TcaConfig())
    arrival = await quotes.end(quotes.begin(order("qs-1", "SIMA", "5"), reducing=False))
    assert arrival.source == "venue_model" and arrival.missing is None
    # around its mark, as far out as a market order pays there (5 bps of slippage)
    assert (arrival.quote.bid, arrival.quote.ask) == (99.95, 100.05)
    assert arrival.to_record()["source"] == "venue_model"


NO_QUOTES = Capabilities(frozenset(), frozenset(), Decimal(1), False, False)


@attrs.define
class BarsOnly:
    """A venue with no quote at all (as a bar feed without a book)."""

    name: str = "bars"
    capabilities: Capabilities = NO_QUOTES


async def test_without_a_quote_the_proxy_source_is_the_configured_price_or_says_what_stood_in() -> (
    None
):
    venue = BarsOnly()
    picks = {}
    for source in ("bar_close", "last_close", "last_trade"):
        quotes = ArrivalQuotes(venue, TcaConfig(proxy_source=source))
        quotes.on_bar(bar("X", 100.0))
        quotes.on_bar(bar("X", 101.0, 60))
        arrival = await quotes.end(quotes.begin(order("q", "X", "1"), reducing=False))
        assert arrival.quote is None and arrival.missing == "the venue serves no quote"
        picks[source] = (arrival.proxy_source, arrival.proxy_price)
    assert picks == {
        "bar_close": ("bar_close", 101.0),
        "last_close": ("last_close", 100.0),
        "last_trade": ("bar_close", 101.0),  # no venue trade known: the bar's close, said
    }


async def test_the_loopbacks_speak_the_single_symbol_quote_and_the_depth_endpoints(
    tmp_path: Path,
) -> None:
    alpaca, binance = AlpacaHarness(tmp_path), BinanceHarness(tmp_path)
    await alpaca.open()
    venue = await binance.open()
    try:
        async with aiohttp.ClientSession() as http:
            got = await http.get(f"{alpaca.url}/v2/stocks/AAPL/quotes/latest",
                                 headers=alpaca_headers())  # fmt: skip
            body = await got.json()
        book = await venue._exchange.fetch_order_book("ETH/USDT")  # ccxt's own call
        bid, ask = binance.server.book.bid_ask("ETHUSDT")
        touch = alpaca.server.book.touch("AAPL")
    finally:
        await alpaca.close()
        await binance.close()
    assert got.status == 200 and body["symbol"] == "AAPL"
    assert (Decimal(str(body["quote"]["bp"])), Decimal(str(body["quote"]["ap"]))) == touch
    assert (book["bids"][0][0], book["asks"][0][0]) == (float(bid), float(ask))
    assert "GET /api/v3/depth" in binance.server.requests


def alpaca_headers() -> dict[str, str]:
    from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET

    return {"APCA-API-KEY-ID": TEST_KEY, "APCA-API-SECRET-KEY": TEST_SECRET}


async def test_the_futures_loopback_speaks_depth_too(tmp_path: Path) -> None:
    h = BinanceFuturesHarness(tmp_path)
    venue = await h.open()
    try:
        book = await venue._exchange.fetch_order_book("ETH/USDT:USDT")  # ccxt's own call
        bid, ask = h.server.book.bid_ask("ETHUSDT")
    finally:
        await h.close()
    assert (book["bids"][0][0], book["asks"][0][0]) == (float(bid), float(ask))
    assert "GET /fapi/v1/depth" in h.server.requests


QUOTES_ONLY = attrs.evolve(NO_QUOTES, quotes=True)


@attrs.define
class CrossedBook:
    """A venue whose quote read answers a crossed book that still names its last trade."""

    name: str = "crossed"
    capabilities: Capabilities = QUOTES_ONLY

    async def quote(self, symbol: str) -> Quote:
        return Quote(symbol, 0, bid=101.0, ask=100.0, last=100.4)


async def test_a_crossed_quote_is_no_quote_but_its_last_trade_is_the_proxy() -> None:
    quotes = ArrivalQuotes(CrossedBook(), TcaConfig(proxy_source="last_trade"))
    quotes.on_bar(bar("X", 99.0))
    arrival = await quotes.end(quotes.begin(order("q", "X", "1"), reducing=True))
    assert arrival.quote is None and arrival.missing.startswith("no two-sided market")
    assert (arrival.proxy_source, arrival.proxy_price) == ("last_trade", 100.4)
