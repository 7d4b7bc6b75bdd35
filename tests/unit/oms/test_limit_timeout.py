"""LIMIT entries that outstay ``limit_entry_timeout_bars`` (oms/limit_timeout) through real
parts: an OrderManager with its Journal, Ledger and pre-trade gates on the embedded paper
venue, with the exit-leg manager beside it, stepped as the order desk steps them on each bar
(gates, exits and the timeout see the bar; fills booked; expired entries cancelled; exits
synced). Asserted: the orders at the venue, the ENTRY_LIMIT_TIMEOUT record, the gates' cancel
count, the journal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import PretradeConfig
from quantbot.config.orders import OrdersConfig
from quantbot.config.risk import HarvestPresets
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import (
    Bar,
    Instrument,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    SubmitOutcome,
)
from quantbot.oms.capability import exit_modes
from quantbot.oms.exits import ExitManager
from quantbot.oms.journal import Journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.limit_timeout import LimitTimeout
from quantbot.oms.manager import OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.venues.sim.venue import SimVenue

T0 = 1_767_225_600 * NS_PER_S
MIN = 60 * NS_PER_S
SYM = "SIMA"
TIMEOUT_BARS = 3
# Within the default 200 bps price collar of the gates, so the legs pass them.
BRACKET = {
    "policy": "SWING",
    "stop_loss_pct": 0.02,
    "take_profit_pct": 0.01,
    "trailing_stop_pct": None,
    "max_hold_bars": None,
    "sleeve": "trend",
}


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = SimClock(T0)
        instruments = {SYM: Instrument(SYM, "0.01", "1")}
        self.sim = SimVenue(
            clock=self.clock,
            instruments=instruments,
            state_path=None,
            initial_cash=Decimal(100_000),
            fee_bps=0.0,
            slippage_bps=0.0,
            participation_cap=1.0,
        )
        self.gates = PretradeGates(PretradeConfig(), self.clock, configured_symbols=[SYM])
        self.journal_path = tmp_path / "journal.jsonl"
        self.oms = OrderManager(
            journal=Journal(self.journal_path, self.clock),
            ledger=Ledger(),
            venue=self.sim,
            clock=self.clock,
            gates=self.gates,
        )
        self.events: list[tuple[str, Reason | None]] = []
        orders = OrdersConfig()
        self.exits = ExitManager(
            oms=self.oms,
            orders=orders,
            presets=HarvestPresets(),
            stop_lock_bars=10,
            modes=exit_modes(orders, self.sim.capabilities, venue="sim", profile="balanced"),
            instruments=instruments,
            namespace="qb-test",
            clock=self.clock,
            on_event=lambda event, why, **fields: self.events.append((event, why)),
            halt=lambda why: self.events.append(("HALT", why)),
        )
        self.timeout = LimitTimeout(
            oms=self.oms,
            bars=TIMEOUT_BARS,
            on_event=lambda event, why: self.events.append((event, why)),
        )
        self.n = 0

    async def bar(self, o: float, h: float, lo: float, c: float) -> None:
        """One batch as the order desk runs it, once the bar has closed."""
        bar = Bar(SYM, T0 + self.n * MIN, o, h, lo, c, 1e6, 60)
        self.n += 1
        self.clock.set(bar.ts_ns + MIN)
        self.sim.on_bar(bar)
        self.gates.on_bar(bar)
        self.exits.on_bar(bar)
        self.timeout.on_bar(bar)
        await self.oms.poll_fills()
        await self.timeout.cancel_expired()
        await self.exits.sync()

    async def quiet(self, bars: int) -> None:
        for _ in range(bars):
            await self.bar(100.2, 100.4, 99.9, 100.2)

    async def limit_buy(self, price: str, exits: dict[str, Any] | None = None) -> str:
        intent = OrderIntent(
            "qb-limit-1", "d1", SYM, Side.BUY, Decimal(10), OrderType.LIMIT, Decimal(price)
        )
        report = await self.oms.submit(intent, exits=exits)
        assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
        return intent.client_order_id

    def timeouts(self) -> list[Reason]:
        return [
            why
            for _, why in self.events
            if why is not None and why.code is ReasonCode.ENTRY_LIMIT_TIMEOUT
        ]

    def journal(self, kind: str) -> list[dict[str, Any]]:
        lines = [orjson.loads(line) for line in self.journal_path.read_bytes().splitlines()]
        return [e for e in lines if e["type"] == kind]

    def cancels(self) -> tuple[int, int]:
        snap = self.gates.snapshot()
        return snap["cancels_last_min"], snap["symbols"][SYM]["cancels_since_fill"]


async def test_a_limit_entry_still_working_after_the_timeout_is_cancelled_at_the_venue(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    await rig.bar(100, 100.5, 99.5, 100)
    cid = await rig.limit_buy("99.50", exits=BRACKET)  # below every later bar's low

    await rig.quiet(TIMEOUT_BARS - 1)
    assert [o.client_order_id for o in await rig.sim.open_orders()] == [cid]
    assert rig.timeouts() == []

    await rig.quiet(1)  # the third bar since it was sent
    assert await rig.sim.open_orders() == []
    assert (await rig.sim.order_by_client_id(cid)).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    assert rig.oms.ledger.orders[cid].status is OrderStatus.CANCELED
    (why,) = rig.timeouts()
    assert (rig.events[-1][0], why.context["client_order_id"], why.context["bars"]) == (
        "ORDER", cid, TIMEOUT_BARS,
    )  # fmt: skip
    assert why.context["limit_entry_timeout_bars"] == TIMEOUT_BARS
    assert why.context["status"] == "CANCELED"
    assert rig.cancels() == (1, 1)
    assert [e["client_order_id"] for e in rig.journal("CANCEL_REQUESTED")] == [cid]

    await rig.quiet(2)  # cancelled once, never again
    assert len(rig.timeouts()) == 1
    assert rig.oms.ledger.own_qty(SYM) == 0


async def test_a_resting_limit_take_profit_leg_is_never_timed_out(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.bar(100, 100.5, 99.5, 100)
    entry = OrderIntent("qb-entry-1", "d1", SYM, Side.BUY, Decimal(10))
    assert (await rig.oms.submit(entry, exits=BRACKET)).outcome is SubmitOutcome.ACCEPTED
    await rig.bar(100.2, 100.4, 99.9, 100.2)  # filled at 100.2: legs placed
    legs = sorted(await rig.sim.open_orders(), key=lambda o: o.order_type.value)
    assert [(o.order_type, o.limit_price) for o in legs] == [
        (OrderType.LIMIT, Decimal("101.21")),  # 100.2 x 1.01 = 101.202, rounded up
        (OrderType.STOP, None),
    ]

    await rig.quiet(3 * TIMEOUT_BARS)

    assert await rig.sim.open_orders() == legs
    assert rig.timeouts() == []
    assert rig.journal("CANCEL_REQUESTED") == []
    assert rig.cancels() == (0, 0)
    assert rig.oms.ledger.own_qty(SYM) == 10


async def test_a_limit_entry_that_fills_in_time_is_left_alone(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.bar(100, 100.5, 99.5, 100)
    cid = await rig.limit_buy("99.80")

    await rig.bar(100.2, 100.4, 99.9, 100.2)  # not yet
    await rig.bar(100, 100.1, 99.7, 99.9)  # the second bar reaches it: filled at 99.80
    assert rig.oms.ledger.orders[cid].status is OrderStatus.FILLED
    await rig.quiet(2 * TIMEOUT_BARS)

    assert rig.timeouts() == []
    assert rig.journal("CANCEL_REQUESTED") == []
    assert rig.cancels() == (0, 0)
    assert rig.oms.ledger.own_qty(SYM) == 10
