"""Closed bars pushed over the exchange's websocket: ccxt.pro ``watch_ohlcv``.

How a candle is known to be closed: ccxt.pro keeps, per symbol, the latest snapshot of every
candle it heard of (``exchange.ohlcvs``) but drops the venue's "closed" flag. Candle events
arrive in order on one connection and each is a full snapshot, so once a later candle has
been heard of on the same connection, the stored one is final. The newest candle is never
yielded: it is still forming. Each wake-up of ``watch_ohlcv_for_symbols`` is only a signal;
the caches of every symbol are read right before the next watch (with no await between), so
an update that arrived while the consumer was busy is never missed.

What a broken connection costs, and how it is repaid: every error is translated
(``venues.ccxt.errors``), handed to ``on_error(exc, "data_primary")`` and followed by a
reconnect after a bounded exponential backoff on the injected clock (ccxt's own dial
backoff is cleared: quantbot's is the one that counts). The candle that was forming when
the connection broke, and any candle that closed while it was down, are then taken from REST
(``backfill``, e.g. ``CcxtVenue.bars`` behind the read breaker) rather than from the cache,
whose copy may have missed the final update. A candle REST does not have yet is asked for
again at the next wake-up; one REST skips while holding later ones is a hole in the venue's
own data and is skipped too. So each closed bar is yielded once, in order per symbol.

Batches: bars of one open time are yielded together once every symbol has its bar for that
time, or once ``group_wait_s`` has passed since the candle closed (by the injected clock,
checked at each wake-up), so a silent symbol delays the others by that much at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import ccxt.pro

from quantbot.clock import Clock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import ConfigError, VenueError, VenueSchemaError
from quantbot.domain.values import Bar
from quantbot.ops.breakers import CircuitOpenError
from quantbot.venues.ccxt.convert import NS_PER_MS, bar_from_ohlcv
from quantbot.venues.ccxt.errors import CCXT_ERRORS, translate

DATA = "data_primary"
# (symbol, since_ns) -> the closed bars of symbol opening at or after since_ns, ascending.
Backfill = Callable[[str, int], Awaitable[list[Bar]]]
OnError = Callable[[BaseException, str], None]
_Row = tuple[float, ...]
# Candles ccxt.pro keeps per symbol: those not yet collected are all that matter, and REST
# fills in anything pushed out of the cache while the consumer was busy.
_CACHED_CANDLES = 100
_MARKET_TYPES = {"spot": ["spot"], "future": ["linear"]}  # quantbot's -> ccxt fetchMarkets


def watch_ohlcv_supported(exchange_id: str) -> bool:
    """Whether ccxt.pro can stream candles from ``exchange_id`` (``has["watchOHLCV"]``)."""
    cls = getattr(ccxt.pro, exchange_id, None)
    return isinstance(cls, type) and bool(cls().has.get("watchOHLCV"))


def stream_url(settings: CcxtConfig, ws_url: str) -> str | None:
    """Where the stream is: ``ws_url`` if given; ccxt's own (or sandbox) URL without a REST
    ``base_url`` override; None when REST is moved but the stream's address is unknown (a
    proxy or loopback server for REST says nothing about where its websocket is)."""
    if ws_url:
        return ws_url
    return None if settings.base_url else ""


def make_pro_exchange(settings: CcxtConfig, *, sandbox: bool, ws_url: str) -> Any:
    """A public-data ccxt.pro client (no credentials: candles need none): no rate limiter,
    ``timeout_s`` for REST and for the websocket handshake, URLs as ``stream_url`` says."""
    cls = getattr(ccxt.pro, settings.exchange_id, None)
    if not isinstance(cls, type):
        raise ConfigError(f"ccxt.pro has no exchange {settings.exchange_id!r}")
    if stream_url(settings, ws_url) is None:  # never the live stream beside a moved REST API
        raise ConfigError(f"{settings.exchange_id}: base_url is set, so the stream needs ws_url")
    options: dict[str, Any] = {
        "defaultType": settings.market_type,
        "fetchMargins": False,
        "fetchCurrencies": False,
        "adjustForTimeDifference": False,
        "OHLCVLimit": _CACHED_CANDLES,
    }
    # Only the traded type's markets, as the REST adapter loads them: one market per id.
    options["fetchMarkets"] = {"types": _MARKET_TYPES.get(settings.market_type, ["spot"])}
    timeout_ms = round(settings.timeout_s * 1000)
    exchange = cls({"enableRateLimit": False, "timeout": timeout_ms, "options": options})
    exchange.streaming = {**exchange.streaming, "connectionTimeout": timeout_ms}
    if settings.base_url:
        rest = {k: v for k, v in exchange.urls["api"].items() if k != "ws"}
        exchange.urls["api"].update(_moved(rest, settings.base_url, keep_path=True))
    elif sandbox and settings.market_type == "future" and "demo" in exchange.urls:
        exchange.enable_demo_trading(True)  # where the REST adapter trades futures on paper
    elif sandbox:
        if "test" not in exchange.urls:
            raise ConfigError(f"{settings.exchange_id} has no sandbox; set base_url or go live")
        exchange.set_sandbox_mode(True)
    if ws_url:
        exchange.urls["api"]["ws"] = _moved(exchange.urls["api"]["ws"], ws_url, keep_path=False)
    return exchange


def _moved(urls: Any, base: str, *, keep_path: bool) -> Any:
    """Every URL in ``urls`` (a string or nested dicts of them) moved onto ``base``."""
    if isinstance(urls, dict):
        return {key: _moved(value, base, keep_path=keep_path) for key, value in urls.items()}
    return base.rstrip("/") + (urlsplit(str(urls)).path if keep_path else "")


class CcxtBarStream:
    """Closed bars of ``symbols`` from ccxt.pro's ``watch_ohlcv_for_symbols``.

    ``backoff_s`` is (first, cap) of the reconnect backoff, doubling per failure in a row;
    ``idle_timeout_s`` (default one candle plus ``timeout_s``) is how long a silent socket
    is trusted before it is reported (``VenueTimeout``) and redialled; ``group_wait_s`` is
    how long past a candle's close its batch waits for symbols that have not reported it.
    """

    def __init__(
        self,
        settings: CcxtConfig,
        *,
        symbols: list[str],
        clock: Clock,
        sandbox: bool,
        ws_url: str = "",
        backoff_s: tuple[float, float] = (1.0, 30.0),
        idle_timeout_s: float | None = None,
        group_wait_s: float = 5.0,
    ) -> None:
        self.name = settings.exchange_id
        self._symbols = list(symbols)
        self._timeframe = settings.timeframe
        self._clock = clock
        self._backoff_s = backoff_s
        self._endpoint = ws_url or ("sandbox" if sandbox else "live")
        self._exchange = make_pro_exchange(settings, sandbox=sandbox, ws_url=ws_url)
        self.interval_s = float(self._exchange.parse_timeframe(settings.timeframe))
        self._iv_ms = round(self.interval_s * 1000)
        # Binance pushes every 2 s; a whole candle and a request timeout of silence is dead.
        self._idle_s = idle_timeout_s or self.interval_s + settings.timeout_s
        self._wait_ms = round(group_wait_s * 1000)
        self._seen: dict[str, int] = {}  # symbol -> open ms of the newest bar collected
        self._distrusted: dict[str, int] = {}  # symbol -> cached candles up to here: REST
        self._ready: dict[int, dict[str, Bar]] = {}  # open ms -> symbol -> bar, not yielded
        self._gaps: dict[str, int] = {}  # symbol -> open ms of the first candle REST owes

    def __repr__(self) -> str:
        return f"CcxtBarStream(exchange={self.name!r}, endpoint={self._endpoint!r})"

    async def batches(
        self, backfill: Backfill | None = None, on_error: OnError | None = None
    ) -> AsyncIterator[list[Bar]]:
        """Closed bars, batched by open time, until cancelled; the client is closed on exit."""
        failures = 0
        asked: set[tuple[str, int]] = set()  # gaps REST was asked about since the last wake
        try:
            while True:
                self._scan(on_error, skip_missing=backfill is None)
                gaps = {g for g in self._gaps.items() if g not in asked}
                if gaps and backfill is not None:
                    asked |= gaps  # once per wake-up: a lagging REST is not hammered
                    await self._backfill(backfill, dict(gaps), on_error)
                    continue
                batches = self._flush()
                for batch in batches:
                    yield batch
                if batches:
                    continue  # read the caches again before watching: no await in between
                try:
                    async with asyncio.timeout(self._idle_s):
                        await self._exchange.watch_ohlcv_for_symbols(self._pairs())
                    failures = 0
                    asked.clear()
                except CCXT_ERRORS as e:
                    failures += 1
                    _report(on_error, translate(e, venue=self.name))
                    await self._reconnect_after(failures)
        finally:
            await self._exchange.close()

    def _pairs(self) -> list[list[str]]:
        return [[symbol, self._timeframe] for symbol in self._symbols]

    async def _reconnect_after(self, failures: int) -> None:
        """Forget the broken connection and what it may not have finished telling us."""
        for symbol in self._symbols:
            rows = self._rows(symbol)
            if rows:
                newest = int(rows[-1][0])
                self._distrusted[symbol] = max(self._distrusted.get(symbol, newest), newest)
        await self._exchange.close_ws_clients()  # a silent socket too: the next watch dials
        first, cap = self._backoff_s
        await self._clock.sleep(min(cap, first * 2 ** (failures - 1)))
        self._exchange.ws_dial_backoff = {}  # ccxt would add its own sleep before dialling

    def _rows(self, symbol: str) -> list[_Row]:
        cache = (self._exchange.ohlcvs or {}).get(symbol, {}).get(self._timeframe)
        rows = (tuple(row) for row in cache or ())
        # a row without an integer open time is unusable (REST fills in for it)
        return sorted((r for r in rows if r and isinstance(r[0], int)), key=lambda r: r[0])

    def _scan(self, on_error: OnError | None, *, skip_missing: bool) -> None:
        """Collect the closed candles the caches hold; note where REST must fill in (or,
        with no REST to ask, skip what the stream cannot vouch for)."""
        self._gaps = {}
        for symbol in self._symbols:
            rows = self._rows(symbol)
            if not rows:
                continue
            by_ts = {int(row[0]): row for row in rows}
            newest = int(rows[-1][0])
            seen = self._seen.get(symbol)
            start = seen + self._iv_ms if seen is not None else int(rows[0][0])
            trusted_after = self._distrusted.get(symbol, -1)
            for ts in range(start, newest, self._iv_ms):
                row = by_ts.get(ts)
                bar = self._bar(symbol, row, on_error) if ts > trusted_after else None
                if bar is not None:
                    self._collect(bar)
                elif skip_missing:
                    self._seen[symbol] = ts
                else:
                    self._gaps[symbol] = ts
                    break

    def _bar(self, symbol: str, row: _Row | None, on_error: OnError | None) -> Bar | None:
        if row is None:
            return None
        try:
            return bar_from_ohlcv(symbol, list(row), self.interval_s, self.name)
        except VenueSchemaError as e:  # REST is asked for this candle instead
            _report(on_error, e)
            return None

    def _collect(self, bar: Bar) -> None:
        ts = bar.ts_ns // NS_PER_MS
        self._ready.setdefault(ts, {})[bar.symbol] = bar
        self._seen[bar.symbol] = ts

    async def _backfill(
        self, backfill: Backfill, gaps: dict[str, int], on_error: OnError | None
    ) -> None:
        """Ask REST for each symbol's missing candles and take them in order, up to the
        newest cached one (the forming candle is the stream's to finish)."""
        for symbol, first in gaps.items():
            try:
                bars = await backfill(symbol, first * NS_PER_MS)
            except CircuitOpenError:
                continue  # the breaker said why; asked again at the next wake-up
            except (VenueError, OSError) as e:
                _report(on_error, e)
                continue
            fetched = {b.ts_ns // NS_PER_MS: b for b in bars if b.symbol == symbol}
            rows = self._rows(symbol)  # re-read: more may have come in during the await
            by_ts = {int(row[0]): row for row in rows}
            trusted_after = self._distrusted.get(symbol, -1)
            for ts in range(first, int(rows[-1][0]), self._iv_ms):
                cached = by_ts.get(ts) if ts > trusted_after else None
                bar = fetched.get(ts) or self._bar(symbol, cached, on_error)
                if bar is not None:
                    self._collect(bar)
                elif any(t > ts for t in fetched):
                    self._seen[symbol] = ts  # a hole in the venue's own data: skip it
                else:
                    break  # REST has not got it yet: asked again at the next wake-up

    def _flush(self) -> list[list[Bar]]:
        """Ready times, oldest first, that every symbol has reached or that waited
        ``group_wait_s`` past their close for the missing symbols; stops at the first that
        is neither, so each symbol's bars stay in order."""
        now_ms = self._clock.now_ns() // NS_PER_MS
        out = []
        for ts in sorted(self._ready):
            group = self._ready[ts]
            if len(group) < len(self._symbols) and now_ms < ts + self._iv_ms + self._wait_ms:
                break
            out.append([group[s] for s in self._symbols if s in group])
            del self._ready[ts]
        return out


def _report(on_error: OnError | None, exc: BaseException) -> None:
    if on_error is not None:
        on_error(exc, DATA)
