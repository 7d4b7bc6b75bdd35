"""Paging a venue's bar history into files ``replay`` reads (``quantbot data download``).

The venue side is a ``HistorySource`` (``venues/ccxt/history.py``: ccxt's ``fetch_ohlcv``;
``venues/alpaca/history.py``: alpaca-py's ``StockBarsRequest``); this module owns what is the
same for every venue:

- the span ``[start, end)`` is fetched a page at a time (``since``/``until``/``limit``), each
  page an idempotent read retried boundedly (``ops.retry.retry_read``: network faults and
  rate limits only, honouring Retry-After), from the first bar not on disk yet: a second
  run with the same ``--out`` fetches only what is missing (before the first bar on disk,
  and from the last one on, which is fetched again in case it was still forming);
- only closed bars are kept (open time + timeframe <= now);
- bars are merged by timestamp (``bar_store``), so nothing is ever written twice;
- gaps (bars missing between two that are there) are counted per file and reported; on a
  venue with sessions (US equities) only inside one New York trading day, since nights and
  weekends are not gaps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import attrs

from quantbot.clock import Clock
from quantbot.config.ops import RetryConfig
from quantbot.domain.errors import DataError
from quantbot.marketdata.bar_store import (
    INSTRUMENTS_FILE,
    MANIFEST_FILE,
    BarFile,
    Row,
    bar_file_name,
    is_row,
    read_index,
    write_index,
)
from quantbot.marketdata.ohlcv_json import timeframe_seconds
from quantbot.ops.errors import ErrorInfo
from quantbot.ops.retry import retry_read

_NEW_YORK = ZoneInfo("America/New_York")
# Pages are reads: a few attempts, backing off up to 10 s (or the venue's Retry-After).
READ_RETRY = RetryConfig(
    max_attempts=5, max_total_s=90.0, initial_backoff_s=0.5, max_backoff_s=10.0, jitter_s=0.2
)
_SHOWN_GAPS = 5  # gaps listed on stderr per file; download.json has them all


class HistorySource(Protocol):
    """One venue's bar history, behind its SDK. Errors leave as ``VenueError``s; a symbol
    the venue does not know is a ``DataError``."""

    venue: str
    page_limit: int  # the most bars one request may return
    sessions: bool  # bars only while a market is open (gaps are counted within a day)

    async def instruments(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        """Each requested symbol's instruments-file entry, keyed by the venue's spelling of
        the symbol (``BTCUSDT`` comes back as ``BTC/USDT``)."""
        ...

    async def fetch(
        self, symbol: str, timeframe: str, since_ms: int, until_ms: int, limit: int
    ) -> list[Row]:
        """At most ``limit`` bars with ``since_ms <= open time <= until_ms``, ascending."""
        ...

    async def close(self) -> None: ...


@attrs.frozen
class DownloadRequest:
    symbols: tuple[str, ...]
    timeframe: str
    start_ms: int
    end_ms: int  # exclusive
    out: Path
    page_size: int | None = None  # None: the venue's page limit


@attrs.frozen
class Gap:
    after_ms: int  # the last bar before the gap
    before_ms: int  # the first bar after it
    missing: int  # bars missing in between

    def as_json(self) -> dict[str, Any]:
        return {"after": iso_ms(self.after_ms), "before": iso_ms(self.before_ms),
                "missing": self.missing}  # fmt: skip


@attrs.frozen
class FileSummary:
    symbol: str
    path: Path
    bars: int
    fetched: int  # bars not on disk before this run
    first_ms: int | None
    last_ms: int | None
    gaps: tuple[Gap, ...]


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_gaps(stamps: Iterable[int], step_ms: int, *, sessions: bool) -> tuple[Gap, ...]:
    """Runs of missing bars between consecutive ``stamps`` (ascending ms). With ``sessions``
    a gap counts only when both bars are on the same New York day."""
    gaps = []
    for a, b in itertools.pairwise(stamps):
        if b - a <= step_ms:
            continue
        if sessions and _ny_day(a) != _ny_day(b):
            continue
        gaps.append(Gap(a, b, (b - a) // step_ms - 1))
    return tuple(gaps)


def _ny_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=_NEW_YORK).date().isoformat()


class Downloader:
    """Runs one ``DownloadRequest`` against one ``HistorySource``; ``say`` gets progress."""

    def __init__(self, source: HistorySource, *, clock: Clock, say: Callable[[str], None],
                 retry: RetryConfig = READ_RETRY) -> None:  # fmt: skip
        self._source, self._clock, self._say, self._retry = source, clock, say, retry

    async def run(self, request: DownloadRequest) -> list[FileSummary]:
        step_ms = timeframe_seconds(request.timeframe) * 1000
        instruments = await self._source.instruments(list(request.symbols))
        for symbol in instruments:  # before any bar: a venue's refusal leaves nothing behind
            self._check_same_venue(request.out, symbol, request.timeframe)
        write_index(request.out / INSTRUMENTS_FILE, "instruments", instruments)
        summaries = []
        for symbol in instruments:  # each file's entry as soon as the file is whole
            summary = await self._one(symbol, request, step_ms)
            entry = self._manifest_entry(summary, request)
            write_index(request.out / MANIFEST_FILE, "files", {summary.path.name: entry})
            summaries.append(summary)
        return summaries

    async def _one(self, symbol: str, request: DownloadRequest, step_ms: int) -> FileSummary:
        venue = self._source.venue
        store = BarFile(request.out, symbol, request.timeframe, venue)
        before = len(store.rows)
        windows = _missing(store.span_ms, request.start_ms, request.end_ms)
        if store.rows:
            first, last = store.span_ms or (0, 0)
            self._say(f"{venue} {symbol}: {before:,} bars on disk ({iso_ms(first)} .. "
                      f"{iso_ms(last)}); fetching only what is missing")  # fmt: skip
        try:
            for window in windows:
                await self._window(store, request, step_ms, window)
            store.save()
        finally:
            store.close()
        stamps = sorted(t for t in store.rows if request.start_ms <= t < request.end_ms)
        gaps = find_gaps(sorted(store.rows), step_ms, sessions=self._source.sessions)
        summary = FileSummary(symbol, store.path, len(store.rows), len(store.rows) - before,
                              min(store.rows, default=None), max(store.rows, default=None),
                              gaps)  # fmt: skip
        self._report(summary, in_range=len(stamps))
        return summary

    async def _window(
        self, store: BarFile, request: DownloadRequest, step_ms: int, window: tuple[int, int]
    ) -> None:
        symbol, (since, until) = store.symbol, window
        limit = min(request.page_size or self._source.page_limit, self._source.page_limit)
        # The open time of the last closed bar: a bar still forming is not kept.
        closed_before = self._clock.now_ns() // 1_000_000 - step_ms
        while since < until:
            page = await self._page(symbol, request.timeframe, since, until - 1, limit)
            _check_rows(page, symbol, self._source.venue)
            rows = [r for r in page if since <= r[0] < until and r[0] <= closed_before]
            store.add(rows)
            if rows:
                done = (rows[-1][0] + step_ms - request.start_ms) * 100
                share = min(done // (request.end_ms - request.start_ms), 100)
                self._say(f"{self._source.venue} {symbol}: {len(store.rows):,} bars, up to "
                          f"{iso_ms(rows[-1][0])} ({share}% of the span)")  # fmt: skip
            if len(page) < limit or not page or page[-1][0] < since:
                return  # the venue has nothing more in this window
            since = page[-1][0] + step_ms

    async def _page(
        self, symbol: str, timeframe: str, since: int, until: int, limit: int
    ) -> list[Row]:
        def retrying(info: ErrorInfo, attempt: int) -> None:
            self._say(f"{self._source.venue} {symbol}: page from {iso_ms(since)} failed "
                      f"({info.reason()}); retry {attempt}")  # fmt: skip

        return await retry_read(
            lambda: self._source.fetch(symbol, timeframe, since, until, limit),
            dependency=self._source.venue,
            config=self._retry,
            clock=self._clock,
            on_retry=retrying,
        )

    def _check_same_venue(self, out: Path, symbol: str, timeframe: str) -> None:
        name = bar_file_name(symbol, timeframe)
        entry = read_index(out / MANIFEST_FILE, "files").get(name)
        if entry is not None and entry.get("venue") != self._source.venue:
            raise DataError(
                f"{out / name}: downloaded from {entry.get('venue')}, not "
                f"{self._source.venue}; choose another --out"
            )

    def _manifest_entry(self, s: FileSummary, request: DownloadRequest) -> dict[str, Any]:
        return {
            "symbol": s.symbol,
            "venue": self._source.venue,
            "timeframe": request.timeframe,
            "first": None if s.first_ms is None else iso_ms(s.first_ms),
            "last": None if s.last_ms is None else iso_ms(s.last_ms),
            "bars": s.bars,
            "missing_bars": sum(g.missing for g in s.gaps),
            "gaps": [g.as_json() for g in s.gaps],
        }

    def _report(self, s: FileSummary, *, in_range: int) -> None:
        venue = self._source.venue
        self._say(f"{venue} {s.symbol}: {s.path.name}: {s.bars:,} bars ({s.fetched:,} new, "
                  f"{in_range:,} in the requested span)")  # fmt: skip
        if not s.gaps:
            return
        missing = sum(g.missing for g in s.gaps)
        self._say(f"{venue} {s.symbol}: {len(s.gaps)} gap(s), {missing:,} bar(s) missing:")
        for g in s.gaps[:_SHOWN_GAPS]:
            self._say(f"  gap after {iso_ms(g.after_ms)}, before {iso_ms(g.before_ms)}: "
                      f"{g.missing:,} bar(s) missing")  # fmt: skip
        if len(s.gaps) > _SHOWN_GAPS:
            self._say(f"  ... and {len(s.gaps) - _SHOWN_GAPS} more (all in {MANIFEST_FILE})")


def _missing(span: tuple[int, int] | None, start: int, end: int) -> list[tuple[int, int]]:
    """The windows of ``[start, end)`` still to fetch given the ``span`` on disk: before its
    first bar, and from its last bar on (fetched again: it may have been still forming)."""
    if span is None:
        return [(start, end)]
    first, last = span
    windows = []
    if start < first:
        windows.append((start, min(first, end)))
    if end > last:
        windows.append((max(last, start), end))
    return windows


def _check_rows(page: list[Row], symbol: str, venue: str) -> None:
    for row in page:
        if not is_row(row):
            raise DataError(f"{venue} {symbol}: the venue sent a malformed bar: {row!r}")
