"""The contract suite's venues: every adapter runs the same tests (tests/contract/)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.harness import (
    AlpacaHarness,
    BinanceFuturesHarness,
    BinanceHarness,
    SimHarness,
)

HARNESSES: dict[str, Any] = {
    "sim": SimHarness,
    "alpaca": AlpacaHarness,
    "ccxt": BinanceHarness,
    "ccxt-futures": BinanceFuturesHarness,
}


@pytest.fixture(params=sorted(HARNESSES))
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")  # the fault wrappers are test doubles
    h = HARNESSES[request.param](tmp_path)
    await h.open()
    try:
        yield h
    finally:
        await h.close()
