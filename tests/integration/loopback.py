"""A loopback venue server on its own thread and event loop, so a test can run `quantbot`
as a subprocess against it and move the server's market along meanwhile."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from typing import Any


class ServerThread:
    """Runs ``server`` (``start()``/``stop()`` coroutines) on a private loop in a thread."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop (its state is not thread-safe) and return its value
        (awaited, when ``fn`` gives a coroutine)."""

        async def run() -> Any:
            result = fn()
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class Servers:
    """Several servers started and stopped together (REST and websocket on one book)."""

    def __init__(self, *servers: Any) -> None:
        self.servers = servers

    async def start(self) -> int:
        ports = [await s.start() for s in self.servers]
        return ports[0]

    async def stop(self) -> None:
        for s in reversed(self.servers):
            await s.stop()
