"""`marketdata.download` with the real ccxt and alpaca-py SDKs against the loopback Binance and
Alpaca servers: pages, resumes, gaps and the instruments file, as a user finds them on disk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.ops import RetryConfig
from quantbot.domain.errors import DataError, VenueUnavailable
from quantbot.marketdata.download import Downloader, DownloadRequest, find_gaps
from quantbot.marketdata.loaders import load_bars
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.alpaca_book import AlpacaBook
from quantbot.testing.binance import BinanceServer
from quantbot.testing.binance_book import BinanceBook, Market
from quantbot.testing.faults import Fault
from quantbot.venues.alpaca.history import AlpacaHistory
from quantbot.venues.ccxt.history import CcxtHistory

MIN = 60_000
DAY_START = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NOW_NS = 1_800_000_000_000_000_000  # long after every bar: all of them are closed
KLINES = "GET /api/v3/klines"
XRP = Market("XRPUSDT", "XRP", "USDT", Decimal("0.0001"), Decimal("0.1"), Decimal(10),
             Decimal("0.6"))  # fmt: skip


@pytest.fixture
async def binance() -> AsyncIterator[BinanceServer]:
    # 1,500 closed minutes before 2024-01-02T00:00Z: all of 2024-01-01 and a bit before.
    book = BinanceBook(start_ms=DAY_START + 1440 * MIN, history_minutes=1500)
    server = BinanceServer(book=book)
    await server.start()
    yield server
    await server.stop()


def server_rows(server: BinanceServer, market_id: str, start: int, end: int) -> list[list]:
    return [
        [k.open_ms, float(k.open), float(k.high), float(k.low), float(k.close), float(k.volume)]
        for k in server.book.klines[market_id]
        if start <= k.open_ms < end
    ]


def file_rows(path: Path) -> list[list]:
    return orjson.loads(path.read_bytes())["ohlcv"]


async def download(
    source, out: Path, *symbols: str, start: int = DAY_START, end: int = DAY_START + 1440 * MIN,
    page: int | None = 500, lines: list[str] | None = None, say=None,
    retry: RetryConfig | None = None, clock: SimClock | None = None,
):  # fmt: skip
    said = lines if lines is not None else []
    downloader = Downloader(
        source,
        clock=clock or SimClock(NOW_NS),
        say=say or said.append,
        **({"retry": retry} if retry else {}),
    )
    try:
        return await downloader.run(DownloadRequest(symbols, "1m", start, end, out, page))
    finally:
        await source.close()


def binance_source(server: BinanceServer) -> CcxtHistory:
    return CcxtHistory("binance", base_url=server.base_url)


async def test_a_paged_download_holds_exactly_the_servers_bars(
    binance: BinanceServer, tmp_path: Path
) -> None:
    [btc, eth] = await download(binance_source(binance), tmp_path, "BTC/USDT", "ETH/USDT")

    assert btc.path == tmp_path / "btc_usdt-1m.json"
    day = (DAY_START, DAY_START + 1440 * MIN)
    assert file_rows(btc.path) == server_rows(binance, "BTCUSDT", *day)
    assert file_rows(eth.path) == server_rows(binance, "ETHUSDT", *day)
    assert binance.requests.count(KLINES) == 6  # 1,440 bars a symbol in pages of 500
    # replay's loader reads it, and names the symbol
    bars = load_bars(btc.path)
    assert bars.symbol == "BTC/USDT" and len(bars) == 1440
    manifest = orjson.loads((tmp_path / "download.json").read_bytes())["files"]
    assert manifest["btc_usdt-1m.json"] == {
        "symbol": "BTC/USDT", "venue": "binance", "timeframe": "1m",
        "first": "2024-01-01T00:00:00Z", "last": "2024-01-01T23:59:00Z", "bars": 1440,
        "missing_bars": 0, "gaps": [],
    }  # fmt: skip
    assert not (
        tmp_path / ".btc_usdt-1m.json.partial"
    ).exists()  # the page journal is gone once saved


async def test_a_longer_second_run_fetches_only_what_is_missing_and_duplicates_nothing(
    binance: BinanceServer, tmp_path: Path
) -> None:
    await download(binance_source(binance), tmp_path, "BTC/USDT", end=DAY_START + 700 * MIN)
    first_requests = binance.requests.count(KLINES)
    lines: list[str] = []

    [btc] = await download(binance_source(binance), tmp_path, "BTC/USDT", lines=lines)

    rows = file_rows(btc.path)
    assert rows == server_rows(binance, "BTCUSDT", DAY_START, DAY_START + 1440 * MIN)
    assert len({r[0] for r in rows}) == len(rows) == 1440
    # 2024-01-01T11:39 (the last bar on disk) to the end: 741 bars, two pages of 500
    assert binance.requests.count(KLINES) - first_requests == 2
    assert btc.fetched == 740
    assert any("700 bars on disk" in line for line in lines)


async def test_a_download_cut_off_by_the_venue_resumes_from_the_pages_it_had(
    binance: BinanceServer, tmp_path: Path
) -> None:
    """The venue fails for good after the first page: that page is kept (journaled), the
    run fails, and the next run goes on from it and ends with every bar once."""

    def first_page_then_outage(line: str) -> None:
        if "bars, up to" in line:
            binance.faults.arm(KLINES, Fault("http_5xx", times=0))

    with pytest.raises(VenueUnavailable):
        await download(binance_source(binance), tmp_path, "BTC/USDT",
                       say=first_page_then_outage,
                       retry=RetryConfig(max_attempts=2, initial_backoff_s=0.1))  # fmt: skip
    assert not (tmp_path / "btc_usdt-1m.json").exists()
    assert len((tmp_path / ".btc_usdt-1m.json.partial").read_bytes().splitlines()) == 500
    assert "BTC/USDT" in orjson.loads((tmp_path / "instruments.json").read_bytes())["instruments"]

    binance.faults.clear()
    before = binance.requests.count(KLINES)
    [btc] = await download(binance_source(binance), tmp_path, "BTC/USDT")

    assert file_rows(btc.path) == server_rows(binance, "BTCUSDT", DAY_START, DAY_START + 1440 * MIN)
    assert binance.requests.count(KLINES) - before == 2  # from bar 500 on, not from the start


async def test_a_rate_limited_page_waits_the_retry_after_and_is_fetched_again(
    binance: BinanceServer, tmp_path: Path
) -> None:
    binance.faults.arm(KLINES, Fault("http_429", times=1, retry_after_s=7))
    clock = SimClock(NOW_NS)
    [btc] = await download(
        binance_source(binance), tmp_path, "BTC/USDT", end=DAY_START + 100 * MIN, clock=clock
    )

    assert clock.monotonic_ns() - NOW_NS >= 7_000_000_000
    assert file_rows(btc.path) == server_rows(binance, "BTCUSDT", DAY_START, DAY_START + 100 * MIN)


async def test_a_gap_the_server_has_is_in_the_manifest_and_on_stderr(
    binance: BinanceServer, tmp_path: Path
) -> None:
    klines = binance.book.klines["BTCUSDT"]
    at = next(i for i, k in enumerate(klines) if k.open_ms == DAY_START + 600 * MIN)
    del klines[at : at + 5]  # 10:00 to 10:04 never traded
    lines: list[str] = []

    [btc] = await download(binance_source(binance), tmp_path, "BTC/USDT", lines=lines)

    assert btc.bars == 1435
    entry = orjson.loads((tmp_path / "download.json").read_bytes())["files"]["btc_usdt-1m.json"]
    assert entry["gaps"] == [
        {"after": "2024-01-01T09:59:00Z", "before": "2024-01-01T10:05:00Z", "missing": 5}
    ]
    assert entry["missing_bars"] == 5
    assert "  gap after 2024-01-01T09:59:00Z, before 2024-01-01T10:05:00Z: 5 bar(s) missing" in (
        lines
    )


async def test_the_instruments_file_has_the_servers_tick_lot_and_min_notional(
    tmp_path: Path,
) -> None:
    server = BinanceServer(book=BinanceBook(markets=(XRP,), start_ms=DAY_START + 60 * MIN,
                                            history_minutes=60))  # fmt: skip
    await server.start()
    try:
        await download(binance_source(server), tmp_path, "XRPUSDT", end=DAY_START + 60 * MIN)
    finally:
        await server.stop()

    instruments = orjson.loads((tmp_path / "instruments.json").read_bytes())["instruments"]
    assert instruments == {
        "XRP/USDT": {"tick_size": "0.0001", "lot_size": "0.1", "min_notional": "10",
                     "quote": "USDT", "shortable": False, "venue": "binance",
                     "source": "binance exchangeInfo"}
    }  # fmt: skip
    assert (tmp_path / "xrp_usdt-1m.json").exists()  # BTCUSDT is spelt as ccxt does


async def test_a_symbol_the_venue_does_not_list_is_refused_before_any_bar(
    binance: BinanceServer, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match=r"--symbols DOGE/USDT: not a market on binance"):
        await download(binance_source(binance), tmp_path, "BTC/USDT", "DOGE/USDT")
    assert binance.requests.count(KLINES) == 0
    assert not (tmp_path / "instruments.json").exists()
    assert not (tmp_path / "btc_usdt-1m.json").exists()


async def test_alpaca_bars_are_paged_through_stock_bars_requests(tmp_path: Path) -> None:
    book = AlpacaBook(start_ns=(DAY_START + 300 * MIN) * 1_000_000, history_minutes=300)
    server = AlpacaServer(book=book)
    port = await server.start()
    url = f"http://127.0.0.1:{port}"
    source = AlpacaHistory(api_key=TEST_KEY, secret=TEST_SECRET, base_url=url, data_url=url)
    try:
        [aapl] = await download(source, tmp_path, "AAPL", end=DAY_START + 300 * MIN, page=120)
    finally:
        await server.stop()

    want = [[b.t // 1_000_000, float(b.o), float(b.h), float(b.low), float(b.c), b.v]
            for b in book.bars["AAPL"]]  # fmt: skip
    assert file_rows(aapl.path) == want and len(want) == 300
    assert server.requests.count("GET /v2/stocks/bars") == 3  # 120 + 120 + 60
    assert load_bars(aapl.path).symbol == "AAPL"
    instruments = orjson.loads((tmp_path / "instruments.json").read_bytes())["instruments"]
    assert instruments["AAPL"] == {
        "tick_size": "0.01", "lot_size": "1", "min_notional": "1", "quote": "USD",
        "shortable": True, "venue": "alpaca", "source": "alpaca assets",
    }  # fmt: skip


def test_gaps_of_a_session_venue_are_counted_inside_a_new_york_day_only() -> None:
    close = 1_704_229_140_000  # 2024-01-02T20:59Z, 15:59 in New York
    next_open = 1_704_288_600_000  # 2024-01-03T13:30Z, 08:30 in New York
    stamps = [close - MIN, close, next_open, next_open + 4 * MIN]
    assert find_gaps(stamps, MIN, sessions=True) == (find_gaps(stamps[2:], MIN, sessions=False))
    [gap] = find_gaps(stamps, MIN, sessions=True)
    assert (gap.after_ms, gap.before_ms, gap.missing) == (next_open, next_open + 4 * MIN, 3)
    assert len(find_gaps(stamps, MIN, sessions=False)) == 2  # crypto: the night is a gap


async def test_the_bar_still_forming_is_not_written(binance: BinanceServer, tmp_path: Path) -> None:
    """Asked up to the present, the venue lists the minute in progress last: not kept, so the
    file never holds a bar whose close is not final."""
    forming_ms = DAY_START + 1440 * MIN  # the loopback book's minute in progress
    [btc] = await download(
        binance_source(binance), tmp_path, "BTC/USDT", start=forming_ms - 10 * MIN,
        end=forming_ms + MIN, page=None, clock=SimClock((forming_ms + 30_000) * 1_000_000),
    )  # fmt: skip

    assert [r[0] for r in file_rows(btc.path)] == [forming_ms - k * MIN for k in range(10, 0, -1)]


async def test_a_file_another_venue_wrote_is_not_added_to(
    binance: BinanceServer, tmp_path: Path
) -> None:
    manifest = {"files": {"btc_usdt-1m.json": {"symbol": "BTC/USDT", "venue": "kraken"}}}
    (tmp_path / "download.json").write_bytes(orjson.dumps(manifest))

    with pytest.raises(DataError, match=r"btc_usdt-1m.json: downloaded from kraken, not binance"):
        await download(binance_source(binance), tmp_path, "BTC/USDT")
    assert binance.requests.count(KLINES) == 0


async def test_five_minute_bars_are_paged_by_their_own_length(
    binance: BinanceServer, tmp_path: Path
) -> None:
    source = binance_source(binance)
    downloader = Downloader(source, clock=SimClock(NOW_NS), say=lambda _line: None)
    end = DAY_START + 1440 * MIN
    try:
        [btc] = await downloader.run(
            DownloadRequest(("BTC/USDT",), "5m", DAY_START, end, tmp_path, 100)
        )
    finally:
        await source.close()

    minutes = server_rows(binance, "BTCUSDT", DAY_START, end)
    want = [
        [chunk[0][0], chunk[0][1], max(r[2] for r in chunk), min(r[3] for r in chunk),
         chunk[-1][4], pytest.approx(sum(r[5] for r in chunk))]
        for chunk in (minutes[i : i + 5] for i in range(0, 1440, 5))
    ]  # fmt: skip
    assert btc.path.name == "btc_usdt-5m.json"
    assert file_rows(btc.path) == want and btc.gaps == ()
    assert binance.requests.count(KLINES) == 3  # 288 bars in pages of 100
    assert load_bars(btc.path)[0].interval_s == 300
