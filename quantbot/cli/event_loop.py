"""The event loop a command runs its daemon on: uvloop where it is installed."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from loguru import logger


def run_on_event_loop(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        logger.info("uvloop not available; using the standard asyncio loop")
        return asyncio.run(coro)
    return uvloop.run(coro)
