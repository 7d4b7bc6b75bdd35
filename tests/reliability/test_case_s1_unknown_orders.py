"""Issue 14, section 1: an order that might still execute keeps counting.

Each drill runs the real ccxt SDK against the loopback Binance with its eventual-consistency
faults: an order taken but shown to nobody until later (``late_visibility``), and look-ups
that answer "Order does not exist." for a while after a submit (``lookup_lag_s``). What a
user would notice is asserted: what the venue holds, what the journal says, what counts as
pending (what the decision step sees before it sends another order), and the alerts.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderStatus, Side, SubmitOutcome
from quantbot.testing.faults import Fault
from tests.reliability.ccxt_rig import BTC, ORDER, ccxt_rig, intent

QTY = Decimal("0.01")


async def _hold_btc(rig) -> None:
    """Buy the 0.01 BTC the drills then sell (a spot account sells only what it holds)."""
    report = await rig.oms.submit(intent(0))
    assert report.outcome is SubmitOutcome.ACCEPTED
    await rig.oms.sync_fills()
    assert rig.ledger_qty() == QTY == await rig.venue_qty()


async def test_a_timed_out_sell_keeps_counting_while_lost_and_is_booked_when_it_executes(
    tmp_path: Path,
) -> None:
    async with ccxt_rig(tmp_path) as rig:
        await _hold_btc(rig)
        rig.hide_next_order()
        sell = intent(1, Side.SELL)

        report = await rig.oms.submit(sell)

        assert report.outcome is SubmitOutcome.UNKNOWN
        assert rig.oms.ledger.pending_qty(BTC) == -QTY
        rig.clock.advance(31)
        (lost,) = await rig.reconciler.resolve_unknown()
        assert lost.code is ReasonCode.ORDER_LOST
        # What the decision step sees: the sell may still execute, so the position is
        # already on its way to flat and nothing is sold a second time.
        assert rig.oms.ledger.pending_qty(BTC) == -QTY
        assert rig.oms.ledger.orders[sell.client_order_id].status is OrderStatus.LOST
        assert "ALERT_ORDER_UNKNOWN" in rig.alert_codes()
        assert "ALERT_ORDER_LOST" in rig.alert_codes()

        rig.server.reveal()  # the venue executes the old order after all
        rig.clock.advance(10)  # still inside the visibility window (60 s)
        (adopted,) = await rig.reconciler.watch_lost()
        await rig.oms.sync_fills()

        assert adopted.code is ReasonCode.RECONCILE_ADOPTED
        order = rig.oms.ledger.orders[sell.client_order_id]
        assert order.status is OrderStatus.FILLED and order.filled_qty == QTY
        assert rig.oms.ledger.pending_qty(BTC) == 0
        assert rig.ledger_qty() == 0 == await rig.venue_qty()
        assert rig.server.client_ids_sent.count(sell.client_order_id) == 1
        fills = rig.journal("FILL")
        assert [f["client_order_id"] for f in fills] == [
            intent(0).client_order_id,
            sell.client_order_id,
        ]


async def test_an_unknown_order_is_settled_only_on_the_venues_proof_and_comes_back_if_it_lied(
    tmp_path: Path,
) -> None:
    async with ccxt_rig(tmp_path, window_s=60) as rig:
        rig.hide_next_order()
        buy = intent(1)
        assert (await rig.oms.submit(buy)).outcome is SubmitOutcome.UNKNOWN

        rig.clock.advance(45)  # LOST, not yet provable
        assert [f.code for f in await rig.reconciler.resolve_unknown()] == [ReasonCode.ORDER_LOST]
        assert "DELETE /api/v3/order" not in rig.server.requests  # no cancel inside the window
        rig.clock.advance(20)
        (proved,) = await rig.reconciler.watch_lost()

        assert proved.code is ReasonCode.RECONCILE_NOT_FOUND
        assert "DELETE /api/v3/order" in rig.server.requests  # the cancel by client id
        settled = rig.journal("NOT_SENT")[-1]
        assert settled["proof"] == "cancel_unknown_order"
        assert rig.oms.ledger.pending_qty(BTC) == 0

        # The venue held it after all (its visibility was longer than the window allowed):
        # the fill attaches to the order, which comes back to life, loudly.
        rig.server.reveal()
        await rig.oms.sync_fills()

        order = rig.oms.ledger.orders[buy.client_order_id]
        assert order.status is OrderStatus.FILLED
        assert rig.ledger_qty() == QTY == await rig.venue_qty()
        assert rig.oms.ledger.own_qty(BTC) == QTY  # ours, not foreign inventory
        assert "ALERT_ORDER_RESURRECTED" in rig.alert_codes()
        assert [e["client_order_id"] for e in rig.journal("RESURRECTED")] == [buy.client_order_id]


async def test_a_fill_seen_while_look_ups_say_not_found_waits_for_its_order(
    tmp_path: Path,
) -> None:
    async with ccxt_rig(tmp_path) as rig:
        rig.server.lookup_lag_s = 1e9  # the venue's order look-up lags: "does not exist"
        rig.server.faults.arm(ORDER, Fault("http_5xx_after_accept"))  # placed, reply lost
        buy = intent(1)
        assert (await rig.oms.submit(buy)).outcome is SubmitOutcome.UNKNOWN
        assert await rig.venue_qty() == QTY  # it executed at once

        assert await rig.oms.sync_fills() == 0  # its trade is held back, not made up
        assert rig.journal("FILL") == []
        assert await rig.reconciler.resolve_unknown() == []
        assert rig.oms.ledger.pending_qty(BTC) == QTY  # still counted while unresolved
        assert await rig.reconciler.periodic() == []  # explained by the pending order

        rig.server.lookup_lag_s = 0.0  # the venue catches up
        (adopted,) = await rig.reconciler.resolve_unknown()
        await rig.oms.sync_fills()

        assert adopted.code is ReasonCode.RECONCILE_ADOPTED
        (fill,) = rig.journal("FILL")
        assert fill["client_order_id"] == buy.client_order_id
        order = rig.oms.ledger.orders[buy.client_order_id]
        assert order.status is OrderStatus.FILLED
        assert rig.oms.ledger.pending_qty(BTC) == 0  # its symbol is free to trade again
        assert rig.ledger_qty() == QTY == await rig.venue_qty()
        assert not any(
            e["client_order_id"].startswith("binance-order-") for e in rig.journal("FILL")
        )
