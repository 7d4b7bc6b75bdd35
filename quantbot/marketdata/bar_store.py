"""The files ``quantbot data download`` writes and resumes from, in one directory.

- ``<symbol>-<timeframe>.json`` per symbol (``btc_usdt-1m.json`` for ``BTC/USDT``): ccxt
  OHLCV JSON as ``marketdata.ohlcv_json`` reads it, ``{"symbol", "timeframe", "exchange",
  "ohlcv": [[ms, o, h, l, c, v], ...]}``, one bar per line, ascending, no duplicate time.
- ``.<file>.partial`` beside it while a download runs: every page fetched is appended there
  (one JSON row a line) as it arrives, so a download killed at any moment loses at most the
  page in flight; the next run reads it back, merges, and removes it. Hidden, so ``replay
  --data DIR`` never mistakes it for bars.
- ``instruments.json``: ``{"instruments": {"<SYMBOL>": {"tick_size", "lot_size",
  "min_notional", "quote", "shortable", "venue", "source"}}}`` (Decimals as strings).
- ``download.json``: what each file holds (first, last, bars, gaps) and where it came from.

Both JSON indexes are merged with what is already there, so downloads of other symbols into
the same directory add to them. Bars are merged by timestamp: a bar fetched again replaces
the one on disk (the last bar of an earlier run may have been fetched while still forming).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from quantbot.domain.errors import DataError
from quantbot.fsutil import atomic_write, open_private_file

INSTRUMENTS_FILE = "instruments.json"
MANIFEST_FILE = "download.json"
Row = list[Any]  # [timestamp_ms, open, high, low, close, volume]


def bar_file_name(symbol: str, timeframe: str) -> str:
    """``BTC/USDT``, ``1m`` -> ``btc_usdt-1m.json`` (the loader reads ``_`` as ``/``)."""
    stem = symbol.replace("/", "_").replace(":", "_").lower()
    return f"{stem}-{timeframe}.json"


class BarFile:
    """One symbol's bars on disk, merged by timestamp, with the page journal beside it."""

    def __init__(self, directory: Path, symbol: str, timeframe: str, venue: str) -> None:
        self.symbol, self.timeframe, self.venue = symbol, timeframe, venue
        self.path = directory / bar_file_name(symbol, timeframe)
        self._partial = directory / f".{self.path.name}.partial"
        self.rows: dict[int, Row] = {}
        self._journal: Any = None
        self._load()

    @property
    def span_ms(self) -> tuple[int, int] | None:
        """First and last bar time on disk (None: no bars yet)."""
        return (min(self.rows), max(self.rows)) if self.rows else None

    def _load(self) -> None:
        if self.path.exists():
            for row in self._main_rows():
                self.rows[row[0]] = row
        if self._partial.exists():
            for row in _journal_rows(self._partial):
                self.rows[row[0]] = row

    def _main_rows(self) -> list[Row]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            raise DataError(f"{self.path}: cannot resume from it: {e}") from e
        if not isinstance(data, dict) or not isinstance(data.get("ohlcv"), list):
            raise DataError(f'{self.path}: cannot resume from it: not an object with "ohlcv"')
        for key, want in (("symbol", self.symbol), ("timeframe", self.timeframe)):
            if data.get(key) != want:
                raise DataError(
                    f"{self.path}: holds {key} {data.get(key)!r}, not {want!r}; "
                    "choose another --out"
                )
        rows = data["ohlcv"]
        if not all(is_row(r) for r in rows):
            raise DataError(f"{self.path}: cannot resume from it: a row is not [ms, o, h, l, c, v]")
        return rows

    def add(self, rows: list[Row]) -> int:
        """Merge a fetched page and journal it; the number of bars that were not on disk."""
        if not rows:
            return 0
        if self._journal is None:
            self._journal = open_private_file(self._partial, "ab")
        self._journal.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        self._journal.flush()
        new = sum(1 for r in rows if r[0] not in self.rows)
        for row in rows:
            self.rows[row[0]] = row
        return new

    def save(self) -> None:
        """Write the merged bars (atomically) and drop the journal."""
        self._close_journal()
        head = orjson.dumps(
            {"symbol": self.symbol, "timeframe": self.timeframe, "exchange": self.venue}
        )
        body = b",\n".join(orjson.dumps(self.rows[t]) for t in sorted(self.rows))
        atomic_write(self.path, head[:-1] + b',\n"ohlcv":[\n' + body + b"\n]}\n")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._partial)

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def close(self) -> None:
        """Stop journaling without saving (an interrupted run: the journal stays for the next)."""
        self._close_journal()


def is_row(row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == 6
        and type(row[0]) is int
        and all(type(v) in (int, float) for v in row[1:])
    )


def _journal_rows(path: Path) -> list[Row]:
    """The rows journaled so far; a torn last line (the run was killed mid-write) is left out."""
    rows: list[Row] = []
    for line in path.read_bytes().split(b"\n"):
        try:
            row = orjson.loads(line) if line.strip() else None
        except orjson.JSONDecodeError:
            continue
        if is_row(row):
            rows.append(row)
    return rows


def read_index(path: Path, key: str) -> dict[str, Any]:
    """``data[key]`` of one of the JSON indexes (empty when the file is not there yet)."""
    if not path.exists():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read it to add to it: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise DataError(f'{path}: expected an object with "{key}"; move it away or fix it')
    return data[key]


def write_index(path: Path, key: str, entries: dict[str, Any]) -> None:
    """Merge ``entries`` into ``data[key]`` of the index at ``path`` and write it whole."""
    merged = {**read_index(path, key), **entries}
    data = {key: dict(sorted(merged.items()))}
    atomic_write(path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
