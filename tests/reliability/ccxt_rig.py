"""The real OMS (journal, ledger, reconciler, breakers, error handler) on the real ccxt SDK
against the loopback Binance, in-process: the drills of an order whose outcome is unknown.

The OMS runs on a simulated clock the test moves (grace periods and visibility windows); the
server takes orders on its own wall clock, and a hidden order is shown when the test says
(``server.reveal()``), so nothing here waits on time passing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from quantbot.clock import SimClock
from quantbot.config_ops import BreakerConfig, OmsConfig, RetryConfig
from quantbot.config_venues import CcxtConfig
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import OrderIntent, OrderType, Side
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.errors import ErrorHandler
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt import CcxtVenue

BTC = "BTC/USDT"
ORDER = "POST /api/v3/order"
NEVER = 1e9  # a hidden order shown only when the test reveals it


@attrs.define
class Rig:
    server: BinanceServer
    clock: SimClock
    venue: CcxtVenue
    oms: OrderManager
    reconciler: Reconciler
    journal_path: Path
    alerts: list[tuple[ReasonCode, dict[str, Any]]]
    halts: list[Reason]
    killed: list[bool]

    def journal(self, kind: str | None = None) -> list[dict[str, Any]]:
        events = read_journal(self.journal_path, repair=False).events
        return [e for e in events if kind is None or e["type"] == kind]

    def alert_codes(self) -> list[str]:
        return [str(code) for code, _ in self.alerts]

    def hide_next_order(self, *, backdated: bool = False) -> None:
        """The next order is taken but shown to nobody until ``server.reveal()``."""
        self.server.faults.arm(ORDER, Fault("late_visibility", delay_s=NEVER, backdated=backdated))

    async def venue_qty(self, symbol: str = BTC) -> Decimal:
        positions = await self.venue.positions()
        return positions[symbol].qty if symbol in positions else Decimal(0)

    def ledger_qty(self, symbol: str = BTC) -> Decimal:
        return self.oms.ledger.position_qty(symbol)


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
    tmp_path: Path, *, grace_s: float = 30.0, window_s: float = 60.0
) -> AsyncIterator[Rig]:
    server = BinanceServer()
    await server.start()
    clock = SimClock(server.now_ns)
    settings = CcxtConfig(base_url=server.base_url, timeout_s=2.0)
    venue = CcxtVenue(
        settings,
        api_key=TEST_API_KEY,
        secret=TEST_API_SECRET,
        clock=clock,
        sandbox=True,
        symbols=[BTC, "ETH/USDT"],
    )
    await venue.connect()
    alerts: list[tuple[ReasonCode, dict[str, Any]]] = []
    halts: list[Reason] = []
    killed = [False]
    breakers = BreakerBoard(BreakerConfig(), clock)
    errors = ErrorHandler(
        on_halt=halts.append,
        on_skip_symbol=lambda s, r: None,
        on_disable_provider=lambda p, r: None,
        record=lambda record: None,
        breakers=breakers,
    )
    journal_path = tmp_path / "journal.jsonl"
    oms = OrderManager(
        journal=Journal(journal_path, clock),
        ledger=Ledger(),
        venue=venue,
        clock=clock,
        breakers=breakers,
        errors=errors,
        retry=RetryConfig(max_attempts=1),
        on_journal_failure=halts.append,
        alert=lambda code, **context: alerts.append((code, context)),
        kill_engaged=lambda: killed[0],
        on_invariant=halts.append,
    )
    reconciler = Reconciler(oms, OmsConfig(unknown_grace_s=grace_s, visibility_window_s=window_s))
    try:
        yield Rig(server, clock, venue, oms, reconciler, journal_path, alerts, halts, killed)
    finally:
        oms.journal.close()
        await venue.close()
        await server.stop()
