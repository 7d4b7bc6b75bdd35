"""A NotifyView on a feed of its own, pointed at a loopback chat server: what a run would
publish goes in (``publish``), what the server received comes out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from quantbot.clock import LiveClock
from quantbot.config.schema import LoadedConfig, load_config
from quantbot.notify.view import NotifyView
from quantbot.ops.feed import RunFeed

FAST = {
    "QUANTBOT__NOTIFY__RATE_INTERVAL_S": "0.05",
    "QUANTBOT__NOTIFY__TIMEOUT_S": "2",
    "QUANTBOT__NOTIFY__FLUSH_TIMEOUT_S": "2",
}


def loaded(tmp_path: Path, **env: str) -> LoadedConfig:
    environ = {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        **FAST,
        **env,
    }
    return load_config(None, environ=environ)


class Rig:
    def __init__(self, tmp_path: Path, config: LoadedConfig, environ: dict[str, str]) -> None:
        self.feed = RunFeed()
        self.runtime = tmp_path / "runtime"
        self.view = NotifyView(config, LiveClock(), tmp_path / "state", self.runtime, environ)
        self._fill_seq = 0

    async def __aenter__(self) -> Rig:
        await self.view.start(self.feed, dict)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.view.stop()

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        self.feed.publish(kind, payload)

    def started(self) -> None:
        self.publish(
            "run",
            {"phase": "started", "run_id": "r-1", "mode": "paper", "profile": "conservative"},
        )

    def fill(self, side: str, qty: str, symbol: str, price: str, fee: str = "0.10") -> None:
        self._fill_seq += 1
        self.publish(
            "journal",
            {
                "seq": self._fill_seq,
                "type": "FILL",
                "fill_id": f"f{self._fill_seq}",
                "client_order_id": f"c{self._fill_seq}",
                "symbol": symbol,
                "side": side,
                "qty": Decimal(qty),
                "price": Decimal(price),
                "fee": Decimal(fee),
                "fill_ts_ns": 1_000 + self._fill_seq,
                "fill_seq": self._fill_seq,
            },
        )


async def until(predicate: Callable[[], bool], *, within: float = 5.0, what: str) -> None:
    """Poll an observable effect (bounded) while the loop serves the loopback server."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.01)


def captured_logs() -> tuple[list[str], Callable[[], None]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{message}")
    return lines, lambda: logger.remove(sink)


def texts(lines: Iterator[str] | list[str]) -> str:
    return "\n".join(lines)
