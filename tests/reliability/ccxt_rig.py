"""The real OMS (journal, ledger, reconciler, breakers, error handler) on the real ccxt SDK
against the loopback Binance, in-process: the drills of an order whose outcome is unknown,
of clock skew (case 23), of a refused connection (case 11) and of bad quotes (case 28).

The OMS runs on a simulated clock the test moves (grace periods and visibility windows); the
server takes orders on its own wall clock, and a hidden order is shown when the test says
(``server.reveal()``), so nothing here waits on time passing.

``wire_oms`` is the venue-agnostic half: the OrderManager as the daemon wires it, with what it
tells the daemon (halts, alerts, error records) kept in lists; case 11 builds its Alpaca rig
on it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import attrs

from quantbot.clock import Clock, SimClock
from quantbot.config.ops import BreakerConfig, OmsConfig, PretradeConfig, RetryConfig
from quantbot.config.venues import CcxtConfig
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import OrderIntent, OrderType, Side
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.errors import ErrorHandler
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.binance_book import BinanceBook
from quantbot.testing.faults import Fault
from quantbot.venues.base import OrderVenue
from quantbot.venues.ccxt.venue import CcxtVenue

BTC = "BTC/USDT"
ORDER = "POST /api/v3/order"
NEVER = 1e9  # a hidden order shown only when the test reveals it
ONE_ATTEMPT = RetryConfig(max_attempts=1)


@attrs.define
class Wired:
    """An OrderManager and what it tells the daemon, kept for the test to read."""

    oms: OrderManager
    journal_path: Path
    breakers: BreakerBoard
    gates: PretradeGates | None
    alerts: list[tuple[ReasonCode, dict[str, Any]]]
    halts: list[Reason]
    records: list[dict[str, Any]]  # the error handler's classified records
    killed: list[bool]

    def journal(self, kind: str | None = None) -> list[dict[str, Any]]:
        events = read_journal(self.journal_path, repair=False).events
        return [e for e in events if kind is None or e["type"] == kind]

    def alert_codes(self) -> list[str]:
        return [str(code) for code, _ in self.alerts]

    def ledger_qty(self, symbol: str = BTC) -> Decimal:
        return self.oms.ledger.position_qty(symbol)


def wire_oms(
    venue: OrderVenue,
    clock: Clock,
    journal_path: Path,
    *,
    symbols: Sequence[str] = (BTC,),
    retry: RetryConfig = ONE_ATTEMPT,
    pretrade: PretradeConfig | None = None,
) -> Wired:
    """The OMS on ``venue``; with ``pretrade``, behind the pre-trade gates and the quote gate
    (on ``symbols``), as the daemon wires them."""
    alerts: list[tuple[ReasonCode, dict[str, Any]]] = []
    halts: list[Reason] = []
    records: list[dict[str, Any]] = []
    killed = [False]
    breakers = BreakerBoard(BreakerConfig(), clock)
    errors = ErrorHandler(
        on_halt=halts.append,
        on_skip_symbol=lambda s, r: None,
        on_disable_provider=lambda p, r: None,
        record=records.append,
        breakers=breakers,
    )
    gates = quotes = None
    if pretrade is not None:
        gates = PretradeGates(pretrade, clock, configured_symbols=list(symbols))
        quotes = QuoteGate(pretrade, clock, venue, gates, errors)
    oms = OrderManager(
        journal=Journal(journal_path, clock),
        ledger=Ledger(),
        venue=venue,
        clock=clock,
        gates=gates,
        breakers=breakers,
        errors=errors,
        retry=retry,
        on_journal_failure=halts.append,
        quotes=quotes,
        alert=lambda code, **context: alerts.append((code, context)),
        kill_engaged=lambda: killed[0],
        on_invariant=halts.append,
    )
    return Wired(oms, journal_path, breakers, gates, alerts, halts, records, killed)


@attrs.define
class Rig(Wired):
    server: BinanceServer
    clock: SimClock
    venue: CcxtVenue
    reconciler: Reconciler

    def hide_next_order(self, *, backdated: bool = False) -> None:
        """The next order is taken but shown to nobody until ``server.reveal()``."""
        self.server.faults.arm(ORDER, Fault("late_visibility", delay_s=NEVER, backdated=backdated))

    async def venue_qty(self, symbol: str = BTC) -> Decimal:
        positions = await self.venue.positions()
        return positions[symbol].qty if symbol in positions else Decimal(0)


R = TypeVar("R", bound=Rig)


def intent(n: int, side: Side = Side.BUY, qty: str = "0.01", symbol: str = BTC) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"qbdrill{n:03d}",
        decision_id=f"{symbol}@{n}",
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        order_type=OrderType.MARKET,
    )


@asynccontextmanager
async def ccxt_rig(
    tmp_path: Path,
    *,
    grace_s: float = 30.0,
    window_s: float = 60.0,
    symbols: Sequence[str] = (BTC, "ETH/USDT"),
    book: BinanceBook | None = None,
    retry: RetryConfig = ONE_ATTEMPT,
    pretrade: PretradeConfig | None = None,
    rig_type: type[R] = Rig,  # type: ignore[assignment]
) -> AsyncIterator[R]:
    """The rig on a fresh loopback Binance (serving ``book``), the venue connected; a drill
    that keeps more state passes its own ``Rig`` subclass as ``rig_type``."""
    server = BinanceServer(book=book)
    await server.start()
    clock = SimClock(server.now_ns)
    venue = CcxtVenue(
        CcxtConfig(base_url=server.base_url, timeout_s=2.0),
        api_key=TEST_API_KEY,
        secret=TEST_API_SECRET,
        clock=clock,
        sandbox=True,
        symbols=list(symbols),
    )
    await venue.connect()
    wired = wire_oms(
        venue, clock, tmp_path / "journal.jsonl", symbols=symbols, retry=retry, pretrade=pretrade
    )
    oms_config = OmsConfig(unknown_grace_s=grace_s, visibility_window_s=window_s)
    try:
        yield rig_type(
            **attrs.asdict(wired, recurse=False),
            server=server,
            clock=clock,
            venue=venue,
            reconciler=Reconciler(wired.oms, oms_config),
        )
    finally:
        wired.oms.journal.close()
        await venue.close()
        await server.stop()
