"""The dashboard's HTTP side: one page, its event stream and its state as JSON, on the
loopback address, each behind the run's token. Read-only by construction: there are GET
routes only (no POST, PUT or DELETE route exists, so nothing here can place or cancel an
order) and the server is handed the page's state, nothing of the daemon.

Every request is checked before anything else runs: without ``?token=`` equal to the run's
(``secrets.compare_digest``) it gets 401 and a body that says only that. The access log is
off, since a request line carries the token, and each response says ``no-store``,
``no-referrer`` and a content security policy that lets the page load nothing from anywhere
(its one script runs by nonce).

Live updates are server-sent events: each open page has its own bounded queue; ``publish``
only enqueues, and a page whose queue is full is dropped (its stream ends; the browser
reconnects and starts again from a fresh snapshot), so a slow page never holds anything up.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from quantbot.config.dashboard import LOOPBACK
from quantbot.dashboard.page import render_page

CLIENT_QUEUE = 256
KEEPALIVE_S = 15.0
_SNAPSHOT = Callable[[], dict[str, Any]]


def _csp(nonce: str) -> str:
    return (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def sse(event: str, data: Any) -> bytes:
    """One server-sent event (orjson writes no newline, so one ``data:`` line is enough)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class _Client:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_QUEUE)

    def offer(self, chunk: bytes) -> bool:
        """Enqueue; False (and the stream told to end) when this page has fallen behind."""
        try:
            self.queue.put_nowait(chunk)
        except asyncio.QueueFull:
            self.end(flush=False)
            return False
        return True

    def end(self, *, flush: bool) -> None:
        """End the stream: after what is queued (``flush``), or at once (a page behind)."""
        if not (flush and not self.queue.full()):
            while not self.queue.empty():
                self.queue.get_nowait()
        self.queue.put_nowait(None)


class DashboardServer:
    def __init__(self, token: str, snapshot: _SNAPSHOT, *, port: int = 0) -> None:
        self._token = token.encode()
        self._snapshot = snapshot
        self._port = port
        self._clients: set[_Client] = set()
        self._runner: web.AppRunner | None = None
        self.dropped_clients = 0
        self.port = 0

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._page, allow_head=False)
        app.router.add_get("/events", self._events, allow_head=False)
        app.router.add_get("/state.json", self._state, allow_head=False)
        # access_log=None: a request line holds the token, and it must never reach a log.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, LOOPBACK, self._port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for client in tuple(self._clients):
            client.end(flush=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- pushing ------------------------------------------------------------------------------
    def publish(self, event: str, data: Any) -> None:
        if not self._clients:
            return
        chunk = sse(event, data)
        for client in tuple(self._clients):
            if not client.offer(chunk):
                self._clients.discard(client)
                self.dropped_clients += 1

    # -- requests -----------------------------------------------------------------------------
    def authorised(self, request: web.Request) -> bool:
        given = request.query.get("token", "")
        return secrets.compare_digest(given.encode(), self._token)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self.authorised(request):
            return web.Response(
                status=401, text="401: this dashboard needs its token (?token=...)\n",
                headers=_HEADERS,
            )  # fmt: skip
        return await handler(request)

    async def _page(self, request: web.Request) -> web.Response:
        nonce = secrets.token_urlsafe(16)
        html = render_page(self._snapshot(), nonce)
        headers = {**_HEADERS, "Content-Security-Policy": _csp(nonce)}
        return web.Response(text=html, content_type="text/html", headers=headers)

    async def _state(self, request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps(self._snapshot()), content_type="application/json",
            headers=_HEADERS,
        )  # fmt: skip

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={**_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        client = _Client()
        self._clients.add(client)
        try:
            await response.write(b"retry: 1000\n\n" + sse("snapshot", self._snapshot()))
            while True:
                try:
                    chunk = await asyncio.wait_for(client.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    chunk = b": keep-alive\n\n"
                if chunk is None:
                    break
                await response.write(chunk)
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self._clients.discard(client)
        return response
