"""The SDK runs on one dedicated thread, off the event loop, with vendor errors translated."""

from __future__ import annotations

import threading

import pytest
import requests

from quantbot.domain.errors import VenueConnectionError
from quantbot.venues.alpaca.executor import SdkExecutor


async def test_every_call_runs_on_the_same_worker_thread_not_the_loops() -> None:
    sdk = SdkExecutor("alpaca")
    try:
        names = [await sdk.call(lambda: threading.current_thread().name) for _ in range(3)]
    finally:
        await sdk.close()

    assert len(set(names)) == 1
    assert names[0].startswith("alpaca-sdk")
    assert names[0] != threading.current_thread().name


async def test_a_vendor_exception_leaves_as_the_taxonomy_with_its_cause() -> None:
    sdk = SdkExecutor("alpaca")
    cause = requests.ConnectionError("connection refused")

    def fail() -> None:
        raise cause

    try:
        with pytest.raises(VenueConnectionError) as caught:
            await sdk.call(fail)
    finally:
        await sdk.close()
    assert caught.value.__cause__ is cause
    assert caught.value.venue == "alpaca"


async def test_a_programming_error_is_not_disguised_as_a_venue_error() -> None:
    sdk = SdkExecutor("alpaca")

    def bug() -> None:
        raise KeyError("oops")

    try:
        with pytest.raises(KeyError):
            await sdk.call(bug)
    finally:
        await sdk.close()
