"""ccxt OHLCV JSON: what ``exchange.fetch_ohlcv`` returns, saved to a file.

Two shapes are read:

- a bare array ``[[timestamp_ms, open, high, low, close, volume], ...]``;
- an object ``{"symbol": "BTC/USDT", "timeframe": "1m", "ohlcv": [...]}`` (other keys, an
  ``"exchange"`` say, are ignored).

The symbol is the ``symbol`` argument, else the object's ``"symbol"``, else the file name's
stem before the first ``-``, cut before a timeframe part (``naming``), upper-cased, with ``_``
read as ``/`` (``btc_usdt-1m.json`` and ``btc_usdt_1h.json`` are ``BTC/USDT``, ccxt's
spelling, since a file name cannot hold a ``/``). The bar interval is the
object's ``"timeframe"`` (ccxt units: s, m, h, d, w, M = 30 days, y = 365 days), else the
smallest gap between consecutive bars.

A malformed element raises ``DataError`` naming the file, the 1-based line the element starts
on and its index in the array, so a user can find it in the editor or with ``jq '.[i]'``.
``json.loads`` forgets where each value was, so the line is found afterwards, for the bad
element only, by walking the text with ``raw_decode`` (walking every file that way made
loading twice as slow).

A bare array, or an object whose last key is ``"ohlcv"`` (found in the first block), is
first read in blocks (``_streamed``): each block is cut after its last ``],`` and parsed
alone, so neither the text nor the parsed rows of a big file are held whole (a million bars
took about 600 MB that way). A cut can only parse where it falls between two elements;
anything else (keys after the array, a bad element, invalid JSON, one bar with no
timeframe) makes it give up, and the whole document is read as before, which gives the
exact error.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from quantbot.clock import NS_PER_S
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.bar_check import check_bar
from quantbot.marketdata.naming import symbol_from_name
from quantbot.marketdata.series import BarSeries

_NS_PER_MS = 1_000_000
_TIMEFRAME = re.compile(r"(\d+)([smhdwMy])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "M": 2_592_000, "y": 31_536_000}
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_NUMBERS = (int, float)  # exact types: a JSON true is a bool, and bool is an int subclass
_SHAPE = "expected [timestamp_ms, open, high, low, close, volume]"
# Bytes read at a time by the streamed path. orjson sets aside about 14 times a document's
# size while it parses it: 1 MB costs about 15 MB for a moment.
_BLOCK = 1 << 20
_JSON_SPACE = b" \t\n\r"
_BOM = b"\xef\xbb\xbf"
# Where an object's OHLCV array starts; found in the first block or the file is read whole.
_OHLCV_KEY = re.compile(rb'"ohlcv"[ \t\n\r]*:[ \t\n\r]*\[')


def load_ohlcv_json(path: Path, *, symbol: str | None = None) -> BarSeries:
    """Bars from a ccxt OHLCV JSON file, in file order (which must be strictly ascending)."""
    path = Path(path)
    streamed = _streamed(path, symbol)
    if streamed is not None:
        return streamed
    return _whole_document(path, symbol)


def _whole_document(path: Path, symbol: str | None) -> BarSeries:
    """The file parsed whole: slower and bigger, but it alone finds an error's line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from e
    rows, meta = _split(path, text, data)
    interval_s = _timeframe_s(path, text, meta)
    if interval_s is None:
        interval_s = _spacing_s(rows)
    name = symbol or _symbol(path, text, meta)
    bars = _to_bars(path, text, rows, name, interval_s or 0.0, in_object=bool(meta))
    if bars and interval_s is None:
        raise DataError(f'{path}: one bar and no "timeframe": cannot tell the bar interval')
    return bars


def timeframe_seconds(timeframe: str) -> int:
    """Seconds in a ccxt timeframe such as ``"1m"``, ``"4h"`` or ``"1d"``; ValueError if not."""
    found = _TIMEFRAME.fullmatch(timeframe)
    if found is None or int(found[1]) == 0:
        raise ValueError(f"timeframe {timeframe!r} is not like '1m', '4h' or '1d'")
    return int(found[1]) * _UNIT_S[found[2]]


