"""Emulated exits watch the venue's quote between bars (issue 16: "emulated triggers watch bars,
and quotes where the venue has them"), on the loopback Binance spot through ccxt: with every
exit emulated, a bid through the stop fires the exit at once, with no bar closing there."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from quantbot.oms.exit_plan import ExitParams
from tests.integration.exit_rig import SPOT, open_rig

WIRE = "ETHUSDT"
SWING = {**ExitParams("SWING", 0.01, 0.02, None, None).to_record(), "sleeve": "test"}
EMULATED = {"QUANTBOT__ORDERS__PREFER": "emulated"}


async def test_a_bid_through_an_emulated_stop_fires_the_exit_between_bars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_rig(SPOT, tmp_path, monkeypatch, **EMULATED) as rig:
        entry = await rig.enter(exits=SWING)
        plan = rig.plan()
        assert plan.plan_id == entry and plan.stop is not None
        assert rig.book_open_count() == 0, "emulated: nothing rests at the venue"
        desk = rig.parts.pipeline.desk

        # A quote above the stop: nothing fires.
        rig.server.book.touch_override[WIRE] = (plan.stop + 1, plan.stop + 2)
        await desk.begin_batch(None)
        assert not rig.exit_events("TRIGGERED")

        # The bid drops through the stop; no bar has closed since.
        bid = plan.stop - Decimal("0.5")
        rig.server.book.touch_override[WIRE] = (bid, bid + 1)
        await desk.begin_batch(None)
        [fired] = rig.exit_events("TRIGGERED")
        assert fired["fired"] == "stop_loss" and fired["source"] == "quote"
        assert Decimal(fired["trigger_price"]) == bid
        [exit_intent] = [e for e in rig.journal("INTENT") if e.get("exit_role")]
        assert exit_intent["client_order_id"] == fired["fired_cid"]
        assert exit_intent["order_type"] == "MARKET" and exit_intent["side"] == "SELL"

        # The exit fills with the next minute; the plan ends, stopped out, and locks.
        del rig.server.book.touch_override[WIRE]
        await rig.batch()
        assert await rig.venue_qty() == 0
        [done] = rig.exit_events("DONE")
        assert done["stopped_by"] == "stop_loss" and done["lock_until_ns"]


async def test_a_quote_that_has_not_reached_a_trigger_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_rig(SPOT, tmp_path, monkeypatch, **EMULATED) as rig:
        await rig.enter(exits=SWING)
        plan = rig.plan()
        assert plan.take_profit is not None and plan.stop is not None
        intents = len(rig.journal("INTENT"))
        # Between stop and take-profit, and a crossed quote (ignored, not read as a price).
        for bid, ask in ((plan.stop + 1, plan.take_profit - 1), (plan.stop - 5, plan.stop - 6)):
            rig.server.book.touch_override[WIRE] = (bid, ask)
            await rig.parts.pipeline.desk.begin_batch(None)
        assert not rig.exit_events("TRIGGERED")
        assert len(rig.journal("INTENT")) == intents
