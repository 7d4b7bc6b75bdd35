"""Running the synchronous alpaca-py SDK from the event loop, bounded in time.

alpaca-py is built on ``requests``: every call blocks its thread. ``SdkExecutor`` runs each
call on ONE dedicated worker thread (so the loop never blocks, and the SDK's sessions are
only ever touched from that thread) and translates vendor exceptions on the way out.

The SDK sets no timeout on its requests and retries 429 and 504 itself (sleeping 3 s between
tries, with no way to turn that off through ``TradingClient``'s constructor). ``bounded``
mounts a transport adapter with a default timeout on the client's session and sets its retry
count to zero: quantbot's breakers and its bounded read retries decide what to repeat, and a
429 must surface at once as ``VenueRateLimited`` with the venue's Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from alpaca.common.rest import RESTClient
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from quantbot.venues.alpaca.errors import translated

T = TypeVar("T")
Client = TypeVar("Client", bound=RESTClient)


class TimeoutAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that applies ``timeout_s`` (connect and read) to every request that
    does not set its own, and never retries (requests' default of zero retries, explicit)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(max_retries=0)
        self.timeout_s = timeout_s

    def send(  # type: ignore[override]
        self, request: PreparedRequest, timeout: Any = None, **kwargs: Any
    ) -> Response:
        timeout = self.timeout_s if timeout is None else timeout
        return super().send(request, timeout=timeout, **kwargs)


def bounded(client: Client, timeout_s: float) -> Client:
    """``client`` with a request timeout and without the SDK's own retry loop."""
    adapter = TimeoutAdapter(timeout_s)
    session = client._session  # the one requests.Session every SDK call goes through
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    client._retry = 0  # RESTClient's retry_attempts; TradingClient does not pass it through
    return client


class SdkExecutor:
    """Runs blocking SDK calls on one worker thread, one at a time, in call order."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{venue}-sdk")

    async def call(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the worker thread; vendor exceptions leave as ``VenueError``s.

        Cancelling the awaiting task does not stop a request already on the wire (requests
        cannot be interrupted); its timeout bounds it, and the cancellation propagates."""
        loop = asyncio.get_running_loop()
        with translated(self.venue):
            return await loop.run_in_executor(self._pool, fn)

    async def close(self, *clients: RESTClient) -> None:
        """Close the clients' sessions on the worker thread, then stop the thread."""
        loop = asyncio.get_running_loop()
        for client in clients:
            await loop.run_in_executor(self._pool, client._session.close)
        self._pool.shutdown(wait=False, cancel_futures=True)