def _split(path: Path, text: str, data: Any) -> tuple[list[Any], dict[str, Any]]:
    """The OHLCV array and the object it came in (empty for a bare array)."""
    if isinstance(data, list):
        return data, {}
    if not isinstance(data, dict):
        raise DataError(f'{path}:1: expected an array of OHLCV arrays or an object with "ohlcv"')
    rows = data.get("ohlcv")
    if not isinstance(rows, list):
        what = 'object has no "ohlcv" array' if rows is None else '"ohlcv" is not an array'
        raise DataError(f"{path}:{_key_line(text, 'ohlcv')}: {what}")
    return rows, data


def _file_symbol(path: Path) -> str:
    return symbol_from_name(path.stem.split("-", 1)[0]).replace("_", "/")


def _symbol(path: Path, text: str, meta: dict[str, Any]) -> str:
    given = meta.get("symbol")
    if given is None:
        return _file_symbol(path)
    if not isinstance(given, str) or not given:
        line = _key_line(text, "symbol")
        raise DataError(f'{path}:{line}: "symbol" must be a non-empty string, got {given!r}')
    return given


def _timeframe_s(path: Path, text: str, meta: dict[str, Any]) -> float | None:
    timeframe = meta.get("timeframe")
    if timeframe is None:
        return None
    try:
        return float(timeframe_seconds(str(timeframe)))
    except ValueError as e:
        raise DataError(f"{path}:{_key_line(text, 'timeframe')}: {e}") from e


def _spacing_s(rows: list[Any]) -> float | None:
    """The smallest gap between well-formed timestamps: a missing bar widens one gap but
    never narrows one. None when there is no gap to measure (malformed elements are reported
    by _to_bars, not here)."""
    stamps = [r[0] for r in rows if type(r) is list and r and type(r[0]) is int]
    gaps = [b - a for a, b in itertools.pairwise(stamps) if b > a]
    return min(gaps) * _NS_PER_MS / NS_PER_S if gaps else None


def _to_bars(
    path: Path, text: str, rows: list[Any], symbol: str, interval_s: float, *, in_object: bool
) -> BarSeries:
    bars = BarSeries(symbol)
    last_ns = -1
    for index, value in enumerate(rows):
        try:
            bar = check_bar(_bar(value, symbol, interval_s))
            if bar.ts_ns <= last_ns:
                what = "duplicate time" if bar.ts_ns == last_ns else "time goes backwards"
                raise ValueError(f"elements not ascending ({what})")
        except (ValueError, OverflowError) as e:
            line = _element_line(text, index, in_object)
            raise DataError(f"{path}:{line}: element [{index}]: {e}: {_snippet(value)}") from e
        last_ns = bar.ts_ns
        bars.append(bar)
    return bars


def _bar(value: Any, symbol: str, interval_s: float) -> Bar:
    if type(value) is not list or len(value) != 6:
        raise ValueError(_SHAPE)
    ts_ms, o, h, lo, c, v = value
    if type(ts_ms) is not int or ts_ms < 0:
        raise ValueError(f"timestamp must be a whole number of ms >= 0, got {ts_ms!r}")
    for name, number in zip(("open", "high", "low", "close", "volume"), value[1:], strict=True):
        if type(number) not in _NUMBERS:
            raise ValueError(f"{name} must be a number, got {number!r}")
    return Bar(symbol, ts_ms * _NS_PER_MS, float(o), float(h), float(lo), float(c), float(v),
               interval_s)  # fmt: skip


# -- the streamed path: a bare array of well-formed rows, read a block at a time -----------------
class _Unusual(Exception):
    """Not a plain, valid array of good rows: the whole-document path reads it."""


