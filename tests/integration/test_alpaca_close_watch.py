"""Alpaca sends no bars after the close, so the close's clean-up cannot wait for a batch: the
daemon watches the close Alpaca's clock named. The loopback's sessions follow New York's
calendar: here the 13:00 early close before Independence Day 2024 (17:00 UTC)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.config.schema import load_config
from quantbot.daemon.daemon import Daemon
from quantbot.domain.values import OrderIntent, OrderType, Side
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.alpaca_book import AlpacaBook
from quantbot.testing.clock import ServerClock


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


class TickingClock(ServerClock):
    """The loopback's market time; sleeping on it moves the market on a minute per minute
    (or part of one) slept, so the daemon's waits are deterministic and instant."""

    def __init__(self, server: AlpacaServer) -> None:
        super().__init__(server)
        self.server = server

    async def sleep(self, seconds: float) -> None:
        self.server.tick(max(1, math.ceil(seconds / 60)))
        await asyncio.sleep(0)


def summaries(records: Path) -> list[dict[str, Any]]:
    lines = records.read_bytes().splitlines() if records.exists() else []
    return [r for r in map(orjson.loads, lines) if r.get("event") == "SESSION_CLOSE"]


async def wait_for_summary(records: Path) -> dict[str, Any]:
    """The SESSION_CLOSE record once it is on disk (events are flushed as written)."""
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        found = summaries(records)
        if found:
            return found[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no SESSION_CLOSE record within 10 s")


async def test_the_close_cleans_up_with_no_bar_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = AlpacaServer(AlpacaBook(start_ns=ns("2024-07-03T16:50:00")))
    url = f"http://127.0.0.1:{await server.start()}"
    monkeypatch.setenv("APCA_API_KEY_ID", TEST_KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", TEST_SECRET)
    records = tmp_path / "runtime" / "decisions.jsonl"
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
    clock = TickingClock(server)
    daemon = Daemon(load_config(None, environ=environ), execution_mode="paper", clock=clock)
    watch: asyncio.Task[None] | None = None
    try:
        await daemon.start()
        pipeline, oms = daemon.parts.pipeline, daemon.parts.oms
        server.tick(1)
        [bar] = (await daemon.parts.venue.bars("AAPL"))[-1:]
        await pipeline.on_batch([bar])
        assert pipeline.market_open is True
        limit = Decimal(str(round(bar.close * 0.981, 2)))  # rests, inside the price collar
        resting = OrderIntent(
            "qb-alpaca-watch-1", "AAPL@1", "AAPL", Side.BUY, Decimal(5),
            order_type=OrderType.LIMIT, limit_price=limit, arrival_price=limit,
        )  # fmt: skip
        assert (await oms.submit(resting, market_open=True)).outcome.value == "ACCEPTED"

        watch = asyncio.create_task(pipeline.watch_close(clock))
        summary = await wait_for_summary(records)  # no batch meanwhile: the watch alone
        assert pipeline.market_open is False
        assert await daemon.parts.venue.open_orders() == []
    finally:
        if watch is not None:
            watch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await watch
        await daemon.close()
        await server.stop()

    assert summary["ts"].startswith("2024-07-03T17:00")
    assert summary["reason"]["code"] == "SESSION_CLOSE_CLEANUP"
    assert len(summaries(records)) == 1  # the watch and a batch never both clean up
