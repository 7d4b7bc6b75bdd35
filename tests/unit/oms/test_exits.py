"""The exit-leg manager (oms/exits) through real parts: an OrderManager with its Journal and
Ledger on the embedded paper venue, driven as the order desk drives it on each bar (the venue
matches the bar, ``on_bar``, fills booked, ``sync``), and ``before_order`` ahead of an order
that reduces a protected position. What is asserted is what a user sees: the orders resting at
the venue, the EXIT lines in the journal, the reason codes in the records, the positions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import PretradeConfig
from quantbot.config.orders import OrdersConfig
from quantbot.config.risk import HarvestPresets
from quantbot.domain.ids import client_order_id
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import (
    Bar,
    Instrument,
    Order,
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
from quantbot.oms.manager import OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.testing.sim_faults import FaultRule, FaultyVenue
from quantbot.venues.sim.venue import SimVenue

T0 = 1_767_225_600 * NS_PER_S
MIN = 60 * NS_PER_S
SYM = "SIMA"
NS = "qb-test"
LOCK_BARS = 3
# An entry's exits as the decision step journals them with its INTENT.
BRACKET = {
    "policy": "SWING",
    "stop_loss_pct": 0.02,
    "take_profit_pct": 0.04,
    "trailing_stop_pct": None,
    "max_hold_bars": None,
    "sleeve": "trend",
}
# Filled at 100.37: stop 98.3626 and take-profit 104.3848, each rounded away from the market.
ENTRY_PRICE = 100.37
STOP, TAKE = Decimal("98.36"), Decimal("104.39")


def leg_id(plan_id: str, role: str, generation: int = 0, attempt: int = 0) -> str:
    return client_order_id(NS, f"exit|{plan_id}|{role}|{generation}|{attempt}")


def oco_group(plan_id: str, generation: int) -> str:
    return client_order_id(NS, f"oco|{plan_id}|{generation}")


class Rig:
    """One symbol on the paper venue, an OMS and an exit manager, stepped bar by bar."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        orders: OrdersConfig | None = None,
        modes: dict[str, str] | None = None,
        faults: dict[str, list[FaultRule]] | None = None,
        gates: bool = False,
    ) -> None:
        self.clock = SimClock(T0)
        self.sim = SimVenue(
            clock=self.clock,
            instruments={SYM: Instrument(SYM, "0.01", "1")},
            state_path=None,
            initial_cash=Decimal(100_000),
            fee_bps=0.0,
            slippage_bps=0.0,
            participation_cap=1.0,
        )
        venue: Any = self.sim if faults is None else FaultyVenue(self.sim, faults, self.clock)
        self.journal_path = tmp_path / "journal.jsonl"
        self.gates = (
            PretradeGates(PretradeConfig(), self.clock, configured_symbols=[SYM]) if gates else None
        )
        self.oms = OrderManager(
            journal=Journal(self.journal_path, self.clock),
            ledger=Ledger(),
            venue=venue,
            clock=self.clock,
            gates=self.gates,
        )
        self.orders = orders or OrdersConfig()
        if modes is None:
            modes = exit_modes(self.orders, venue.capabilities, venue="sim", profile="balanced")
        self.events: list[tuple[str, Reason | None, dict[str, Any]]] = []
        self.halts: list[Reason] = []
        self.exits = ExitManager(
            oms=self.oms,
            orders=self.orders,
            presets=HarvestPresets(),
            stop_lock_bars=LOCK_BARS,
            modes=modes,
            instruments={SYM: Instrument(SYM, "0.01", "1")},
            namespace=NS,
            clock=self.clock,
            on_event=lambda event, why, **fields: self.events.append((event, why, fields)),
            halt=self.halts.append,
        )
        self.bars: list[Bar] = []

    def next_bar(self, o: float, h: float, lo: float, c: float) -> Bar:
        return Bar(SYM, T0 + len(self.bars) * MIN, o, h, lo, c, 1e6, 60)

    async def bar(
        self, o: float, h: float, lo: float, c: float, market_open: bool | None = None
    ) -> Bar:
        """One batch as the daemon runs it, once the bar has closed."""
        bar = self.next_bar(o, h, lo, c)
        self.bars.append(bar)
        self.clock.set(bar.ts_ns + MIN)
        self.sim.on_bar(bar)
        if self.gates is not None:
            self.gates.on_bar(bar)
        self.exits.on_bar(bar)
        await self.oms.poll_fills()
        await self.exits.sync(market_open)
        return bar

    async def enter(
        self, side: Side, qty: int, exits: dict[str, Any] | None = BRACKET, n: int = 1
    ) -> str:
        cid = f"qb-entry-{n}"
        intent = OrderIntent(cid, f"d{n}", SYM, side, Decimal(qty))
        report = await self.oms.submit(intent, exits=exits)
        assert report.outcome is SubmitOutcome.ACCEPTED
        return cid

    async def long_with_legs(self, exits: dict[str, Any] | None = BRACKET) -> str:
        """A long of 10 filled at 100.37, its legs placed on that bar."""
        await self.bar(100, 100.5, 99.5, 100)
        cid = await self.enter(Side.BUY, 10, exits)
        await self.bar(ENTRY_PRICE, 101, 100, 100.5)
        assert self.qty() == 10
        return cid

    async def reduce(self, side: Side, qty: int, n: int) -> str:
        """A sleeve's order against the position, sent as the order desk sends it."""
        intent = OrderIntent(f"qb-sleeve-{n}", f"s{n}", SYM, side, Decimal(qty))
        await self.exits.before_order(intent, None)
        report = await self.oms.submit(intent, reducing=True)
        assert report.outcome is SubmitOutcome.ACCEPTED
        return intent.client_order_id

    def qty(self) -> Decimal:
        return self.oms.ledger.own_qty(SYM)

    async def resting(self) -> list[Order]:
        return sorted(await self.sim.open_orders(), key=lambda o: o.order_type.value)

    def journal(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.journal_path.read_bytes().splitlines()]

    def exit_lines(self, action: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.journal()
            if e["type"] == "EXIT" and (action is None or e["action"] == action)
        ]

    def intents(self, role: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.journal()
            if e["type"] == "INTENT" and (role is None or e.get("exit_role") == role)
        ]

    def codes(self) -> list[ReasonCode]:
        return [why.code for event, why, _ in self.events if why is not None]

    def reasons(self, code: ReasonCode) -> list[Reason]:
        return [why for _, why, _ in self.events if why is not None and why.code is code]


