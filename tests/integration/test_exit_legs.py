"""Exit legs at each loopback venue through its real SDK (ccxt for Binance spot and USD-M
futures, alpaca-py for Alpaca), with the daemon in-process (``exit_rig``): issue 16's
"a bracket whose stop fills cancels the take-profit at the venue; a flip cancels the legs; a
restart with open legs reconciles them".

Each venue rests a stop-loss and a take-profit: Binance spot as one OCO order list (its
stop a STOP_LOSS_LIMIT: spot takes no stop-market order), Binance futures as a reduce-only
STOP_MARKET algo order and a reduce-only LIMIT the daemon links (futures has no OCO), Alpaca
as one OCO order (its stop leg named by our client id through the adapter's links).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.domain.values import OrderStatus, OrderType, Side
from quantbot.oms.exit_plan import ExitParams
from tests.integration.exit_rig import KINDS, ExitRig, VenueKind, open_rig

pytestmark = pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)

STOP_TYPE = {"spot": OrderType.STOP_LIMIT, "futures": OrderType.STOP, "alpaca": OrderType.STOP}
SWING = {**ExitParams("SWING", 0.01, 0.02, None, None).to_record(), "sleeve": "test"}


async def _bracket(rig: ExitRig) -> tuple[str, dict[str, str]]:
    """An entry of ours (a sleeve's exits with it), filled; its legs at the venue."""
    entry = await rig.enter(exits=SWING)
    legs = rig.legs()
    assert set(legs) == {"stop_loss", "take_profit"}
    return entry, legs


def _exit_intents(rig: ExitRig) -> list[dict[str, Any]]:
    return [e for e in rig.journal("INTENT") if e.get("exit_role")]


def _ended(done: dict[str, Any]) -> str:
    """Why the plan ended: "flat" or "flipped"."""
    return done["ended"]


def _offer(rig: ExitRig, side: str, n: int) -> None:
    """A TradeIntent in the inbox, taken now: the external sleeve wants ``side``."""
    line = {"symbol": rig.kind.symbol, "side": side, "confidence": 1.0, "intent_id": f"t{n}"}
    (rig.root / "runtime" / "inbox" / f"intent{n:03d}.jsonl").write_bytes(
        orjson.dumps(line) + b"\n"
    )
    assert rig.parts.intake.take() == 1


async def _stop_out(rig: ExitRig) -> None:
    """The next minute trades through the plan's stop (never near the take-profit)."""
    stop = rig.plan().stop
    await rig.trade_through(stop * Decimal("0.99"), rig.last_close, stop * Decimal("0.995"))


async def test_a_bracket_rests_at_the_venue_and_its_stop_fill_cancels_the_take_profit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: VenueKind
) -> None:
    async with open_rig(kind, tmp_path, monkeypatch) as rig:
        entry, legs = await _bracket(rig)
        plan = rig.plan()
        assert plan.plan_id == entry and plan.qty == abs(await rig.own_qty()) > 0

        # At the venue, under our client ids: the stop and the take-profit, on the exit side.
        assert await rig.venue_open_ids() == set(legs.values())
        assert rig.book_open_count() == 2
        stop = await rig.venue_order(legs["stop_loss"])
        take = await rig.venue_order(legs["take_profit"])
        assert stop is not None and take is not None
        assert (stop.order_type, stop.stop_price) == (STOP_TYPE[kind.name], plan.stop)
        assert (take.order_type, take.limit_price) == (OrderType.LIMIT, plan.take_profit)
        assert stop.side is take.side is Side.SELL
        assert stop.qty == take.qty == plan.qty
        if kind.name == "futures":
            assert stop.reduce_only and take.reduce_only
        else:  # one order the venue links: the other leg ends when one fills
            assert stop.oco_group is not None and stop.oco_group == take.oco_group
        armed, placed = rig.exit_events("ARMED"), rig.exit_events("LEGS")
        assert [e["plan_id"] for e in armed] == [entry]
        assert placed[-1]["legs"] == legs
        assert {e["client_order_id"]: e["exit_role"] for e in _exit_intents(rig)} == {
            c: r for r, c in legs.items()
        }

        await _stop_out(rig)
        await rig.batch()

        stop = await rig.venue_order(legs["stop_loss"])
        take = await rig.venue_order(legs["take_profit"])
        assert stop is not None and stop.status is OrderStatus.FILLED
        assert stop.filled_qty == plan.qty
        assert take is not None and take.status is OrderStatus.CANCELED, take
        assert rig.book_open_count() == 0 and await rig.venue_open_ids() == set()
        assert await rig.own_qty() == 0 and await rig.venue_qty() == 0
        assert rig.plan() is None
        [done] = rig.exit_events("DONE")
        assert done["plan_id"] == entry and done["stopped_by"] == "stop_loss"
        assert done["lock_until_ns"] > rig.server.now_ns

        # Within the lock, the sleeve's next long entry is refused with its reason.
        sent = len(rig.journal("INTENT"))
        _offer(rig, "buy", 1)
        await rig.batch()
        [record] = [r for r in rig.records() if r.get("symbol") == kind.symbol][-1:]
        assert record["intent"] is None, record
        assert record["reason"]["code"] == "EXIT_STOP_LOCK" and record["reason"]["side"] == "BUY"
        assert len(rig.journal("INTENT")) == sent  # nothing sent


