"""`quantbot data download` as a user runs it, against the loopback Binance and Alpaca servers
(never the internet): the files it leaves, a download killed half way and run again, and
`quantbot replay` reading what it wrote."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.alpaca_book import AlpacaBook
from quantbot.testing.binance import BinanceServer
from quantbot.testing.binance_book import BinanceBook
from quantbot.testing.faults import Fault
from tests.integration.daemon import REPO_ROOT, run, start, wait_until
from tests.integration.loopback import ServerThread

MIN = 60_000
DAY_START = 1_704_067_200_000  # 2024-01-01T00:00:00Z
KLINES = "GET /api/v3/klines"
# Unmistakable: if either shows up in any output or file, it leaked.
KEY, SECRET = "dlKEYq7w3e9r1t", "dlSECRETm2n8b4v6c0"


def binance_server() -> BinanceServer:
    return BinanceServer(book=BinanceBook(start_ms=DAY_START + 1440 * MIN, history_minutes=1500))


def server_rows(server: BinanceServer, market_id: str) -> list[list]:
    return [
        [k.open_ms, float(k.open), float(k.high), float(k.low), float(k.close), float(k.volume)]
        for k in server.book.klines[market_id]
        if DAY_START <= k.open_ms < DAY_START + 1440 * MIN
    ]


def rows(path: Path) -> list[list]:
    return orjson.loads(path.read_bytes())["ohlcv"]


def download(url: str, out: Path, *extra: str) -> tuple[str, ...]:
    return ("data", "download", "--venue", "binance", "--timeframe", "1m", "--from", "2024-01-01",
            "--to", "2024-01-01", "--out", str(out), "--base-url", url, *extra)  # fmt: skip


@pytest.mark.e2e
def test_a_download_replay_reads_with_its_gap_reported(tmp_path: Path) -> None:
    server = binance_server()
    klines = server.book.klines["BTCUSDT"]
    at = next(i for i, k in enumerate(klines) if k.open_ms == DAY_START + 300 * MIN)
    del klines[at : at + 3]  # 05:00 to 05:02 never traded
    out = tmp_path / "data"
    with ServerThread(server) as loop:
        result = run(tmp_path, *download(loop.url, out, "--symbols", "BTC/USDT", "ETH/USDT",
                                         "--page-size", "500"))  # fmt: skip
        requests = loop.call(lambda: server.requests.count(KLINES))

    assert result.returncode == 0, result.stderr
    assert requests == 6  # 1,440 minutes a symbol, pages of 500
    assert rows(out / "btc_usdt-1m.json") == server_rows(server, "BTCUSDT")
    assert rows(out / "eth_usdt-1m.json") == server_rows(server, "ETHUSDT")
    assert "data download: binance BTC/USDT: 1 gap(s), 3 bar(s) missing:" in result.stderr
    assert "gap after 2024-01-01T04:59:00Z, before 2024-01-01T05:03:00Z: 3 bar(s)" in result.stderr
    assert f"{out / 'btc_usdt-1m.json'}\tBTC/USDT\t1437 bars\t1 gaps" in result.stdout
    instruments = orjson.loads((out / "instruments.json").read_bytes())["instruments"]
    assert instruments["ETH/USDT"]["lot_size"] == "0.0001"
    assert instruments["BTC/USDT"]["min_notional"] == "5"

    files = (str(out / "btc_usdt-1m.json"), str(out / "eth_usdt-1m.json"))
    config = str(REPO_ROOT / "config.toml")
    replay = run(tmp_path, "replay", "--config", config, "--data", *files, timeout=300)
    assert replay.returncode == 0, replay.stderr[-3000:]
    assert "2,877 of 2,877 bars" in replay.stderr  # every downloaded bar of both files
    assert "(2024-01-01 .. 2024-01-01)" in replay.stdout
    [summary_line] = [line for line in replay.stdout.splitlines() if "summary:" in line]
    summary = orjson.loads((tmp_path / summary_line.split()[-1]).read_bytes())
    # the replay took each symbol's instrument from the venue's metadata the download wrote
    assert summary["instruments"]["BTC/USDT"] == {
        "tick_size": "0.01", "lot_size": "0.00001", "min_notional": "5", "quote": "USDT",
        "shortable": False, "source": f"file:{out / 'instruments.json'}",
    }  # fmt: skip


@pytest.mark.e2e
def test_a_download_killed_half_way_is_completed_by_the_next_run_without_duplicates(
    tmp_path: Path,
) -> None:
    server = binance_server()
    out = tmp_path / "data"
    journal = out / ".btc_usdt-1m.json.partial"
    with ServerThread(server) as loop:
        # Slow pages, so the run is still going when it is killed.
        loop.call(lambda: server.faults.arm(KLINES, Fault("delay", times=0, delay_s=0.3)))
        cli = download(loop.url, out, "--symbols", "BTC/USDT", "--page-size", "100")
        proc = start(tmp_path, *cli)
        try:
            wait_until(lambda: journal.exists() and len(journal.read_bytes().splitlines()) >= 300,
                       timeout=60, what="three pages on disk", proc=proc)  # fmt: skip
        finally:
            proc.kill()
            proc.communicate()
        assert not (out / "btc_usdt-1m.json").exists()
        kept = len(journal.read_bytes().splitlines())
        loop.call(server.faults.clear)
        before = loop.call(lambda: server.requests.count(KLINES))
        again = run(tmp_path, *cli)
        after = loop.call(lambda: server.requests.count(KLINES))

    assert again.returncode == 0, again.stderr
    assert f"binance BTC/USDT: {kept:,} bars on disk" in again.stderr
    saved = rows(out / "btc_usdt-1m.json")
    assert saved == server_rows(server, "BTCUSDT")
    assert len({r[0] for r in saved}) == len(saved) == 1440
    assert after - before < 15 - kept // 100 + 2  # it went on from the journal, not from 00:00
    assert not journal.exists()


@pytest.mark.e2e
def test_alpaca_download_uses_the_keys_from_the_environment_and_never_shows_them(
    tmp_path: Path,
) -> None:
    start_ns = (DAY_START + 14 * 60 * MIN) * 1_000_000  # 2024-01-01T14:00Z
    server = AlpacaServer(AlpacaBook(start_ns=start_ns, history_minutes=240), api_key=KEY,
                          api_secret=SECRET)  # fmt: skip
    out = tmp_path / "stocks"
    env = {"APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET}
    with ServerThread(server) as loop:
        result = run(tmp_path, "data", "download", "--venue", "alpaca", "--symbols", "AAPL",
                     "MSFT", "--from", "2024-01-01T10:00", "--to", "2024-01-01T14:00", "--out",
                     str(out), "--base-url", loop.url, "--page-size", "100", env=env)  # fmt: skip

    assert result.returncode == 0, result.stderr
    for symbol in ("AAPL", "MSFT"):
        want = [[b.t // 1_000_000, float(b.o), float(b.h), float(b.low), float(b.c), b.v]
                for b in server.book.bars[symbol]]  # fmt: skip
        assert rows(out / f"{symbol.lower()}-1m.json") == want and len(want) == 240
    written = b"".join(p.read_bytes() for p in out.iterdir())
    for secret in (KEY, SECRET):
        assert secret not in result.stdout + result.stderr
        assert secret.encode() not in written
