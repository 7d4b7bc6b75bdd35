"""ccxt OHLCV JSON files: both shapes, symbol and interval, and bad elements with file:line."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata import ohlcv_json
from quantbot.marketdata.ohlcv_json import load_ohlcv_json, timeframe_seconds

T0_MS = 1_704_067_200_000  # 2024-01-01T00:00Z
ROWS = [
    [T0_MS, 42283.58, 42298.62, 42261.02, 42298.61, 35.92724],
    [T0_MS + 60_000, 42298.62, 42320.0, 42298.61, 42320.0, 21.07582],
    [T0_MS + 120_000, 42319.99, 42331.54, 42317.84, 42325.01, 11.45976],
]


def expected(symbol: str, interval_s: float, rows: list[list[float]] = ROWS) -> list[Bar]:
    return [Bar(symbol, int(r[0]) * 1_000_000, *r[1:], interval_s) for r in rows]  # type: ignore[arg-type]


def one_per_line(rows: list[object]) -> str:
    """A bare array with element i on line i + 2 (line 1 is the ``[``)."""
    return "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bare_array_takes_symbol_from_file_name_and_interval_from_spacing(tmp_path: Path) -> None:
    path = write(tmp_path, "btc_usdt-1m-2024-01.json", json.dumps(ROWS))
    assert list(load_ohlcv_json(path)) == expected("BTC/USDT", 60.0)


def test_object_gives_symbol_and_timeframe_whatever_the_key_order(tmp_path: Path) -> None:
    obj = {"ohlcv": ROWS[:1], "exchange": "binance", "timeframe": "4h", "symbol": "ETH/USDT"}
    text = json.dumps(obj)
    bars = load_ohlcv_json(write(tmp_path, "dump.json", text))
    assert list(bars) == expected("ETH/USDT", 14_400.0, ROWS[:1])  # one bar: the timeframe says 4h


def test_symbol_argument_wins_over_file_and_object(tmp_path: Path) -> None:
    text = json.dumps({"symbol": "ETH/USDT", "ohlcv": ROWS})
    bars = load_ohlcv_json(write(tmp_path, "ETH_USDT.json", text), symbol="XBT")
    assert {b.symbol for b in bars} == {"XBT"}


def test_missing_bar_does_not_widen_the_interval(tmp_path: Path) -> None:
    gappy = [ROWS[0], [T0_MS + 180_000, *ROWS[1][1:]], [T0_MS + 240_000, *ROWS[2][1:]]]
    bars = load_ohlcv_json(write(tmp_path, "SOL_USDT.json", json.dumps(gappy)))
    assert [b.interval_s for b in bars] == [60.0, 60.0, 60.0]
    assert bars[1].ts_ns - bars[0].ts_ns == 180 * NS_PER_S


def test_integer_prices_and_a_bom_are_read(tmp_path: Path) -> None:
    path = tmp_path / "X.json"
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps([[0, 1, 2, 1, 2, 0], [86_400_000, 2, 3, 1, 3, 5]]).encode()
    )
    assert list(load_ohlcv_json(path)) == [
        Bar("X", 0, 1.0, 2.0, 1.0, 2.0, 0.0, 86_400.0),
        Bar("X", 86_400 * NS_PER_S, 2.0, 3.0, 1.0, 3.0, 5.0, 86_400.0),
    ]


def test_empty_array_is_no_bars(tmp_path: Path) -> None:
    assert len(load_ohlcv_json(write(tmp_path, "X.json", "[]"))) == 0
    assert len(load_ohlcv_json(write(tmp_path, "Y.json", '{"ohlcv": []}'))) == 0


@pytest.mark.parametrize(
    ("timeframe", "seconds"),
    [("15s", 15), ("1m", 60), ("5m", 300), ("4h", 14_400), ("1d", 86_400), ("1w", 604_800),
     ("1M", 2_592_000), ("1y", 31_536_000)],
)  # fmt: skip
def test_timeframes_follow_ccxt_units(timeframe: str, seconds: int) -> None:
    assert timeframe_seconds(timeframe) == seconds


@pytest.mark.parametrize("timeframe", ["", "m", "0m", "1x", "1.5h", "1 m", "60"])
def test_unknown_timeframes_are_refused(timeframe: str) -> None:
    with pytest.raises(ValueError, match="timeframe"):
        timeframe_seconds(timeframe)


GOOD = ROWS[0]
LATER = ROWS[1]


@pytest.mark.parametrize(
    ("bad", "text"),
    [
        ([T0_MS + 60_000, 1.0, 2.0, 0.5], "expected [timestamp_ms, open, high, low, close, vol"),
        ({"t": T0_MS + 60_000}, "expected [timestamp_ms"),
        ([T0_MS + 60_000, "42298.62", 42320.0, 42298.61, 42320.0, 1.0], "open must be a number"),
        ([T0_MS + 60_000, 1.0, 2.0, 0.5, 1.5, None], "volume must be a number, got None"),
        ([True, 1.0, 2.0, 0.5, 1.5, 1.0], "timestamp must be a whole number"),
        ([1704067260000.5, 1.0, 2.0, 0.5, 1.5, 1.0], "timestamp must be a whole number"),
        ([-60_000, 1.0, 2.0, 0.5, 1.5, 1.0], "timestamp must be a whole number of ms >= 0"),
        ([T0_MS + 60_000, 1.0, 0.5, 2.0, 1.5, 1.0], "high 0.5 < low 2.0 (DATA_OHLC_INCONSISTENT)"),
        ([T0_MS + 60_000, 3.0, 2.0, 0.5, 1.5, 1.0], "open 3.0 or close 1.5 outside"),
        ([T0_MS + 60_000, 0.0, 2.0, 0.0, 1.5, 1.0], "open 0.0 is not > 0 (DATA_NON_POSITIVE)"),
        ([T0_MS + 60_000, 1.0, 2.0, 0.5, 1.5, -1.0], "volume -1.0 is not >= 0"),
        ([T0_MS, 1.0, 2.0, 0.5, 1.5, 1.0], "not ascending (duplicate time)"),
        ([T0_MS - 60_000, 1.0, 2.0, 0.5, 1.5, 1.0], "not ascending (time goes backwards)"),
    ],
)  # fmt: skip
def test_bad_element_names_file_line_index_and_what_is_wrong(
    tmp_path: Path, bad: object, text: str
) -> None:
    path = write(
        tmp_path, "BTC_USDT.json", one_per_line([GOOD, bad, [T0_MS + 600_000, *LATER[1:]]])
    )
    with pytest.raises(DataError) as caught:
        load_ohlcv_json(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: element [1]: ")
    assert text in message


def test_non_finite_price_is_reported_by_its_contract_code(tmp_path: Path) -> None:
    path = write(tmp_path, "X.json", f"[{json.dumps(GOOD)},\n [{T0_MS + 60_000}, NaN, 2, 1, 1, 1]]")
    with pytest.raises(
        DataError, match=r"X\.json:2: element \[1\]: open is nan \(DATA_NON_FINITE\)"
    ):
        load_ohlcv_json(path)


def test_line_is_found_deep_in_a_pretty_printed_object(tmp_path: Path) -> None:
    rows: list[object] = [[T0_MS + i * 60_000, 10.0, 11.0, 9.0, 10.5, 1.0] for i in range(800)]
    rows[517] = [T0_MS + 517 * 60_000, 10.0, 11.0, 9.0, 10.5, "lots"]
    obj = {"symbol": "BTC/USDT", "note": 'a, [tricky] "string"\n', "ohlcv": rows}
    text = json.dumps(obj, indent=2)
    # every element spans 8 lines ("[", six numbers, "]"); the array opens on line 4
    path = write(tmp_path, "dump.json", text)
    assert text.splitlines()[4 + 517 * 8].strip() == "["
    with pytest.raises(DataError) as caught:
        load_ohlcv_json(path)
    assert str(caught.value).startswith(f"{path}:{5 + 517 * 8}: element [517]: volume must be")


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("[\n  [1, 2, 3, 4, 5, 6],\n  [1, 2, 3\n]", 4, "invalid JSON"),
        ('{\n "symbol": "X",\n "bars": []\n}', 1, 'object has no "ohlcv" array'),
        ('{\n "symbol": "X",\n "ohlcv": {"a": 1}\n}', 3, '"ohlcv" is not an array'),
        ('{\n "symbol": 5,\n "ohlcv": []\n}', 2, '"symbol" must be a non-empty string'),
        ('{\n "ohlcv": [],\n "timeframe": "1 minute"\n}', 3, "timeframe '1 minute'"),
        ('"hello"', 1, "expected an array of OHLCV arrays"),
    ],
)
def test_bad_file_structure_names_file_and_line(
    tmp_path: Path, text: str, line: int, what: str
) -> None:
    path = write(tmp_path, "X.json", text)
    with pytest.raises(DataError) as caught:
        load_ohlcv_json(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert what in str(caught.value)


def test_one_bar_without_timeframe_cannot_tell_its_interval(tmp_path: Path) -> None:
    with pytest.raises(DataError, match='one bar and no "timeframe"'):
        load_ohlcv_json(write(tmp_path, "X.json", json.dumps([GOOD])))


def test_unreadable_files_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_ohlcv_json(tmp_path / "missing.json")
    (tmp_path / "latin.json").write_bytes(b"[\xff]")
    with pytest.raises(DataError, match="cannot read"):
        load_ohlcv_json(tmp_path / "latin.json")


# -- a bare array is read a block at a time --------------------------------------------------------
def _random_rows(count: int) -> list[list[object]]:
    """Rows whose prices use every digit a float can print (and some whole numbers)."""
    rng = random.Random(11)
    rows: list[list[object]] = []
    price = 100.0
    for i in range(count):
        price *= math.exp(rng.gauss(0.0, 0.01))
        high, low = price * (1 + rng.random() / 100), price * (1 - rng.random() / 100)
        volume: object = rng.randrange(0, 50) if i % 7 == 0 else rng.random() * 1e4
        rows.append([T0_MS + i * 60_000, price, high, low, price, volume])
    return rows


def _object(rows: list[list[object]], **keys: object) -> dict[str, object]:
    return {**keys, "ohlcv": rows}  # "ohlcv" last, as ccxt users write it


@pytest.mark.parametrize(
    "dumps",
    [
        json.dumps,
        lambda rows: json.dumps(rows, separators=(",", ":")),
        lambda rows: json.dumps(rows, indent=2),
        lambda rows: "[" + " , ".join(json.dumps(r) for r in rows) + "]",  # no "]," to cut at
        lambda rows: "\ufeff\n " + json.dumps(rows) + " \n",
        lambda rows: json.dumps(_object(rows, symbol="SOL/USDT", timeframe="1m")),
        lambda rows: json.dumps(_object(rows, exchange="binance", timeframe="1m"), indent=2),
        lambda rows: json.dumps(_object(rows, symbol="SOL/USDT"), separators=(",", ":")),
        lambda rows: "\ufeff" + json.dumps(_object(rows)) + "\n",
    ],
    ids=[
        "spaced", "compact", "indented", "spaced-commas", "bom-and-whitespace",
        "object", "object-indented", "object-compact", "object-bom",
    ],
)  # fmt: skip
def test_a_file_read_in_blocks_gives_what_the_whole_document_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dumps
) -> None:
    monkeypatch.setattr(ohlcv_json, "_BLOCK", 97)  # many cuts, mid-number and mid-row
    rows = _random_rows(300)
    path = write(tmp_path, "SOL_USDT.json", dumps(rows))
    streamed = ohlcv_json._streamed(path, None)
    assert streamed is not None  # not the whole-document path
    whole = ohlcv_json._whole_document(path, None)
    assert len(streamed) == 300
    assert streamed.symbol == whole.symbol == "SOL/USDT"
    assert list(streamed) == list(whole)
    assert list(load_ohlcv_json(path)) == list(whole)


def test_an_object_streams_only_when_ohlcv_is_its_last_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ohlcv_json, "_BLOCK", 97)
    rows = _random_rows(50)
    one_bar = write(tmp_path, "A.json", json.dumps(_object(rows[:1], timeframe="4h")))
    streamed = ohlcv_json._streamed(one_bar, None)
    assert streamed is not None and streamed[0].interval_s == 4 * 3600.0  # timeframe wins
    assert list(streamed) == list(ohlcv_json._whole_document(one_bar, None))
    for text in (
        json.dumps({"ohlcv": rows, "symbol": "B/USDT"}),  # a key after the array
        json.dumps({"meta": {"ohlcv": [1]}, "ohlcv": rows}),  # the key inside a value first
        json.dumps({"symbol": 7, "ohlcv": rows}),  # a bad symbol: the whole path names it
        json.dumps({"timeframe": "1 minute", "ohlcv": rows}),
    ):
        path = write(tmp_path, "B.json", text)
        assert ohlcv_json._streamed(path, None) is None, text[:40]
    # ...and the whole-document path still reads them: the same bars as a bare array
    after = load_ohlcv_json(write(tmp_path, "C.json", json.dumps({"ohlcv": rows, "symbol": "C"})))
    bare = load_ohlcv_json(write(tmp_path, "C-1m.json", json.dumps(rows)))
    assert after.symbol == bare.symbol == "C" and len(after) == 50
    assert list(after) == list(bare)
    with pytest.raises(DataError, match=r"B\.json:1: timeframe '1 minute'"):
        load_ohlcv_json(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (one_per_line([GOOD, LATER]).replace("]\n]", "],\n]"), r"X\.json:4: invalid JSON"),
        (one_per_line([GOOD, LATER]) + "[]", r"X\.json:5: invalid JSON"),
        (one_per_line([GOOD, LATER])[:-3], r"X\.json:3: invalid JSON"),
        (
            one_per_line([GOOD, [T0_MS + 60_000, "1],[2", 2, 1, 1, 1]]),
            r"X\.json:3: element \[1\]: open must be a number",
        ),
        (
            one_per_line([GOOD, [T0_MS + 60_000, [1.5], 2.0, 1.0, 1.5, 1.0]]),
            r"X\.json:3: element \[1\]: open must be a number",
        ),
    ],
    ids=["trailing-comma", "trailing-garbage", "unclosed", "string-with-a-cut", "nested-array"],
)
def test_a_bad_file_read_in_blocks_reports_as_the_whole_document_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setattr(ohlcv_json, "_BLOCK", 7)
    with pytest.raises(DataError, match=message):
        load_ohlcv_json(write(tmp_path, "X.json", text))


def test_a_bad_element_far_into_a_big_array_names_its_line_and_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ohlcv_json, "_BLOCK", 1024)
    rows: list[object] = [[T0_MS + i * 60_000, 10.0, 11.0, 9.0, 10.5, 1.0] for i in range(2000)]
    rows[1733] = [T0_MS + 1733 * 60_000, 10.0, 9.0, 11.0, 10.5, 1.0]
    path = write(tmp_path, "X.json", one_per_line(rows))
    with pytest.raises(DataError, match=r"X\.json:1735: element \[1733\]: high 9\.0 < low 11\.0"):
        load_ohlcv_json(path)
