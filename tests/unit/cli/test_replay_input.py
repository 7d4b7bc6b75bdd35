"""What a replay plays: the bars of the files, cut to --symbols and to the UTC days --from
and --to name (both included), one time batch after another."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

from quantbot.cli.replay import data_files
from quantbot.domain.errors import DataError
from quantbot.marketdata.csv_bars import iter_by_time
from quantbot.research.replay import ReplayRequest, load_bars


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


TIMES = ["2026-03-01T23:59", "2026-03-02T00:00", "2026-03-03T23:59", "2026-03-04T00:00"]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    paths = []
    for name, times in (("btc_usdt-1m.json", TIMES), ("eth_usdt-1m.json", TIMES[1:3])):
        rows = [[ms(t), 10.0, 11.0, 9.0, 10.5, 5.0] for t in times]
        path = tmp_path / name
        path.write_bytes(orjson.dumps({"timeframe": "1m", "ohlcv": rows}))
        paths.append(path)
    return paths[0], paths[1]


def test_from_and_to_include_their_whole_utc_days_and_nothing_else(files) -> None:
    request = ReplayRequest(data=files, date_from=date(2026, 3, 2), date_to=date(2026, 3, 3))
    series = load_bars(request)
    batches = [
        [(b.symbol, b.ts_ns // 1_000_000) for b in batch]
        for batch in iter_by_time(list(series.values()))
    ]
    assert batches == [
        [("BTC/USDT", ms(TIMES[1])), ("ETH/USDT", ms(TIMES[1]))],
        [("BTC/USDT", ms(TIMES[2])), ("ETH/USDT", ms(TIMES[2]))],
    ]


def test_symbols_and_an_empty_range(files) -> None:
    only_eth = load_bars(ReplayRequest(data=files, symbols=("ETH/USDT",)))
    assert list(only_eth) == ["ETH/USDT"] and len(only_eth["ETH/USDT"]) == 2
    late = load_bars(ReplayRequest(data=files, date_from=date(2026, 3, 4)))
    assert list(late) == ["BTC/USDT"]  # ETH has no bar that day: not in the replay
    with pytest.raises(DataError) as empty:
        load_bars(ReplayRequest(data=files, date_from=date(2026, 3, 5)))
    assert str(empty.value) == (
        "no bars between --from 2026-03-05 and --to (end): the data runs 2026-03-01 .. 2026-03-04"
    )


def test_a_symbol_the_files_do_not_hold_is_an_error_naming_what_they_hold(files) -> None:
    # A typo must not quietly replay less than was asked for.
    with pytest.raises(DataError) as typo:
        load_bars(ReplayRequest(data=files, symbols=("ETH/USDT", "ETH/USD")))
    assert str(typo.value) == (
        "--symbols ETH/USD: not in the data (the files hold BTC/USDT, ETH/USDT)"
    )


def test_a_directory_stands_for_its_bar_files_sorted_by_name(files, tmp_path: Path) -> None:
    (tmp_path / ".hidden.csv").write_text("not bars")
    (tmp_path / "notes.txt").write_text("not bars")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.csv").write_text("not bars")
    assert data_files([tmp_path]) == (files[0], files[1])
    assert data_files([files[1], tmp_path / "sub"]) == (files[1], tmp_path / "sub" / "x.csv")
    with pytest.raises(DataError, match=r"no such file or directory: .*nope\.json"):
        data_files([files[0], tmp_path / "nope.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: a directory with no \.csv or \.json files"):
        data_files([tmp_path / "empty"])
