"""`quantbot data download`'s argument checks: each mistake exits 2 with a message naming it,
before any request leaves the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.cli import data
from quantbot.cli.main import _parser, main
from quantbot.clock import SimClock
from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.binance import BinanceServer
from quantbot.testing.binance_book import BinanceBook
from quantbot.testing.faults import Fault
from tests.integration.loopback import ServerThread

MIN = 60_000
DAY_START = 1_704_067_200_000  # 2024-01-01T00:00:00Z
BASE = ["data", "download", "--symbols", "BTC/USDT", "--from", "2024-01-01", "--to", "2024-01-02"]


def exit_and_stderr(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's own refusals
        status = int(e.code or 0)
    return status, capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--venue", "kraken"], "argument --venue: invalid choice: 'kraken'"),
        (["--venue", "binance", "--timeframe", "7q"], "--timeframe: timeframe '7q' is not like"),
        (["--venue", "binance", "--timeframe", "7m"], "--timeframe '7m': binance has 1s, 1m"),
        (["--venue", "alpaca", "--timeframe", "2d"], "alpaca takes 1m..59m, 1h..23h or 1d"),
        (["--venue", "binance", "--page-size", "0"], "--page-size 0: must be at least 1"),
    ],
)
def test_a_bad_venue_or_timeframe_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    status, err = exit_and_stderr(capsys, [*BASE, "--out", str(tmp_path / "d"), *extra])
    assert status == 2
    assert message in err
    assert not (tmp_path / "d").exists()


def test_from_after_to_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["data", "download", "--venue", "binance", "--symbols", "BTC/USDT",
            "--from", "2024-01-03", "--to", "2024-01-02", "--out", str(tmp_path)]  # fmt: skip
    status, err = exit_and_stderr(capsys, argv)
    assert (status, err.strip()) == (
        2, "quantbot: data error: --from 2024-01-03 is after --to 2024-01-02: nothing to download"
    )  # fmt: skip


def test_a_malformed_date_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["data", "download", "--venue", "binance", "--symbols", "BTC/USDT",
            "--from", "01/02/2024", "--out", str(tmp_path)]  # fmt: skip
    status, err = exit_and_stderr(capsys, argv)
    assert status == 2
    assert "'01/02/2024' is not a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM)" in err


def test_alpaca_without_keys_in_the_environment_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    argv = ["data", "download", "--venue", "alpaca", "--symbols", "AAPL",
            "--from", "2024-01-02", "--out", str(tmp_path)]  # fmt: skip
    status, err = exit_and_stderr(capsys, argv)
    assert status == 2
    assert "alpaca needs an API key: set APCA_API_KEY_ID and APCA_API_SECRET_KEY" in err


def test_a_venue_that_keeps_failing_exits_1_keeping_what_it_fetched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = BinanceServer(book=BinanceBook(start_ms=DAY_START + 1440 * MIN, history_minutes=1500))
    argv = ["data", "download", "--venue", "binance", "--symbols", "BTC/USDT", "--from",
            "2024-01-01", "--to", "2024-01-01", "--out", str(tmp_path),
            "--page-size", "500"]  # fmt: skip
    with ServerThread(server) as loop:
        args = _parser().parse_args([*argv, "--base-url", loop.url])

        def outage_after_the_first_page() -> None:
            # the first page is served (a zero delay), every later one refused
            server.faults.arm("GET /api/v3/klines", Fault("delay", times=1))
            server.faults.arm("GET /api/v3/klines", Fault("http_5xx", times=0))

        loop.call(outage_after_the_first_page)
        status = data.run(args, clock=SimClock(1_800_000_000 * 10**9))

    err = capsys.readouterr().err
    assert status == 1
    assert err.count("failed (NET_RETRY") == 4  # five attempts at the page, then it stops
    assert "data download: binance failed: VenueUnavailable: ExchangeError: binance" in err
    assert "the bars fetched so far are kept; run the same command again to resume" in err
    assert len((tmp_path / ".btc_usdt-1m.json.partial").read_bytes().splitlines()) == 500


def test_alpaca_keys_the_venue_refuses_exit_1_with_a_hint_and_are_never_shown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", "PKwrongKEY4f8d2a")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrongSECRETq0z7")
    with ServerThread(AlpacaServer()) as loop:
        args = _parser().parse_args(["data", "download", "--venue", "alpaca", "--symbols", "AAPL",
                                     "--from", "2024-01-02", "--to", "2024-01-02", "--out",
                                     str(tmp_path), "--base-url", loop.url])  # fmt: skip
        status = data.run(args, clock=SimClock(1_800_000_000 * 10**9))

    err = capsys.readouterr().err
    assert status == 1
    assert "data download: alpaca failed: VenueAuthError" in err
    assert "refused by Alpaca's paper API: are they a live account's? (add --live-account)" in err
    assert "PKwrongKEY4f8d2a" not in err and "wrongSECRETq0z7" not in err
