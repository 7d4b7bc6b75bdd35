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
from quantbot.domain.values import Bar, Instrument
from quantbot.venues.sim.faults import FaultRule, FaultyVenue
from quantbot.venues.sim.venue import SimVenue

T0 = 1_763_726_400 * NS_PER_S

# The submit faults every harness must be able to arm, by contract name.
SUBMIT_FAULTS = ("rate_limit", "auth_revoked", "accept_then_timeout")


class SimHarness:
    """The embedded paper venue, its book in a file, behind the fault-injection wrapper."""

    name = "sim"
    symbol = "SIMA"
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
            self.venue.on_bar(Bar(symbol, ts, p, p + 0.5, p - 0.5, p, 1e6, 60.0))

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