def emulated(**changes: Any) -> OrdersConfig:
    return attrs.evolve(OrdersConfig(), prefer="emulated", **changes)


# -- 1. arming from the entry's fill ------------------------------------------------------------


async def test_an_entry_fill_arms_its_plan_and_rests_an_oco_pair_priced_from_the_fill(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    entry = await rig.long_with_legs()

    (armed,) = rig.exit_lines("ARMED")
    assert armed["plan_id"] == entry
    assert (armed["side"], armed["qty"], armed["entry_price"]) == ("BUY", "10", "100.37")
    assert (armed["stop"], armed["take_profit"]) == (str(STOP), str(TAKE))
    assert armed["modes"] == {"stop_loss": "native", "take_profit": "native"}
    assert armed["params"]["stop_loss_pct"] == 0.02

    limit, stop = await rig.resting()
    group = oco_group(entry, 1)
    assert (limit.order_type, limit.side, limit.qty, limit.limit_price) == (
        OrderType.LIMIT, Side.SELL, Decimal(10), TAKE,
    )  # fmt: skip
    assert (stop.order_type, stop.side, stop.qty, stop.stop_price) == (
        OrderType.STOP, Side.SELL, Decimal(10), STOP,
    )  # fmt: skip
    assert limit.client_order_id == leg_id(entry, "take_profit", 1)
    assert stop.client_order_id == leg_id(entry, "stop_loss", 1)
    assert limit.oco_group == stop.oco_group == group
    assert limit.reduce_only and stop.reduce_only

    (legs,) = rig.exit_lines("LEGS")
    assert legs["legs"] == {
        "stop_loss": stop.client_order_id,
        "take_profit": limit.client_order_id,
    }
    assert legs["generation"] == 1
    roles = {e["client_order_id"]: e["exit_role"] for e in rig.intents() if "exit_role" in e}
    assert roles == {stop.client_order_id: "stop_loss", limit.client_order_id: "take_profit"}
    assert rig.exits.protected() == {SYM: 1}
    assert rig.halts == []


async def test_a_short_gets_its_stop_above_and_take_profit_below(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.bar(100, 100.5, 99.5, 100)
    entry = await rig.enter(Side.SELL, 10)
    await rig.bar(ENTRY_PRICE, 101, 100, 100.5)

    # 100.37 x 1.02 = 102.3774 up to 102.38; x 0.96 = 96.3552 down to 96.35.
    limit, stop = await rig.resting()
    assert (limit.side, limit.limit_price) == (Side.BUY, Decimal("96.35"))
    assert (stop.side, stop.stop_price) == (Side.BUY, Decimal("102.38"))
    assert rig.exits.plan(SYM).plan_id == entry  # type: ignore[union-attr]
    assert rig.exits.protected() == {SYM: -1}


# -- 2. reductions, closes, flips ---------------------------------------------------------------


async def test_a_partial_reduction_replaces_the_legs_at_once_for_what_remains(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    entry = await rig.long_with_legs()
    old = {o.client_order_id for o in await rig.resting()}

    sell = await rig.reduce(Side.SELL, 4, 1)

    limit, market, stop = sorted(
        await rig.sim.open_orders(), key=lambda o: (o.order_type.value, o.client_order_id)
    )
    assert market.client_order_id == sell
    assert (limit.qty, limit.limit_price, stop.qty, stop.stop_price) == (
        Decimal(6), TAKE, Decimal(6), STOP,
    )  # fmt: skip
    assert {limit.client_order_id, stop.client_order_id} == {
        leg_id(entry, "take_profit", 2),
        leg_id(entry, "stop_loss", 2),
    }
    assert all(rig.oms.ledger.orders[c].status is OrderStatus.CANCELED for c in old)
    assert rig.exit_lines("ARMED")[-1]["qty"] == "6"

    await rig.bar(100.5, 101, 100, 100.5)  # the sleeve's sell fills: 6 left, legs as they are
    assert rig.qty() == 6
    assert {o.client_order_id for o in await rig.resting()} == {
        leg_id(entry, "take_profit", 2),
        leg_id(entry, "stop_loss", 2),
    }
    assert rig.exit_lines("DONE") == []


async def test_a_full_close_cancels_the_legs_and_places_none_until_the_position_changes(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    entry = await rig.long_with_legs()

    sell = await rig.reduce(Side.SELL, 10, 1)
    assert [o.client_order_id for o in await rig.resting()] == [sell]
    assert rig.exit_lines("LEGS")[-1]["legs"] == {}

    await rig.exits.sync()  # the close is still working: no new legs
    assert [o.client_order_id for o in await rig.resting()] == [sell]

    await rig.bar(100.5, 101, 100, 100.5)  # it fills: flat, the plan ends, no lock
    assert rig.qty() == 0
    assert await rig.resting() == []
    (done,) = rig.exit_lines("DONE")
    assert (done["plan_id"], done["ended"]) == (entry, "flat")
    assert "lock_until_ns" not in done
    assert rig.exits.locks() == {}
    assert rig.exits.protected() == {}


async def test_a_flip_cancels_the_old_legs_and_arms_the_new_side(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    entry = await rig.long_with_legs()

    intent = OrderIntent("qb-flip", "d2", SYM, Side.SELL, Decimal(15))
    await rig.exits.before_order(intent, None)
    assert await rig.resting() == []  # the long's legs are gone before the flip goes
    assert (await rig.oms.submit(intent, exits=BRACKET)).outcome is SubmitOutcome.ACCEPTED

    await rig.bar(101, 101.5, 100.5, 101)  # filled at 101: short 5
    assert rig.qty() == -5
    (done,) = rig.exit_lines("DONE")
    assert (done["plan_id"], done["ended"], done["side"]) == (entry, "flipped", "BUY")
    armed = rig.exit_lines("ARMED")[-1]
    assert (armed["plan_id"], armed["side"], armed["qty"]) == ("qb-flip", "SELL", "5")
    # 101 x 1.02 = 103.02; 101 x 0.96 = 96.96.
    limit, stop = await rig.resting()
    assert (limit.side, limit.qty, limit.limit_price) == (Side.BUY, Decimal(5), Decimal("96.96"))
    assert (stop.side, stop.qty, stop.stop_price) == (Side.BUY, Decimal(5), Decimal("103.02"))
    assert rig.exits.protected() == {SYM: -1}


# -- 3. native legs fill at the venue -----------------------------------------------------------


async def test_a_stop_fill_cancels_its_sibling_and_locks_the_long_side(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    entry = await rig.long_with_legs()
    limit, stop = await rig.resting()

    bar = await rig.bar(99, 99.2, 97.5, 98)

    assert rig.qty() == 0
    ledger = rig.oms.ledger
    assert ledger.orders[stop.client_order_id].status is OrderStatus.FILLED
    assert ledger.orders[stop.client_order_id].avg_fill_price == STOP
    assert ledger.orders[limit.client_order_id].status is OrderStatus.CANCELED
    assert await rig.resting() == []
    (done,) = rig.exit_lines("DONE")
    until = bar.ts_ns + (LOCK_BARS + 1) * MIN
    assert (done["plan_id"], done["ended"], done["stopped_by"]) == (entry, "flat", "stop_loss")
    assert done["lock_until_ns"] == until
    assert rig.exits.locks() == {SYM: {"BUY": until}}
    assert rig.exits.protected() == {}


async def test_a_take_profit_fill_ends_the_plan_without_a_lock(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    entry = await rig.long_with_legs()
    limit, stop = await rig.resting()

    await rig.bar(103, 105, 102.5, 104)

    assert rig.qty() == 0
    assert rig.oms.ledger.orders[limit.client_order_id].avg_fill_price == TAKE
    assert rig.oms.ledger.orders[stop.client_order_id].status is OrderStatus.CANCELED
    (done,) = rig.exit_lines("DONE")
    assert (done["plan_id"], done["ended"]) == (entry, "flat")
    assert "lock_until_ns" not in done and "stopped_by" not in done
    assert rig.exits.locks() == {}


# -- 4. emulated exits --------------------------------------------------------------------------


async def test_an_emulated_stop_is_journaled_then_sent_once_as_a_market_exit(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, orders=emulated())
    entry = await rig.long_with_legs()
    assert await rig.resting() == []  # nothing rests at the venue
    assert rig.exit_lines("ARMED")[0]["modes"] == {
        "stop_loss": "emulated",
        "take_profit": "emulated",
    }

    bar = rig.next_bar(99, 99.2, 97.5, 98)
    rig.bars.append(bar)
    rig.clock.set(bar.ts_ns + MIN)
    rig.sim.on_bar(bar)
    rig.exits.on_bar(bar)
    fired = leg_id(entry, "stop_loss", attempt=1)
    (triggered,) = rig.exit_lines("TRIGGERED")  # on disk before any exit goes
    assert (triggered["fired"], triggered["fired_cid"], triggered["attempt"]) == (
        "stop_loss", fired, 1,
    )  # fmt: skip
    assert triggered["trigger_price"] == str(STOP)
    assert rig.intents("stop_loss") == []
    assert ReasonCode.EXIT_TRIGGERED in rig.codes()

    await rig.oms.poll_fills()
    await rig.exits.sync()
    (exit_order,) = await rig.resting()
    assert (exit_order.client_order_id, exit_order.order_type, exit_order.side) == (
        fired, OrderType.MARKET, Side.SELL,
    )  # fmt: skip
    assert exit_order.qty == 10
    (intent,) = rig.intents("stop_loss")
    assert intent["client_order_id"] == fired and intent["reducing"] is True

    await rig.exits.sync()  # working: never a second exit
    assert len(rig.intents("stop_loss")) == 1

    nxt = await rig.bar(97.9, 98, 97, 97.5)
    assert rig.qty() == 0
    (done,) = rig.exit_lines("DONE")
    assert done["stopped_by"] == "stop_loss"
    assert done["lock_until_ns"] == nxt.ts_ns + (LOCK_BARS + 1) * MIN
    assert rig.exits.locks() == {SYM: {"BUY": done["lock_until_ns"]}}


async def test_an_emulated_bar_through_both_stop_and_take_profit_fires_the_stop(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, orders=emulated())
    await rig.long_with_legs()

    await rig.bar(100.5, 105, 97.5, 101)

    (triggered,) = rig.exit_lines("TRIGGERED")
    assert triggered["fired"] == "stop_loss"
    (exit_order,) = await rig.resting()
    assert exit_order.order_type is OrderType.MARKET
    assert [i["exit_role"] for i in rig.intents() if "exit_role" in i] == ["stop_loss"]


async def test_an_emulated_trailing_stop_ratchets_and_fires_only_on_a_later_bar(
    tmp_path: Path,
) -> None:
    trailing = {**BRACKET, "stop_loss_pct": None, "take_profit_pct": None,
                "trailing_stop_pct": 0.01}  # fmt: skip
    rig = Rig(tmp_path, orders=emulated())
    entry = await rig.long_with_legs(trailing)  # high 101: the reference moves up to it
    assert [m["trail_ref"] for m in rig.exit_lines("MOVED")] == []  # armed after that bar

    await rig.bar(101, 103, 100.5, 102.5)  # stop 99.3663 not reached; the reference -> 103
    await rig.bar(103, 105, 102.2, 104)  # stop 101.97 not reached; -> 105
    # A bar that sets a new high (106) and then falls below the stop that high implies
    # (104.94) but not below the stop it started with (103.95): no exit on its own extreme.
    await rig.bar(105, 106, 104.5, 105)
    assert [Decimal(m["trail_ref"]) for m in rig.exit_lines("MOVED")] == [103, 105, 106]
    assert rig.exit_lines("TRIGGERED") == []
    assert await rig.resting() == []

    await rig.bar(105, 105.5, 104.5, 104.8)  # the next bar at 104.5 <= 104.94: it fires
    (triggered,) = rig.exit_lines("TRIGGERED")
    assert triggered["fired"] == "trailing_stop"
    assert Decimal(triggered["trigger_price"]) == Decimal("104.94")
    (exit_order,) = await rig.resting()
    assert exit_order.client_order_id == leg_id(entry, "trailing_stop", attempt=1)
    assert exit_order.order_type is OrderType.MARKET


MAX_HOLD = {**BRACKET, "stop_loss_pct": None, "take_profit_pct": None, "max_hold_bars": 3}


async def _held_for_max_hold(rig: Rig, entry: str) -> None:
    """Armed when the entry's bar closed (T0 + 2 min): due once a bar closes at + 3 min."""
    await rig.bar(100.5, 101, 100, 100.5)
    await rig.bar(100.5, 101, 100, 100.5)
    assert rig.exit_lines("TRIGGERED") == []
    await rig.bar(100.5, 101, 100, 100.5)  # closes at T0 + 5 min
    (triggered,) = rig.exit_lines("TRIGGERED")
    assert triggered["fired"] == "max_hold"
    (exit_order,) = await rig.resting()
    assert exit_order.client_order_id == leg_id(entry, "max_hold", attempt=1)
    assert (exit_order.order_type, exit_order.side, exit_order.qty) == (
        OrderType.MARKET, Side.SELL, Decimal(10),
    )  # fmt: skip


async def test_max_hold_fires_after_max_hold_bars_bars(tmp_path: Path) -> None:
    rig = Rig(tmp_path, modes={"max_hold": "emulated"})
    entry = await rig.long_with_legs(MAX_HOLD)
    await _held_for_max_hold(rig, entry)


async def test_max_hold_fires_with_the_modes_start_up_computes(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # exit_modes(...) for the paper venue: max_hold -> "daemon"
    entry = await rig.long_with_legs(MAX_HOLD)
    assert rig.exit_lines("ARMED")[0]["modes"] == {"max_hold": "daemon"}
    await _held_for_max_hold(rig, entry)


# -- 5. an emulated exit that did not go, or may have ------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [("rate_limit", OrderStatus.NOT_SENT), ("reject", OrderStatus.REJECTED)],
)
async def test_an_emulated_exit_proven_dead_is_sent_again_under_a_new_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, status: OrderStatus
) -> None:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    rule = FaultRule(fault, when={"exit_role": "stop_loss"})
    rig = Rig(tmp_path, orders=emulated(), faults={"submit": [rule]})
    entry = await rig.long_with_legs()

    await rig.bar(99, 99.2, 97.5, 98)  # the stop fires; its exit does not reach the venue
    first = leg_id(entry, "stop_loss", attempt=1)
    assert rig.oms.ledger.orders[first].status is status
    assert await rig.resting() == []

    await rig.exits.sync()
    second = leg_id(entry, "stop_loss", attempt=2)
    assert [t["fired_cid"] for t in rig.exit_lines("TRIGGERED")] == [first, second]
    assert rig.exit_lines("TRIGGERED")[-1]["attempt"] == 2
    (exit_order,) = await rig.resting()
    assert (exit_order.client_order_id, exit_order.order_type, exit_order.qty) == (
        second, OrderType.MARKET, Decimal(10),
    )  # fmt: skip

    await rig.exits.sync()  # the second one works: nothing more goes
    assert [i["client_order_id"] for i in rig.intents("stop_loss")] == [first, second]
    await rig.bar(97.9, 98, 97, 97.5)
    assert rig.qty() == 0


async def test_an_emulated_exit_of_unknown_outcome_is_never_sent_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    rule = FaultRule("timeout_after_accept", when={"exit_role": "stop_loss"})
    rig = Rig(tmp_path, orders=emulated(), faults={"submit": [rule]})
    entry = await rig.long_with_legs()

    await rig.bar(99, 99.2, 97.5, 98)
    first = leg_id(entry, "stop_loss", attempt=1)
    assert rig.oms.ledger.orders[first].status is OrderStatus.UNKNOWN
    for _ in range(3):
        await rig.exits.sync()
    assert [i["client_order_id"] for i in rig.intents("stop_loss")] == [first]
    assert [o.client_order_id for o in await rig.resting()] == [first]  # the venue took it
    assert len(rig.exit_lines("TRIGGERED")) == 1

    await rig.bar(97.9, 98, 97, 97.5)  # it fills: the fill settles it, flat, done
    assert rig.qty() == 0
    assert rig.exit_lines("DONE")[-1]["stopped_by"] == "stop_loss"
    assert [i["client_order_id"] for i in rig.intents("stop_loss")] == [first]


async def test_an_emulated_exit_a_gate_holds_back_goes_once_under_its_journaled_id(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, orders=emulated(), gates=True)
    entry = await rig.long_with_legs()

    await rig.bar(99, 99.2, 97.5, 98, market_open=False)  # fired while the market is shut
    fired = leg_id(entry, "stop_loss", attempt=1)
    assert rig.exit_lines("TRIGGERED")[0]["fired_cid"] == fired
    assert ReasonCode.MARKET_CLOSED_BLOCK in rig.codes()
    assert rig.intents("stop_loss") == []  # nothing journaled, nothing sent
    assert await rig.resting() == []

    await rig.exits.sync(True)  # open again: the exit goes, under the id journaled for it
    (exit_order,) = await rig.resting()
    assert (exit_order.client_order_id, exit_order.order_type) == (fired, OrderType.MARKET)
    await rig.exits.sync(True)
    assert [i["client_order_id"] for i in rig.intents("stop_loss")] == [fired]
    assert len(rig.exit_lines("TRIGGERED")) == 1


# -- 6. a leg cancelled at the venue behind the daemon's back -----------------------------------


async def test_a_leg_missing_at_the_venue_is_recorded_and_placed_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    entry = await rig.long_with_legs()
    await rig.sim.cancel(leg_id(entry, "stop_loss", 1))  # its OCO sibling goes with it
    await rig.oms.refresh_terminal_states()

    await rig.exits.sync()

    (missing,) = rig.reasons(ReasonCode.EXIT_LEG_MISSING)
    assert missing.context["roles"] == ["stop_loss", "take_profit"]
    assert missing.context["action"] == "replace"
    assert missing.context["plan_id"] == entry
    limit, stop = await rig.resting()
    assert (limit.client_order_id, stop.client_order_id) == (
        leg_id(entry, "take_profit", 2), leg_id(entry, "stop_loss", 2),
    )  # fmt: skip
    assert (limit.qty, limit.limit_price, stop.qty, stop.stop_price) == (
        Decimal(10), TAKE, Decimal(10), STOP,
    )  # fmt: skip
    assert limit.oco_group == stop.oco_group == oco_group(entry, 2)
    assert rig.halts == []


async def test_a_leg_missing_at_the_venue_halts_when_so_configured(tmp_path: Path) -> None:
    rig = Rig(tmp_path, orders=attrs.evolve(OrdersConfig(), missing_leg="halt"))
    entry = await rig.long_with_legs()
    await rig.sim.cancel(leg_id(entry, "stop_loss", 1))
    await rig.oms.refresh_terminal_states()

    await rig.exits.sync()

    (missing,) = rig.reasons(ReasonCode.EXIT_LEG_MISSING)
    assert missing.context["action"] == "halt"
    assert [h.code for h in rig.halts] == [ReasonCode.EXIT_LEG_MISSING]
    assert await rig.resting() == []


# -- 7. a stop the market is already through when the legs are placed ---------------------------


async def test_a_stop_already_through_the_market_fires_its_exit_in_the_same_sync(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    await rig.bar(100, 100.5, 99.5, 100)
    entry = await rig.enter(Side.BUY, 10)

    # The entry fills at the open (100.37), then the bar falls far below its stop (98.36).
    await rig.bar(ENTRY_PRICE, 100.4, 94, 95)

    (refused,) = rig.reasons(ReasonCode.EXIT_LEG_REJECTED)
    assert refused.context["role"] == "stop_loss"
    assert refused.context["refused_by"] == ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET.value
    assert refused.context["now"] == "emulated"
    assert [i["exit_role"] for i in rig.intents() if "exit_role" in i] == [
        "take_profit",
        "stop_loss",
    ]
    assert not any(
        i["order_type"] in ("STOP", "STOP_LIMIT") for i in rig.intents()
    )  # no stop ever rested
    (triggered,) = rig.exit_lines("TRIGGERED")
    fired = leg_id(entry, "stop_loss", attempt=1)
    assert (triggered["fired"], triggered["fired_cid"]) == ("stop_loss", fired)
    (exit_order,) = await rig.resting()  # the take-profit was cancelled first
    assert (exit_order.client_order_id, exit_order.order_type, exit_order.side) == (
        fired, OrderType.MARKET, Side.SELL,
    )  # fmt: skip
    assert exit_order.qty == 10
    tp = leg_id(entry, "take_profit", 1)
    assert rig.oms.ledger.orders[tp].status is OrderStatus.CANCELED
    assert rig.codes().index(ReasonCode.EXIT_LEG_REJECTED) < rig.codes().index(
        ReasonCode.EXIT_TRIGGERED
    )
