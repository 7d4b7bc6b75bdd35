"""What the adapter contract suite needs from each venue under test.

A harness gives a connected venue, a symbol it lists, a way to make the market move so a
market order fills (the paper venue gets a bar; a loopback server advances its clock), a
way to arm one fault on the next submit as the venue's wire would show it, and a restart: a
new adapter on the same venue state.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.venues import AlpacaConfig, CcxtConfig
from quantbot.domain.values import Bar, Instrument
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.binance_futures import BinanceFuturesServer
from quantbot.testing.clock import ServerClock
from quantbot.testing.faults import Fault
from quantbot.testing.sim_faults import FaultRule, FaultyVenue
from quantbot.venues.alpaca.venue import AlpacaVenue
from quantbot.venues.ccxt.venue import CcxtVenue
from quantbot.venues.sim.venue import SimVenue

T0 = 1_763_726_400 * NS_PER_S

# The submit faults every harness must be able to arm, by contract name.
SUBMIT_FAULTS = ("rate_limit", "auth_revoked", "accept_then_timeout")


class SimHarness:
    """The embedded paper venue, its book in a file, behind the fault-injection wrapper."""

    name = "sim"
    symbol = "SIMA"
    qty_unit = Decimal(1)
    unknown_symbol = "NOPE"
    # An order at this price never fills: it stays working for cancel tests.
    far_buy_price = Decimal("1.00")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = SimClock(T0)
        self.price = 100.0
        self.venue: Any = None

    def _build(self) -> Any:
        d = {s: Instrument(s, "0.01", "1", "1") for s in ("SIMA", "SIMB")}
        inner = SimVenue(
            clock=self.clock,
            instruments=d,
            state_path=self.root / "sim_venue.json",
            initial_cash=Decimal(100_000),
            fee_bps=0,
            slippage_bps=0,
            participation_cap=1.0,
        )
        return FaultyVenue(inner, {}, self.clock)

    async def open(self) -> Any:
        self.venue = self._build()
        await self.venue.connect()
        await self.market_moves()  # a first price, as a real venue always has
        return self.venue

    async def market_moves(self) -> None:
        ts = self.clock.now_ns()
        self.clock.set(ts + 60 * NS_PER_S)
        p = self.price
        for symbol in ("SIMA", "SIMB"):
            self.venue.embedded.on_bar(Bar(symbol, ts, p, p + 0.5, p - 0.5, p, 1e6, 60.0))

    async def trade_through(self, low: Decimal, high: Decimal, close: Decimal) -> None:
        """One bar of ``symbol`` spanning [low, high] and closing at ``close``; it opens at
        the last price, or at the nearer end of the range when the market gaps."""
        ts = self.clock.now_ns()
        self.clock.set(ts + 60 * NS_PER_S)
        lo, hi = float(low), float(high)
        open_ = min(max(self.price, lo), hi)
        bar = Bar(self.symbol, ts, open_, hi, lo, float(close), 1e6, 60.0)
        self.venue.embedded.on_bar(bar)
        self.price = float(close)

    def arm_submit_fault(self, kind: str) -> None:
        fault = {
            "rate_limit": FaultRule("rate_limit", retry_after_s=2.0),
            "auth_revoked": FaultRule("auth_revoked"),
            "accept_then_timeout": FaultRule("timeout_after_accept"),
        }[kind]
        self.venue.arm("submit", fault)

    async def reopen(self) -> Any:
        await self.venue.close()
        return await self.open()

    async def close(self) -> None:
        if self.venue is not None:
            await self.venue.close()


class LoopbackHarness:
    """A real SDK adapter against a loopback server in the test's loop: subclasses say which
    server, which adapter (``_server``, ``_build``) and where submits go."""

    submit_endpoint = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = self._server()
        self.clock = ServerClock(self.server)
        self.venue: Any = None

    def _server(self) -> Any:
        raise NotImplementedError

    def _build(self) -> Any:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def open(self) -> Any:
        if not self.server.port:
            await self.server.start()
        self.venue = self._build()
        await self.venue.connect()
        return self.venue

    async def market_moves(self) -> None:
        self.server.tick(1)

    def arm_submit_fault(self, kind: str) -> None:
        fault = {
            "rate_limit": Fault("http_429", retry_after_s=2.0),
            "auth_revoked": Fault("auth_revoked", times=0),
            # held past the adapter's 1 s timeout: the order exists, no reply came
            "accept_then_timeout": Fault("accept_then_timeout", delay_s=3.0),
        }[kind]
        self.server.faults.arm(self.submit_endpoint, fault)

    async def reopen(self) -> Any:
        await self.venue.close()
        return await self.open()

    async def close(self) -> None:
        if self.venue is not None:
            await self.venue.close()
        await self.server.stop()


class AlpacaHarness(LoopbackHarness):
    """The real alpaca-py against the loopback Alpaca server, in the test's loop."""

    name = "alpaca"
    symbol = "AAPL"
    qty_unit = Decimal(1)
    unknown_symbol = "ZZZZQ"
    far_buy_price = Decimal("1.00")
    submit_endpoint = "POST /v2/orders"

    def _server(self) -> Any:
        return AlpacaServer()

    def _build(self) -> Any:
        settings = AlpacaConfig(base_url=self.url, data_url=self.url, timeout_s=1.0)
        return AlpacaVenue(
            settings,
            api_key=TEST_KEY,
            secret=TEST_SECRET,
            clock=self.clock,
            paper=True,
            symbols=["AAPL", "MSFT"],
            oco_links=self.root / "alpaca_oco_links.jsonl",  # state/, kept across reopen()
        )

    async def trade_through(self, low: Decimal, high: Decimal, close: Decimal) -> None:
        """The loopback's current minute of ``symbol`` spans [low, high], closes at
        ``close`` (opening at the last price, or the nearer end of the range on a gap), and
        the minute closes: resting orders meet that bar."""
        self.server.trade_through(self.symbol, low, high, close)