async def test_an_order_that_closes_or_flips_the_position_cancels_its_legs_at_the_venue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: VenueKind
) -> None:
    async with open_rig(kind, tmp_path, monkeypatch) as rig:
        _entry, old = await _bracket(rig)
        _offer(rig, "sell", 1)  # the sleeve turns short: spot can only close
        await rig.batch()
        await rig.batch()

        for cid in old.values():
            order = await rig.venue_order(cid)
            assert order is not None and order.status is OrderStatus.CANCELED, order
        [done] = rig.exit_events("DONE")
        qty = await rig.own_qty()
        assert qty == await rig.venue_qty()
        if kind.name == "spot":  # long only: closed, and nothing left working
            assert qty == 0 and _ended(done) == "flat" and "lock_until_ns" not in done
            assert rig.plan() is None
            assert rig.book_open_count() == 0 and await rig.venue_open_ids() == set()
            return
        # Flipped short: the new position carries new legs, on the buy side.
        assert qty < 0 and _ended(done) == "flipped"
        plan = rig.plan()
        assert plan is not None and plan.side is Side.SELL and plan.qty == -qty
        new = rig.legs()
        assert set(new) == {"stop_loss", "take_profit"} and not set(new.values()) & set(
            old.values()
        )
        assert await rig.venue_open_ids() == set(new.values())
        assert rig.book_open_count() == 2
        for role, cid in new.items():
            order = await rig.venue_order(cid)
            assert order is not None and order.side is Side.BUY and order.qty == plan.qty
            assert order.status is OrderStatus.ACCEPTED, (role, order)
        assert plan.stop is not None and plan.stop > plan.entry_price > plan.take_profit


async def test_a_restart_with_legs_resting_tracks_them_without_placing_a_second_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: VenueKind
) -> None:
    async with open_rig(kind, tmp_path, monkeypatch) as rig:
        entry, legs = await _bracket(rig)
        sent = _exit_intents(rig)

        await rig.restart()  # a new adapter, the journal replayed, reconciled at start
        for _ in range(2):
            await rig.batch()
        assert _exit_intents(rig) == sent  # no leg sent again
        assert rig.legs() == legs
        assert await rig.venue_open_ids() == set(legs.values())
        assert rig.book_open_count() == 2

        await _stop_out(rig)
        await rig.batch()
        stop = await rig.venue_order(legs["stop_loss"])
        take = await rig.venue_order(legs["take_profit"])
        assert stop is not None and stop.status is OrderStatus.FILLED
        assert take is not None and take.status is OrderStatus.CANCELED
        assert rig.oms.ledger.orders[legs["stop_loss"]].filled_qty == stop.filled_qty
        assert await rig.own_qty() == 0 and await rig.venue_qty() == 0
        [done] = rig.exit_events("DONE")
        assert done["plan_id"] == entry and done["stopped_by"] == "stop_loss"
        assert rig.book_open_count() == 0


async def test_a_stop_filled_while_the_daemon_was_down_ends_the_plan_and_no_leg_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: VenueKind
) -> None:
    async with open_rig(kind, tmp_path, monkeypatch) as rig:
        entry, legs = await _bracket(rig)
        stop = rig.plan().stop
        await rig.stop()
        rig.server.trade_through(kind.symbol, stop * Decimal("0.99"), stop, stop * Decimal("0.995"))
        # Futures links the legs only in the daemon: its take-profit still rests, an orphan.
        assert rig.book_open_count() == (1 if kind.name == "futures" else 0)

        await rig.start()
        await rig.batch()
        take = await rig.venue_order(legs["take_profit"])
        assert take is not None and take.status is OrderStatus.CANCELED, take
        assert rig.book_open_count() == 0 and await rig.venue_open_ids() == set()
        assert await rig.own_qty() == 0 and await rig.venue_qty() == 0
        [done] = rig.exit_events("DONE")
        assert done["plan_id"] == entry and done["stopped_by"] == "stop_loss"
        assert "lock_until_ns" in done
