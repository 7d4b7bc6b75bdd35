"""Cases 17 and 18: fills that arrive late, overfill, or belong to no order of ours.

The real ccxt SDK against the loopback Binance, the real OMS and journal (see ccxt_rig).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import SubmitOutcome
from quantbot.oms.journal import read_journal
from quantbot.oms.ledger import Ledger
from quantbot.testing.binance_book import NewOrder
from tests.reliability.ccxt_rig import BTC, ccxt_rig, intent

ETH = "ETH/USDT"
QTY = Decimal("0.01")


async def test_17_a_fill_shown_late_with_an_older_time_is_still_booked(tmp_path: Path) -> None:
    async with ccxt_rig(tmp_path) as rig:
        rig.hide_next_order(backdated=True)  # executed now, shown later, stamped now
        late = intent(1)
        assert (await rig.oms.submit(late)).outcome is SubmitOutcome.UNKNOWN
        rig.server.tick(1)
        # Meanwhile another symbol trades and its fill moves the ledger's cursor past the
        # hidden trade's time.
        assert (await rig.oms.submit(intent(2, symbol=ETH))).outcome is SubmitOutcome.ACCEPTED
        assert await rig.oms.sync_fills() == 1
        cursor = rig.oms.ledger.fill_seq

        rig.server.reveal()  # the trade appears, with the time it really happened
        # As a batch starts: fills first (the look-back reaches the older trade), then the
        # unknown order's look-up.
        assert await rig.oms.sync_fills() == 1
        await rig.reconciler.resolve_unknown()

        fills = {f["client_order_id"]: f for f in rig.journal("FILL")}
        assert fills[late.client_order_id]["fill_seq"] < cursor  # older than the cursor
        assert rig.ledger_qty() == QTY == await rig.venue_qty()
        assert await rig.oms.sync_fills() == 0  # seen again by the look-back: not twice
        assert len(rig.journal("FILL")) == 2


async def test_17_an_overfill_halts_with_a_reason_and_a_restart_reports_it(
    tmp_path: Path,
) -> None:
    async with ccxt_rig(tmp_path) as rig:
        # The journal says 0.005; the venue executed 0.01 under that client id.
        small = intent(1, qty="0.005")
        rig.oms.record_event("INTENT", durable=True, **_intent_fields(small))
        rig.server.book.new_order(NewOrder(
            "BTCUSDT", "BUY", "MARKET", QTY, None, "", small.client_order_id
        ))  # fmt: skip

        await rig.oms.sync_fills()

        (halt,) = rig.halts
        assert halt.code is ReasonCode.HALT_INVARIANT_VIOLATION
        assert halt.context["client_order_id"] == small.client_order_id
        assert "overfill" in halt.context["problem"]
        (flag,) = rig.journal("INVARIANT")
        assert flag["client_order_id"] == small.client_order_id
        # The venue executed it: the position says so, and matches the venue.
        assert rig.ledger_qty() == QTY == await rig.venue_qty()

    # A start-up on that journal rebuilds the ledger (no crash) and knows it was flagged.
    path = tmp_path / "journal.jsonl"
    ledger = Ledger.from_journal(read_journal(path), path)
    assert small.client_order_id in ledger.overfilled
    assert small.client_order_id in ledger.invariants_logged


async def test_18_a_fill_for_an_order_never_sent_is_external_and_alerted(
    tmp_path: Path,
) -> None:
    async with ccxt_rig(tmp_path) as rig:
        # Someone trades the account by hand (the exchange's web UI).
        rig.server.book.new_order(NewOrder("BTCUSDT", "BUY", "MARKET", QTY, None, "", "web_1"))

        await rig.oms.sync_fills()

        (fill,) = rig.journal("FILL")
        assert fill["client_order_id"] == "web_1" and fill["external"] is True
        assert "ALERT_EXTERNAL_FILL" in rig.alert_codes()
        assert rig.ledger_qty() == QTY == await rig.venue_qty()  # reconciles with the venue
        # ...but it is not the sleeves' to trade: they see only their own part.
        assert rig.oms.ledger.own_qty(BTC) == 0
        assert rig.oms.ledger.own_positions() == {}
        assert await rig.reconciler.periodic() == []


def _intent_fields(order) -> dict:
    from quantbot.oms.manager import intent_event

    return intent_event(order)


async def test_17_a_fill_shown_later_than_the_look_back_is_booked_when_its_order_is_found(
    tmp_path: Path,
) -> None:
    """The venue shows the order, filled, only after the ledger's fill cursor has moved on
    further than ``fill_lookback_s`` (a restart while the order was hidden, another symbol
    trading meanwhile): the look-back cannot reach its trade, so adopting the order fetches
    the fills from where the cursor stood when the order was sent."""
    async with ccxt_rig(tmp_path) as rig:
        rig.hide_next_order(backdated=True)
        late = intent(1)
        assert (await rig.oms.submit(late)).outcome is SubmitOutcome.UNKNOWN
        rig.server.tick(10)  # ten minutes on: twice the look-back (300 s)
        assert (await rig.oms.submit(intent(2, symbol=ETH))).outcome is SubmitOutcome.ACCEPTED
        assert await rig.oms.sync_fills() == 1

        rig.server.reveal()
        (adopted,) = await rig.reconciler.resolve_unknown()

        assert adopted.code is ReasonCode.RECONCILE_ADOPTED
        assert [f["client_order_id"] for f in rig.journal("FILL")] == [
            intent(2, symbol=ETH).client_order_id,
            late.client_order_id,
        ]
        assert rig.ledger_qty() == QTY == await rig.venue_qty()
        assert rig.oms.ledger.pending_qty(BTC) == 0
        assert await rig.oms.sync_fills() == 0  # not booked twice