class BinanceHarness(LoopbackHarness):
    """The real ccxt (binance) against the loopback Binance spot server, in the test's loop."""

    name = "ccxt"
    symbol = "ETH/USDT"
    qty_unit = Decimal("0.01")
    unknown_symbol = "NOPE/USDT"
    far_buy_price = Decimal("1000.00")  # 0.01 ETH there is 10 USDT, above the 5 USDT minimum
    submit_endpoint = "POST /api/v3/order"
    market_type = "spot"
    max_leverage = 1.0
    symbols = ("ETH/USDT", "BTC/USDT")

    def _server(self) -> Any:
        return BinanceServer()

    def _build(self) -> Any:
        settings = CcxtConfig(
            base_url=self.server.base_url, timeout_s=1.0, market_type=self.market_type,
            max_leverage=self.max_leverage,
        )  # fmt: skip
        return CcxtVenue(
            settings,
            api_key=TEST_API_KEY,
            secret=TEST_API_SECRET,
            clock=self.clock,
            sandbox=True,
            symbols=list(self.symbols),
        )

    async def trade_through(self, low: Decimal, high: Decimal, close: Decimal) -> None:
        """The loopback's next 1m candle of ``symbol`` spans [low, high] and closes at
        ``close`` (opening at the last price, or the nearer end of the range on a gap):
        resting and conditional orders meet it."""
        self.server.trade_through(self.symbol, low, high, close)


class BinanceFuturesHarness(BinanceHarness):
    """The real ccxt (binance, USD-M perpetuals at 3x) against the loopback futures server."""

    name = "ccxt-futures"
    symbol = "ETH/USDT:USDT"
    qty_unit = Decimal("0.05")  # at far_buy_price: 50 USDT, above ETHUSDT's 20 USDT minimum
    unknown_symbol = "NOPE/USDT:USDT"
    submit_endpoint = "POST /fapi/v1/order"
    market_type = "future"
    max_leverage = 3.0
    symbols = ("ETH/USDT:USDT", "BTC/USDT:USDT")

    def _server(self) -> Any:
        return BinanceFuturesServer()
