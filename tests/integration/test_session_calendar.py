"""Sessions from the exchange calendar on the paper venue, the daemon in-process on a
simulated clock: New York hours through daylight-saving time, a holiday, an early close, and
the close's clean-up as the [session] switches say."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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


def environ(tmp_path: Path, **session: str) -> dict[str, str]:
    return {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__MARKET__SYMBOLS": '["SIMA"]',
        "QUANTBOT__SESSION__CALENDAR": "XNYS",
        # one share a bar: a 50-share order stays working across the close
        "QUANTBOT__VENUE__SIM__PARTICIPATION_CAP": "0.0001",
        **{f"QUANTBOT__SESSION__{k.upper()}": v for k, v in session.items()},
    }


def order(n: int, qty: int = 50) -> OrderIntent:
    return OrderIntent(
        f"qb-cal-{n}", f"SIMA@{n}", "SIMA", Side.BUY, Decimal(qty), arrival_price=Decimal("100")
    )


def records(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "runtime" / "decisions.jsonl"
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


async def started(tmp_path: Path, start: str, **session: str) -> tuple[Daemon, SimClock]:
    clock = SimClock(ns(start))
    daemon = Daemon(
        load_config(None, environ=environ(tmp_path, **session)), execution_mode="paper", clock=clock
    )
    await daemon.start()
    return daemon, clock


async def test_new_york_hours_move_with_daylight_saving_and_skip_thanksgiving(
    tmp_path: Path,
) -> None:
    # Monday 2026-03-09 13:45 UTC is 09:45 in New York (EDT since Sunday): open, though a
    # fixed "14:30-21:00" UTC session would still be closed.
    daemon, clock = await started(tmp_path, "2026-03-09T13:45:00")
    pipeline, oms = daemon.parts.pipeline, daemon.parts.oms
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is True
    sent = await oms.submit(order(1, 1), market_open=pipeline.market_open)
    assert sent.outcome.value == "ACCEPTED"

    # Thanksgiving 2026 at what would be mid-session: closed, the order refused.
    clock.set(ns("2026-11-26T16:00:00"))
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is False
    refused = await oms.submit(order(2, 1), market_open=pipeline.market_open)
    assert refused.outcome.value == "NOT_SENT"
    assert refused.reason.code.value == "MARKET_CLOSED_BLOCK"

    # Monday 2026-11-30 14:00 UTC is 09:00 EST (standard time since November 1st): not yet open.
    clock.set(ns("2026-11-30T14:00:00"))
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is False
    clock.set(ns("2026-11-30T14:31:00"))
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is True
    await daemon.close()


async def test_the_early_close_after_thanksgiving_cancels_day_orders_and_writes_a_summary(
    tmp_path: Path,
) -> None:
    # Friday 2026-11-27 closes at 13:00 New York, 18:00 UTC.
    daemon, clock = await started(tmp_path, "2026-11-27T17:50:00")
    pipeline, oms = daemon.parts.pipeline, daemon.parts.oms
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is True
    assert (await oms.submit(order(1), market_open=True)).outcome.value == "ACCEPTED"
    clock.advance(60)
    await pipeline.on_batch(bar(clock))
    assert oms.ledger.orders["qb-cal-1"].filled_qty == 1

    clock.set(ns("2026-11-27T18:01:00"))
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is False
    assert oms.ledger.orders["qb-cal-1"].status.value == "CANCELED"
    legs = oms.ledger.exit_roles
    working = await daemon.parts.venue.open_orders()
    assert [o for o in working if o.client_order_id not in legs] == []
    await daemon.close()

    (summary,) = [r for r in records(tmp_path) if r.get("event") == "SESSION_CLOSE"]
    assert summary["ts"].startswith("2026-11-27T18:01")
    assert summary["reason"]["code"] == "SESSION_CLOSE_CLEANUP"
    assert summary["reason"]["canceled"] == 1 and summary["reason"]["still_open"] == 0
    assert summary["positions"] == {"SIMA": "1"}
    assert summary["reconcile"] == []


async def test_close_switches_leave_day_orders_working_or_write_no_summary(
    tmp_path: Path,
) -> None:
    daemon, clock = await started(
        tmp_path / "keep", "2026-11-27T17:59:00", cancel_day_orders_at_close="false"
    )
    pipeline, oms = daemon.parts.pipeline, daemon.parts.oms
    await pipeline.on_batch(bar(clock))
    assert (await oms.submit(order(1), market_open=True)).outcome.value == "ACCEPTED"
    clock.set(ns("2026-11-27T18:01:00"))
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is False
    assert oms.ledger.orders["qb-cal-1"].status.value == "ACCEPTED"  # still working
    assert "qb-cal-1" in {o.client_order_id for o in await daemon.parts.venue.open_orders()}
    await daemon.close()
    (summary,) = [r for r in records(tmp_path / "keep") if r.get("event") == "SESSION_CLOSE"]
    assert summary["reason"]["canceled"] is None and summary["report"] is None

    daemon, clock = await started(
        tmp_path / "quiet", "2026-11-27T17:59:00", summary_at_close="false"
    )
    pipeline = daemon.parts.pipeline
    await pipeline.on_batch(bar(clock))
    clock.set(ns("2026-11-27T18:01:00"))
    await pipeline.on_batch(bar(clock))
    assert pipeline.market_open is False
    await daemon.close()
    assert [r for r in records(tmp_path / "quiet") if r.get("event") == "SESSION_CLOSE"] == []