def _streamed(path: Path, symbol: str | None) -> BarSeries | None:
    """The bars of a bare array, or of an object whose last key is ``"ohlcv"``, read in
    blocks; None for anything the whole-document path must read (it alone reports errors,
    with their lines)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_BLOCK).removeprefix(_BOM).lstrip(_JSON_SPACE)
            meta, buf, closer = _opening(head)
            bars = BarSeries(symbol or _meta_symbol(meta) or _file_symbol(path))
            stamps = bars.timestamps
            for rows in _row_chunks(handle, buf, closer):
                for value in rows:
                    bar = check_bar(_bar(value, bars.symbol, 0.0))
                    if stamps and bar.ts_ns <= stamps[-1]:
                        return None
                    bars.append(bar)
            timeframe = meta.get("timeframe")
            interval_s = None if timeframe is None else float(timeframe_seconds(timeframe))
    except (OSError, _Unusual, ValueError, OverflowError, TypeError):
        return None
    if interval_s is None:
        if len(bars) < 2:  # no gap to tell the interval by (or nothing at all)
            return None
        # The smallest gap, as _spacing_s measures it (ms * 10**6 is exactly these ns).
        interval_s = min(b - a for a, b in itertools.pairwise(stamps)) / NS_PER_S
    bars.set_interval(interval_s)
    return bars


def _opening(head: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    """The object's keys before ``"ohlcv"`` (none for a bare array), the text after the
    array's ``[``, and what must close the document after the array's elements."""
    if head.startswith(b"["):
        return {}, head[1:], b"]"
    key = _OHLCV_KEY.search(head) if head.startswith(b"{") else None
    if key is None:
        raise _Unusual
    before = head[1 : key.start()].rstrip(_JSON_SPACE)
    if not before:
        return {}, head[key.end() :], b"]}"
    if not before.endswith(b","):
        raise _Unusual
    try:
        meta = orjson.loads(b"{" + before[:-1] + b"}")
    except orjson.JSONDecodeError as e:
        raise _Unusual from e
    if not isinstance(meta, dict) or "ohlcv" in meta:  # the key sat inside a value
        raise _Unusual
    return meta, head[key.end() :], b"]}"


def _meta_symbol(meta: dict[str, Any]) -> str | None:
    given = meta.get("symbol")
    if given is not None and (not isinstance(given, str) or not given):
        raise _Unusual  # the whole-document path names the line
    return given


def _row_chunks(handle: BinaryIO, buf: bytes, closer: bytes) -> Iterator[list[Any]]:
    """The elements of the array that ``buf`` (the text after its ``[``) starts and
    ``handle`` goes on with, parsed a block at a time; ``closer`` ends the document."""
    more_due = False
    while True:
        cut = buf.rfind(b"],")
        if cut >= 0:
            yield _parse(buf[: cut + 1])
            buf, more_due = buf[cut + 2 :], True  # past the comma: an element must follow
        more = handle.read(_BLOCK)
        if not more:
            break
        buf += more
    body = buf.rstrip(_JSON_SPACE)
    for closing in reversed(closer):  # "]" or "]" then "}", whitespace allowed between
        if not body.endswith(bytes([closing])):
            raise _Unusual
        body = body[:-1].rstrip(_JSON_SPACE)
    if body:
        yield _parse(body)
    elif more_due:  # a trailing comma: not JSON
        raise _Unusual


def _parse(piece: bytes) -> list[Any]:
    """One run of whole elements; it parses only if the cuts fell between elements."""
    try:
        rows = orjson.loads(b"[" + piece + b"]")
    except orjson.JSONDecodeError as e:
        raise _Unusual from e
    return rows


# -- finding lines in text already known to be valid JSON -----------------------------------------
def _element_line(text: str, index: int, in_object: bool) -> int:
    """The line element ``index`` of the OHLCV array starts on."""
    pos = _skip(text, 0)
    if in_object:
        pos = _skip(text, pos + 1)  # past "{"
        while True:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, _skip(text, pos) + 1)  # past ":"
            if key == "ohlcv":
                break
            _, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, _skip(text, pos) + 1)  # past ","
    pos = _skip(text, pos + 1)  # past "["
    for _ in range(index):
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, _skip(text, pos) + 1)  # past ","
    return text.count("\n", 0, pos) + 1


def _key_line(text: str, key: str) -> int:
    found = text.find(f'"{key}"')
    return 1 if found < 0 else text.count("\n", 0, found) + 1


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _snippet(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."
