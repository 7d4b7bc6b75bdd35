"""Alpaca's market clock drives the session rules, as the paper venue's session does: orders
blocked while the market is closed (MARKET_CLOSED_BLOCK), and at the close every working
order cancelled and the book reconciled (SESSION_CLOSE_CLEANUP). The daemon runs in-process
against the loopback Alpaca, its pipeline fed batches directly across the boundary."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.config.schema import load_config
from quantbot.daemon.daemon import Daemon
from quantbot.domain.values import OrderIntent, OrderType, Side
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.clock import ServerClock


async def test_alpaca_clock_blocks_while_closed_and_cleans_up_at_the_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = AlpacaServer()
    url = f"http://127.0.0.1:{await server.start()}"
    server.set_clock(True)
    monkeypatch.setenv("APCA_API_KEY_ID", TEST_KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", TEST_SECRET)
    environ = {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__MARKET__SOURCE": "venue",
        "QUANTBOT__MARKET__SYMBOLS": '["AAPL"]',
        "QUANTBOT__VENUE__NAME": "alpaca",
        "QUANTBOT__VENUE__ALPACA__BASE_URL": url,
        "QUANTBOT__VENUE__ALPACA__DATA_URL": url,
        "QUANTBOT__DATA_CONTRACT__MAX_STALENESS_S": "100000",
    }
    daemon = Daemon(
        load_config(None, environ=environ), execution_mode="paper", clock=ServerClock(server)
    )
    try:
        await daemon.start()
        assert daemon.parts.venue.capabilities.has_sessions is True
        pipeline, oms = daemon.parts.pipeline, daemon.parts.oms

        async def one_batch() -> float:
            server.tick(1)
            [bar] = (await daemon.parts.venue.bars("AAPL"))[-1:]
            await pipeline.on_batch([bar])
            return bar.close

        last = await one_batch()
        assert pipeline.market_open is True
        # 1.9% under the market: inside the 2% price collar, and it rests (does not fill)
        limit = Decimal(str(round(last * 0.981, 2)))
        resting = OrderIntent(
            "qb-alpaca-session-1", "AAPL@1", "AAPL", Side.BUY, Decimal(5),
            order_type=OrderType.LIMIT, limit_price=limit, arrival_price=limit,
        )  # fmt: skip
        report = await oms.submit(resting, market_open=pipeline.market_open)
        assert report.outcome.value == "ACCEPTED", report.reason

        server.set_clock(False)  # the close
        await one_batch()
        assert pipeline.market_open is False
        assert oms.ledger.orders["qb-alpaca-session-1"].status.value == "CANCELED"
        assert await daemon.parts.venue.open_orders() == []
        blocked = await oms.submit(
            OrderIntent("qb-alpaca-session-2", "AAPL@2", "AAPL", Side.BUY, Decimal(1)),
            market_open=pipeline.market_open,
        )
        assert blocked.outcome.value == "NOT_SENT"
        assert blocked.reason is not None and blocked.reason.code.value == "MARKET_CLOSED_BLOCK"
    finally:
        await daemon.close()
        await server.stop()

    records = [
        orjson.loads(x)
        for x in (tmp_path / "runtime" / "decisions.jsonl").read_bytes().splitlines()
    ]
    (summary,) = [r for r in records if r.get("event") == "SESSION_CLOSE"]
    assert summary["reason"]["code"] == "SESSION_CLOSE_CLEANUP"
    assert summary["reason"]["canceled"] == 1 and summary["reason"]["still_open"] == 0
