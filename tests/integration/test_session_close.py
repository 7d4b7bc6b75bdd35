"""A venue with trading sessions: orders blocked while closed, clean-up at the close.

The daemon is started in-process on a simulated clock and its pipeline is fed batches
directly, so the session boundary is crossed deterministically."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.daemon.daemon import Daemon
from quantbot.domain.values import Bar, OrderIntent, Side


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS_PER_S


def bar(clock: SimClock, price: float = 100.0) -> list[Bar]:
    start = clock.now_ns() - 60 * NS_PER_S  # the bar that just closed
    return [Bar("SIMA", start, price, price + 0.1, price - 0.1, price, 10_000.0, 60)]


async def test_orders_wait_for_the_open_and_the_close_cancels_and_reconciles(
    tmp_path: Path,
) -> None:
    environ = {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__MARKET__SYMBOLS": '["SIMA"]',
        "QUANTBOT__VENUE__SIM__SESSION": "14:30-21:00",
        # one share a bar: a 50-share order stays working across the close
        "QUANTBOT__VENUE__SIM__PARTICIPATION_CAP": "0.0001",
    }
    clock = SimClock(ns("2026-11-23T20:50:00"))  # a Monday, ten minutes before the close
    daemon = Daemon(load_config(None, environ=environ), execution_mode="paper", clock=clock)
    await daemon.start()
    pipeline, oms = daemon.parts.pipeline, daemon.parts.oms
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is True

    order = OrderIntent(
        "qb-session-1", "SIMA@1", "SIMA", Side.BUY, Decimal(50), arrival_price=Decimal("100")
    )
    assert (await oms.submit(order, market_open=pipeline.market_open)).outcome.value == ("ACCEPTED")
    clock.advance(60)
    await pipeline.on_batch(bar(clock))
    assert oms.ledger.orders["qb-session-1"].filled_qty == 1

    clock.set(ns("2026-11-23T21:01:00"))  # past the close
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is False
    assert oms.ledger.orders["qb-session-1"].status.value == "CANCELED"
    # What stays working is the held share's protective exits (GTC: they guard it overnight).
    legs = oms.ledger.exit_roles
    working = await daemon.parts.venue.open_orders()
    assert [o for o in working if o.client_order_id not in legs] == []
    assert {legs[o.client_order_id].value for o in working} >= {"stop_loss", "take_profit"}

    closed = await oms.submit(
        OrderIntent(
            "qb-session-2", "SIMA@2", "SIMA", Side.BUY, Decimal(5), arrival_price=Decimal("100")
        ),
        market_open=pipeline.market_open,
    )
    assert closed.outcome.value == "NOT_SENT"
    assert closed.reason.code.value == "MARKET_CLOSED_BLOCK"
    await daemon.close()

    records = [
        orjson.loads(x)
        for x in (tmp_path / "runtime" / "decisions.jsonl").read_bytes().splitlines()
    ]
    (summary,) = [r for r in records if r.get("event") == "SESSION_CLOSE"]
    assert summary["reason"]["code"] == "SESSION_CLOSE_CLEANUP"
    assert summary["reason"]["canceled"] == 1 and summary["reason"]["still_open"] == 0
    assert summary["positions"] == {"SIMA": "1"}
