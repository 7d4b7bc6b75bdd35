"""Which instrument a replayed symbol gets: config, then the instruments file, then the data."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.config.schema import InstrumentSpec
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.instruments import infer, read_file, resolve, to_record


def _bars(*prices: float, volume: float = 10.0) -> list[Bar]:
    return [Bar("S", i, p, p, p, p, volume, 60.0) for i, p in enumerate(prices)]


def test_inference_takes_the_finest_step_the_numbers_carry() -> None:
    fx = infer(_bars(1.08437, 1.0844, 1.085))
    assert (fx.tick_size, fx.lot_size, fx.source) == (Decimal("0.00001"), Decimal(1), "inferred")
    btc = infer(_bars(42000.5, 42001.25, volume=1.23456))
    assert (btc.tick_size, btc.lot_size) == (Decimal("0.01"), Decimal("0.00001"))
    adjusted = infer(_bars(1.8114039511845779))
    assert adjusted.tick_size == Decimal("1E-8")  # more digits than any venue: the finest
    assert to_record({"S": adjusted})["S"]["tick_size"] == "0.00000001"


def test_config_wins_then_the_file_then_the_data(tmp_path: Path) -> None:
    data = tmp_path / "A.csv"
    data.write_text("")
    table = {
        "A": {"tick_size": "0.5", "lot_size": "2"},
        "B": {"tick_size": "0.25", "lot_size": "1", "quote": "EUR", "shortable": False},
    }
    (tmp_path / "instruments.json").write_bytes(orjson.dumps({"instruments": table}))
    configured = {"A": InstrumentSpec(tick_size=Decimal("0.1"))}
    series = {s: _bars(1.5) for s in ("A", "B", "C")}
    got = resolve(["A", "B", "C"], configured, [data], series)
    assert got["A"].tick_size == Decimal("0.1") and got["A"].source == "config"
    assert got["B"].tick_size == Decimal("0.25") and got["B"].quote == "EUR"
    assert not got["B"].shortable and got["B"].source.startswith("file:")
    assert got["C"].source == "inferred" and got["C"].tick_size == Decimal("0.1")


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"symbols": {}}', b'{"instruments": {"A": {"tick_size": "0"}}}'],
)
def test_a_bad_instruments_file_names_itself_and_the_layout(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "instruments.json"
    path.write_bytes(body)
    with pytest.raises(DataError, match=str(path)):
        read_file(path)
