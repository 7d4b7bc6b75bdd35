"""Each replayed symbol's instrument (tick, lot, minimum notional, quote, shortable), never a
silent global default. In this order:

1. ``[instruments."SYM"]`` in the config (``source: "config"``);
2. an ``instruments.json`` beside the data file (written by `quantbot data download` from the
   venue's own market metadata; ``source: "file:<path>"``);
3. what the data itself shows (``source: "inferred"``): the tick from the most decimals its
   prices carry, the lot from the most decimals its volumes carry (at most 8 each), no
   minimum notional. A price stored with more digits than any venue quotes (adjusted data)
   infers the finest tick, 1e-8, which rounds nothing away.

The replay's manifest (its resolved config) and summary say which, per symbol.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from quantbot.config.schema import InstrumentSpec
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar

FILE_NAME = "instruments.json"
MAX_DECIMALS = 8
_SAMPLE = 2_000  # bars read for the inference: the decimals show from the start


def resolve(
    symbols: Sequence[str],
    configured: Mapping[str, InstrumentSpec],
    data_paths: Iterable[Path],
    series: Mapping[str, Sequence[Bar]],
) -> dict[str, InstrumentSpec]:
    """Every symbol's instrument and where it came from (the module docstring's order)."""
    files = _files(data_paths)
    result: dict[str, InstrumentSpec] = {}
    for symbol in symbols:
        if symbol in configured:
            result[symbol] = configured[symbol]
        elif symbol in files:
            result[symbol] = files[symbol]
        else:
            result[symbol] = infer(series[symbol])
    return result


def infer(bars: Sequence[Bar]) -> InstrumentSpec:
    """The finest tick and lot the bars' own numbers carry (see the module docstring)."""
    sample = list(itertools.islice(bars, _SAMPLE))
    prices = (p for b in sample for p in (b.open, b.high, b.low, b.close))
    tick = max((_decimals(p) for p in prices), default=2)
    lot = max((_decimals(b.volume) for b in sample), default=0)
    return InstrumentSpec(
        tick_size=Decimal(1).scaleb(-tick),
        lot_size=Decimal(1).scaleb(-lot),
        min_notional=Decimal(0),
        source="inferred",
    )


def _decimals(value: float) -> int:
    """Digits after the point in the shortest repr of ``value`` (at most MAX_DECIMALS)."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        return MAX_DECIMALS
    _, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return min(len(frac), MAX_DECIMALS)


def _files(data_paths: Iterable[Path]) -> dict[str, InstrumentSpec]:
    """The instruments files beside the data (one per directory, read once)."""
    found: dict[str, InstrumentSpec] = {}
    for directory in sorted({(p if p.is_dir() else p.parent) for p in data_paths}):
        path = directory / FILE_NAME
        if path.is_file():
            for symbol, spec in read_file(path).items():
                found.setdefault(symbol, spec)
    return found


def read_file(path: Path) -> dict[str, InstrumentSpec]:
    """``instruments.json``: ``{"instruments": {"SYM": {"tick_size": "0.01", ...}}}``."""
    try:
        data = orjson.loads(path.read_bytes())
        table = data["instruments"]
        return {str(s): _spec(path, str(s), v) for s, v in table.items()}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise DataError(
            f"{path}: not an instruments file ({type(e).__name__}: {e}); expected "
            '{"instruments": {"BTC/USDT": {"tick_size": "0.01", "lot_size": "0.00001", '
            '"min_notional": "5", "quote": "USDT", "shortable": false}}}'
        ) from e


def _spec(path: Path, symbol: str, raw: Mapping[str, Any]) -> InstrumentSpec:
    try:
        tick, lot = Decimal(str(raw["tick_size"])), Decimal(str(raw["lot_size"]))
        minimum = Decimal(str(raw.get("min_notional", "0")))
    except (KeyError, ArithmeticError, ValueError) as e:
        raise DataError(f"{path}: {symbol}: bad or missing tick_size / lot_size ({e})") from e
    if not (tick > 0 and lot > 0 and minimum >= 0):
        raise DataError(f"{path}: {symbol}: tick_size and lot_size must be > 0")
    return InstrumentSpec(
        tick_size=tick,
        lot_size=lot,
        min_notional=minimum,
        quote=str(raw.get("quote", "USD")),
        shortable=bool(raw.get("shortable", True)),
        source=f"file:{path}",
    )


def to_record(instruments: Mapping[str, InstrumentSpec]) -> dict[str, dict[str, Any]]:
    """For the summary: each symbol's instrument and its source."""
    return {
        s: {
            "tick_size": f"{i.tick_size:f}",
            "lot_size": f"{i.lot_size:f}",
            "min_notional": f"{i.min_notional:f}",
            "quote": i.quote,
            "shortable": i.shortable,
            "source": i.source,
        }
        for s, i in sorted(instruments.items())
    }
