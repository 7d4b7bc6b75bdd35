"""What Alpaca's OCO adds to the order-type contract (tests/contract/test_order_types.py):
Alpaca names the stop-loss leg itself, so these check that the adapter still speaks OUR ids
for it (cancel, a restarted adapter's reads), that canceling one leg ends the pair at the
venue, and that a pair Alpaca cannot take as an OCO is refused by name, unsent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderStatus, OrderType, SubmitOutcome
from tests.contract.harness import AlpacaHarness
from tests.contract.test_order_types import (
    TRAIL,
    at,
    long_position,
    looked_up,
    move,
    oco_pair,
    open_ids,
    order_intent,
)


@pytest.fixture
async def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    harness = AlpacaHarness(tmp_path)
    await harness.open()
    try:
        yield harness
    finally:
        await harness.close()


async def test_canceling_the_stop_leg_by_our_id_ends_both_legs(h: Any) -> None:
    _, take_profit, stop_loss = await oco_pair(h)

    after = await h.venue.cancel(stop_loss.client_order_id, symbol=h.symbol)

    assert after is not None and after.client_order_id == stop_loss.client_order_id
    assert after.status is OrderStatus.CANCELED
    # Alpaca cancels the rest of the group with it: no take-profit is left without its stop.
    assert (await looked_up(h, take_profit.client_order_id)).status is OrderStatus.CANCELED
    assert not await open_ids(h)


async def test_a_restarted_adapter_finds_both_legs_by_our_ids_and_books_the_stop(h: Any) -> None:
    entry, take_profit, stop_loss = await oco_pair(h)
    ours = {take_profit.client_order_id, stop_loss.client_order_id}

    await h.reopen()  # a new adapter on the same state/ and the same account

    assert await open_ids(h) == ours
    found = [await looked_up(h, cid) for cid in sorted(ours)]
    assert {o.oco_group for o in found} == {take_profit.oco_group}
    await move(h, entry, "0.935", "1.00", "0.945")  # through the stop
    sells = [f for f in await h.venue.fills_since(0) if f.client_order_id in ours]
    assert [f.client_order_id for f in sells] == [stop_loss.client_order_id]
    assert (await looked_up(h, take_profit.client_order_id)).status is OrderStatus.CANCELED


async def test_a_trailing_stop_loss_leg_is_refused_as_alpacas_oco_takes_none(h: Any) -> None:
    entry = await long_position(h)
    group = "oco-trailing"
    take_profit = order_intent(
        h, OrderType.LIMIT, limit_price=await at(h, entry, "1.05"), oco_group=group
    )
    trailing = order_intent(h, OrderType.TRAILING_STOP, trail_pct=TRAIL, oco_group=group)

    results = await h.venue.submit_oco(take_profit, trailing)

    assert [r.outcome for r in results] == [SubmitOutcome.REJECTED] * 2
    reasons = [r.reason for r in results if r.reason is not None]
    assert [(w.code, w.context.get("check")) for w in reasons] == [
        (ReasonCode.VENUE_REJECTED, "order_type")
    ] * 2
    assert not await open_ids(h)
