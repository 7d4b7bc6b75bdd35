"""The real alpaca-py against the loopback Alpaca, started in the test's event loop on port 0.

The SDK is synchronous and runs on the adapter's worker thread; the server answers on the
loop, which is free while the test awaits the adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quantbot.config.venues import AlpacaConfig
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.clock import ServerClock
from quantbot.venues.alpaca.venue import AlpacaVenue


class Loopback:
    def __init__(self, server: AlpacaServer, port: int) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{port}"

    def venue(
        self,
        *,
        secret: str = TEST_SECRET,
        timeout_s: float = 2.0,
        symbols: tuple[str, ...] = ("AAPL", "MSFT"),
        oco_links: Path | None = None,
    ) -> AlpacaVenue:
        settings = AlpacaConfig(base_url=self.url, data_url=self.url, timeout_s=timeout_s)
        return AlpacaVenue(
            settings,
            api_key=TEST_KEY,
            secret=secret,
            clock=ServerClock(self.server),
            paper=True,
            symbols=list(symbols),
            oco_links=oco_links,
        )


@pytest.fixture
async def loopback() -> AsyncIterator[Loopback]:
    server = AlpacaServer()
    port = await server.start()
    yield Loopback(server, port)
    await server.stop()


@pytest.fixture
async def server(loopback: Loopback) -> AlpacaServer:
    return loopback.server


@pytest.fixture
async def venue(loopback: Loopback) -> AsyncIterator[AlpacaVenue]:
    adapter = loopback.venue()
    await adapter.connect()
    yield adapter
    await adapter.close()
