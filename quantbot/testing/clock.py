"""A clock that reads a loopback server's market time, for adapters and OMS under test."""

from __future__ import annotations

from typing import Any


class ServerClock:
    """The adapter's (and the OMS's) clock reads the loopback server's, so "closed bar" and
    breaker windows mean the same on both sides. Time moves only when the server ticks, so
    nothing may sleep on it."""

    def __init__(self, server: Any) -> None:
        self._server = server

    def now_ns(self) -> int:
        return self._server.now_ns

    def monotonic_ns(self) -> int:
        return self._server.now_ns

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("nothing may sleep on a loopback server's clock")
