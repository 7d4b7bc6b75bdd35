"""The daemon's exit legs on a loopback venue through its real SDK, in-process.

The daemon (``Daemon``: journal, ledger, OMS, exit manager, reconciliation, pipeline) runs in
the test's event loop against a loopback server started there too; its clock is the server's
market time (``ServerClock``), so nothing waits on the wall clock. A test moves the market
itself, one closed minute at a time (``batch``) or through a chosen range (``trade_through``:
the venue's own matching of resting stops and limits), and feeds the bar that closed to the
pipeline, so it decides exactly which bar trades through which price. ``restart`` closes the
daemon and starts a new one on the same state directory and the same venue (a new adapter
instance, the journal replayed, start-up reconciliation), as a process restart would.

Venue state is read through the adapter's own look-ups (``order_by_client_id``,
``open_orders``: real SDK requests), and its raw form from the server's book where a test
counts what rests there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from quantbot.config.schema import load_config
from quantbot.daemon.daemon import Daemon
from quantbot.domain.values import Order, OrderIntent, OrderType, Side
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.alpaca_book import AlpacaBook
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.binance_book import BinanceBook
from quantbot.testing.binance_futures import BinanceFuturesServer
from quantbot.testing.binance_futures_book import FuturesBook
from quantbot.testing.clock import ServerClock

MINUTE_MS = 60_000

# Bars from the venue are as old as the loopback's market time: staleness opened up for
# that; one symbol; only the stop-loss and take-profit legs (both rest at every venue here).
COMMON = {
    "QUANTBOT__MARKET__SOURCE": "venue",
    "QUANTBOT__DATA_CONTRACT__MAX_STALENESS_S": "100000",
    "QUANTBOT__PRETRADE__MAX_DATA_AGE_S": "100000",
    "QUANTBOT__PRETRADE__MAX_QUOTE_AGE_S": "100000",
    "QUANTBOT__PRETRADE__COLLAR_WINDOW_S": "100000",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_VOLUME": "0",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_NOTIONAL": "0",
    "QUANTBOT__LIQUIDITY__CONSERVATIVE__MAX_PARTICIPATION": "1",
    "QUANTBOT__ORDERS__EXIT_LEGS": '["stop_loss", "take_profit"]',
}


@attrs.frozen
class VenueKind:
    """One loopback venue: its server, the daemon's settings for it, the symbol and an
    entry size above its minimum notional."""

    name: str
    symbol: str
    qty: Decimal
    env: dict[str, str]
    credentials: dict[str, str]

    def server(self) -> Any:
        now_ms = int(time.time() * 1000)  # the market two hours back: every bar is closed
        start_ms = now_ms - now_ms % MINUTE_MS - 120 * MINUTE_MS
        if self.name == "alpaca":
            return AlpacaServer(AlpacaBook(start_ns=start_ms * 1_000_000))
        if self.name == "futures":
            return BinanceFuturesServer(book=FuturesBook(start_ms=start_ms))
        return BinanceServer(book=BinanceBook(start_ms=start_ms))

    def url_env(self, url: str) -> dict[str, str]:
        if self.name == "alpaca":
            return {
                "QUANTBOT__VENUE__ALPACA__BASE_URL": url,
                "QUANTBOT__VENUE__ALPACA__DATA_URL": url,
            }
        return {"QUANTBOT__VENUE__CCXT__BASE_URL": url}


_CCXT = {
    "QUANTBOT__VENUE__NAME": "ccxt",
    "QUANTBOT__VENUE__CCXT__STREAM": "false",
    "QUANTBOT__VENUE__CCXT__TIMEOUT_S": "3",
}
_CCXT_KEYS = {"QUANTBOT_CCXT_API_KEY": TEST_API_KEY, "QUANTBOT_CCXT_SECRET": TEST_API_SECRET}

SPOT = VenueKind(
    "spot",
    "ETH/USDT",
    Decimal("0.05"),
    # Spot takes no STOP market order: the stop-loss rests as a STOP_LOSS_LIMIT, in one
    # OCO order list with the take-profit.
    {
        **_CCXT,
        "QUANTBOT__MARKET__SYMBOLS": '["ETH/USDT"]',
        "QUANTBOT__ORDERS__STOP_TYPE": "STOP_LIMIT",
    },
    _CCXT_KEYS,
)
FUTURES = VenueKind(
    "futures",
    "ETH/USDT:USDT",
    Decimal("0.05"),
    {
        **_CCXT,
        "QUANTBOT__MARKET__SYMBOLS": '["ETH/USDT:USDT"]',
        "QUANTBOT__VENUE__CCXT__MARKET_TYPE": "future",
        "QUANTBOT__VENUE__CCXT__MAX_LEVERAGE": "3",
    },
    _CCXT_KEYS,
)
ALPACA = VenueKind(
    "alpaca",
    "AAPL",
    Decimal(5),
    {
        "QUANTBOT__VENUE__NAME": "alpaca",
        "QUANTBOT__MARKET__SYMBOLS": '["AAPL"]',
        "QUANTBOT__VENUE__ALPACA__TIMEOUT_S": "3",
    },
    {"APCA_API_KEY_ID": TEST_KEY, "APCA_API_SECRET_KEY": TEST_SECRET},
)
KINDS = (SPOT, FUTURES, ALPACA)


class ExitRig:
    """A daemon in-process on ``kind``'s loopback server (``open_rig``)."""

    def __init__(self, kind: VenueKind, server: Any, root: Path, env: dict[str, str]) -> None:
        self.kind = kind
        self.server = server
        self.root = root
        self.env = env
        self.daemon: Daemon | None = None
        self.last_close = Decimal(0)
        self._entries = 0

    # -- the daemon -------------------------------------------------------------------------
    async def start(self) -> Daemon:
        loaded = load_config(None, environ=self.env)
        self.daemon = Daemon(
            loaded, execution_mode="paper", clock=ServerClock(self.server), control_socket=False
        )
        await self.daemon.start()
        return self.daemon

    async def stop(self) -> None:
        if self.daemon is not None:
            await self.daemon.close()
            self.daemon = None

    async def restart(self) -> Daemon:
        await self.stop()
        return await self.start()

    @property
    def parts(self) -> Any:
        assert self.daemon is not None and self.daemon.parts is not None
        return self.daemon.parts

    @property
    def oms(self) -> Any:
        return self.parts.oms

    @property
    def venue(self) -> Any:
        return self.parts.venue

    # -- the market -------------------------------------------------------------------------
    async def batch(self) -> Decimal:
        """One minute closes at the venue; the daemon gets its bar (fills, exits, decision)."""
        self.server.tick(1)
        return await self._feed()

    async def trade_through(self, low: Decimal, high: Decimal, close: Decimal) -> Decimal:
        """The next minute at the venue spans [low, high] and ends at ``close``: the venue
        matches its resting orders against it; then the daemon gets that bar."""
        self.server.trade_through(self.kind.symbol, low, high, close)
        return await self._feed()

    async def _feed(self) -> Decimal:
        bars = await self.venue.bars(self.kind.symbol)
        bar = bars[-1]
        await self.parts.pipeline.on_batch([bar])
        self.last_close = Decimal(str(bar.close))
        return self.last_close

    # -- orders -----------------------------------------------------------------------------
    async def enter(
        self,
        side: Side = Side.BUY,
        qty: Decimal | None = None,
        *,
        exits: dict[str, Any] | None = None,
    ) -> str:
        """A MARKET entry through the daemon's OMS (``exits``: the exit parameters a
        sleeve's entry carries, journaled with it), then bars until it is filled and booked:
        the exit manager has seen the position by then."""
        self._entries += 1
        cid = f"qbexitentry{self._entries:03d}{side.value[0]}"
        intent = OrderIntent(
            cid, f"{self.kind.symbol}@entry{self._entries}", self.kind.symbol, side,
            qty or self.kind.qty, order_type=OrderType.MARKET, arrival_price=self.last_close,
        )  # fmt: skip
        report = await self.oms.submit(
            intent, market_open=self.parts.pipeline.market_open, exits=exits
        )
        assert report.outcome.value == "ACCEPTED", report.reason
        for _ in range(5):
            await self.batch()
            order = self.oms.ledger.orders[cid]
            if order.status.value == "FILLED":
                return cid
        raise AssertionError(f"entry {cid} never filled: {self.oms.ledger.orders[cid]}")

    def plan(self) -> Any:
        return self.parts.pipeline.desk.exits.plan(self.kind.symbol)

    def legs(self) -> dict[str, str]:
        plan = self.plan()
        return {} if plan is None else dict(plan.legs)

    async def venue_order(self, cid: str) -> Order | None:
        """The venue's answer for our client id (a real SDK look-up)."""
        return await self.venue.order_by_client_id(cid)

    async def venue_open_ids(self) -> set[str]:
        return {o.client_order_id for o in await self.venue.open_orders()}

    def book_open_count(self) -> int:
        """How many orders rest at the venue now, as its own book counts them (futures:
        conditional algo orders included)."""
        book = self.server.book
        if self.kind.name == "alpaca":
            return sum(1 for o in book.orders.values() if o.is_open)
        count = len(book.open_orders())
        if self.kind.name == "futures":
            count += len(book.open_algos())
        return count

    async def own_qty(self) -> Decimal:
        return self.oms.ledger.own_qty(self.kind.symbol)

    async def venue_qty(self) -> Decimal:
        positions = await self.venue.positions()
        pos = positions.get(self.kind.symbol)
        return Decimal(0) if pos is None else pos.qty

    # -- what the daemon wrote --------------------------------------------------------------
    def journal(self, kind: str | None = None) -> list[dict[str, Any]]:
        path = self.root / "state" / "journal.jsonl"
        events = [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]
        return [e for e in events if kind is None or e["type"] == kind]

    def exit_events(self, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.journal("EXIT") if action is None or e.get("action") == action]

    def records(self) -> list[dict[str, Any]]:
        path = self.root / "runtime" / "decisions.jsonl"
        if not path.exists():
            return []
        return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


@asynccontextmanager
async def open_rig(
    kind: VenueKind, root: Path, monkeypatch: pytest.MonkeyPatch, **extra_env: str
) -> AsyncIterator[ExitRig]:
    """``kind``'s loopback server and a started daemon on it (state/ and runtime/ under
    ``root``); both closed at the end."""
    for name, value in kind.credentials.items():
        monkeypatch.setenv(name, value)
    server = kind.server()
    port = await server.start()
    if isinstance(server, AlpacaServer):
        server.set_clock(True)  # a session is open
    env = {
        **COMMON,
        **kind.env,
        **kind.url_env(f"http://127.0.0.1:{port}"),
        "QUANTBOT__RUN__STATE_DIR": str(root / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(root / "runtime"),
        **extra_env,
    }
    rig = ExitRig(kind, server, root, env)
    try:
        await rig.start()
        await rig.batch()
        yield rig
    finally:
        await rig.stop()
        await server.stop()
