"""A loopback Binance market-stream websocket: kline streams as ccxt.pro's ``binance`` uses them.

ccxt.pro's ``watch_ohlcv`` connects to ``<urls.api.ws.spot>/<n>`` (``n`` a stream index) and
sends ``{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}``; Binance answers
``{"result": null, "id": 1}`` and from then on pushes ``{"e": "kline", "E": ..., "s": ...,
"k": {...}}`` events, each a full snapshot of one candle, ``"x": true`` once it has closed.
This server speaks that protocol (also ``UNSUBSCRIBE`` and ``LIST_SUBSCRIPTIONS``; a raw
``/ws/<stream>`` path subscribes at connect) over any path, from the SAME ``BinanceBook`` a
``BinanceServer`` serves REST from, so the REST klines and the stream always agree.

Nothing is pushed on its own in-process: a new subscription gets the forming candle at once,
then ``await push()`` (or ``await tick(n)``: move the book, then push) sends every
connection each candle closed since it last heard, oldest first with ``"x": true``, then the
forming one. Run by hand (``python -m quantbot.testing.binance_ws``) it serves the REST API
and the stream on one book that follows the wall clock, pushing every second.

Faults (``quantbot.testing.faults``) on two endpoints: ``"GET /ws"`` is the handshake
(``http_429``, ``http_5xx``, ``connection_reset``) and ``"PUSH kline"`` is one connection's
share of a push (``connection_reset``: the socket is reset instead of sending, those events
are lost to it). Over HTTP on the same port: ``POST``/``DELETE /__faults`` and ``POST
/__admin/tick`` ``{"minutes": n}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any

import attrs
from aiohttp import WSMsgType, web

from quantbot.clock import LiveClock
from quantbot.testing import binance_book as bk
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.faults import Fault, FaultBook

HANDSHAKE = "GET /ws"
PUSH = "PUSH kline"
_SUPPORTED = {
    HANDSHAKE: frozenset({"http_429", "http_5xx", "connection_reset"}),
    PUSH: frozenset({"connection_reset"}),
}
_INTERVAL = "1m"  # the book has 1m candles only


@attrs.define
class _Connection:
    ws: web.WebSocketResponse
    request: web.Request
    streams: dict[str, str] = attrs.Factory(dict)  # stream name -> Binance symbol id
    sent_closed: dict[str, int] = attrs.Factory(dict)  # symbol -> open ms of last closed sent


class _BadRequest(Exception):
    """A request Binance answers with ``{"error": {"code": 2, ...}}``."""


class BinanceWsServer:
    """Binance kline streams for the symbols of ``book``, with fault injection."""

    def __init__(self, book: bk.BinanceBook) -> None:
        self.book = book
        self.faults = FaultBook()
        self.handshakes = 0  # websocket connections accepted, ever
        self._connections: list[_Connection] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def __repr__(self) -> str:
        return f"BinanceWsServer(port={self.port}, connections={len(self._connections)})"

    @property
    def ws_url(self) -> str:
        """What ccxt.pro's ``urls["api"]["ws"]`` entries should be set to."""
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def subscriptions(self) -> list[str]:
        """Every live subscription, one entry per connection and stream."""
        return [name for conn in self._connections for name in conn.streams]

    async def wait_until(self, ready: Callable[[BinanceWsServer], bool]) -> None:
        """Return once ``ready(self)`` holds, re-checked at every connect, subscription
        change and disconnect (so tests wait on events, never on time)."""
        async with self._changed:
            await self._changed.wait_for(lambda: ready(self))

    async def wait_subscribed(self, *streams: str) -> None:
        """Return once every one of ``streams`` has a subscriber."""
        await self.wait_until(lambda srv: all(s in srv.subscriptions for s in streams))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here (port=0)
        self.port = int(server.sockets[0].getsockname()[1]) if server else port
        return self.port

    async def stop(self) -> None:
        for conn in list(self._connections):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ pushing

    async def tick(self, minutes: int = 1) -> list[bk.Trade]:
        """Close ``minutes`` candles in the book (filling what they cross), then push."""
        trades = self.book.tick(minutes)
        await self.push()
        return trades

    async def push(self) -> int:
        """Send every connection what it has not seen: closed candles, then the forming one.
        Returns the number of events sent."""
        sent = 0
        for conn in list(self._connections):
            fault = self.faults.take(PUSH)
            if fault is not None:  # connection_reset: a dead path, no close frame, events lost
                _abort(conn.request)
                await self._forget(conn)
                continue
            sent += await self._catch_up(conn)
        return sent

    async def _catch_up(self, conn: _Connection) -> int:
        events = []
        for symbol in dict.fromkeys(conn.streams.values()):
            last = conn.sent_closed.get(symbol, -1)
            closed = [k for k in self.book.klines[symbol] if k.open_ms > last]
            events.extend(self._event(symbol, k, closed=True) for k in closed)
            if closed:
                conn.sent_closed[symbol] = closed[-1].open_ms
            events.append(self._event(symbol, self.book.forming(symbol), closed=False))
        for event in events:
            await conn.ws.send_str(json.dumps(event))
        return len(events)

    def _event(self, symbol: str, k: bk.Kline, *, closed: bool) -> dict[str, Any]:
        return {
            "e": "kline", "E": self.book.now_ms, "s": symbol,
            "k": {
                "t": k.open_ms, "T": k.open_ms + bk.MINUTE_MS - 1, "s": symbol, "i": _INTERVAL,
                "f": -1, "L": -1, "o": f"{k.open:.8f}", "c": f"{k.close:.8f}",
                "h": f"{k.high:.8f}", "l": f"{k.low:.8f}", "v": f"{k.volume:.8f}", "n": 0,
                "x": closed, "q": f"{k.volume * k.close:.8f}", "V": "0.00000000",
                "Q": "0.00000000", "B": "0",
            },
        }  # fmt: skip

    async def _forget(self, conn: _Connection) -> None:
        async with self._changed:
            if conn in self._connections:
                self._connections.remove(conn)
            self._changed.notify_all()

    # ------------------------------------------------------------ protocol

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/__"):
            return await self._admin(request)
        fault = self.faults.take(HANDSHAKE)
        if fault is not None:
            return self._refuse(request, fault)
        ws = web.WebSocketResponse(autoping=True)
        if not ws.can_prepare(request).ok:
            return _json({"code": -1000, "msg": "websocket upgrade expected"}, 400)
        await ws.prepare(request)
        conn = _Connection(ws, request)
        async with self._changed:
            self.handshakes += 1
            self._connections.append(conn)
            self._changed.notify_all()
        try:
            raw = request.path.rstrip("/").rsplit("/", 1)[-1]
            if "@" in raw:  # /ws/<stream>: a raw stream, subscribed at connect, no reply
                with contextlib.suppress(_BadRequest):  # an unknown one just hears nothing
                    await self._subscribe(conn, [raw])
                    await self._catch_up(conn)
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
        finally:
            await self._forget(conn)
        return ws

    def _refuse(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "http_429":
            retry = str(max(1, round(fault.retry_after_s)))
            return _json(
                {"code": -1003, "msg": "Too many requests."}, 429, **{"Retry-After": retry}
            )
        if fault.kind == "http_5xx":
            return _json({"code": -1008, "msg": "Server is busy."}, fault.status)
        _abort(request)  # connection_reset (the admin endpoint refuses other kinds)
        return web.Response(status=500)  # never reaches the client

    async def _on_text(self, conn: _Connection, text: str) -> None:
        request_id: Any = None
        method: Any = None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise _BadRequest("Invalid request: expected an object")
            request_id, method = data.get("id"), data.get("method")
            result = await self._request(conn, method, data.get("params") or [])
            reply: dict[str, Any] = {"result": result, "id": request_id}
        except json.JSONDecodeError as e:
            reply = {"error": {"code": 3, "msg": f"Invalid JSON: {e.msg}"}, "id": None}
        except _BadRequest as e:
            reply = {"error": {"code": 2, "msg": str(e)}, "id": request_id}
        await conn.ws.send_str(json.dumps(reply))
        if method == "SUBSCRIBE" and "result" in reply:
            await self._catch_up(conn)  # Binance's first update follows the reply

    async def _request(self, conn: _Connection, method: Any, params: list[Any]) -> Any:
        if method == "SUBSCRIBE":
            await self._subscribe(conn, params)
            return None
        if method == "UNSUBSCRIBE":
            async with self._changed:
                for name in params:
                    conn.streams.pop(str(name), None)
                self._changed.notify_all()
            return None
        if method == "LIST_SUBSCRIPTIONS":
            return list(conn.streams)
        raise _BadRequest(
            f"Invalid request: unknown variant {method!r}, expected one of SUBSCRIBE, "
            "UNSUBSCRIBE, LIST_SUBSCRIPTIONS"
        )

    async def _subscribe(self, conn: _Connection, names: list[Any]) -> None:
        parsed = {str(name): self._symbol_of(str(name)) for name in names}
        async with self._changed:
            for name, symbol in parsed.items():
                if name not in conn.streams:  # history is for REST: news from the forming on
                    closed = self.book.klines[symbol]
                    conn.sent_closed[symbol] = closed[-1].open_ms if closed else -1
                conn.streams[name] = symbol
            self._changed.notify_all()

    def _symbol_of(self, name: str) -> str:
        market, _, channel = name.partition("@")
        symbol = market.upper()
        if symbol not in self.book.markets or not channel.startswith("kline_"):
            raise _BadRequest(f"Invalid request: unknown stream {name!r}")
        if channel != f"kline_{_INTERVAL}":
            raise _BadRequest(f"Invalid request: interval {channel[6:]!r} not served here")
        return symbol

    async def _admin(self, request: web.Request) -> web.Response:
        route = (request.method, request.path)
        if route == ("POST", "/__faults"):
            endpoint, fault = Fault.from_json(await request.json())
            if fault.kind not in _SUPPORTED.get(endpoint, frozenset()):
                return _json({"error": f"{fault.kind} on {endpoint!r} is not supported"}, 400)
            self.faults.arm(endpoint, fault)
            return _json({"armed": endpoint, "kind": fault.kind})
        if route == ("DELETE", "/__faults"):
            self.faults.clear()
            return _json({"cleared": True})
        if route == ("POST", "/__admin/tick"):
            data = await request.json() if request.can_read_body else {}
            await self.tick(int(data.get("minutes", 1)))
            return _json({"now_ms": self.book.now_ms, "connections": len(self._connections)})
        return _json({"error": f"unknown admin route {request.method} {request.path}"}, 404)


def _json(data: object, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        text=json.dumps(data), status=status, content_type="application/json", headers=headers
    )


def _abort(request: web.Request) -> None:
    """Reset the request's TCP connection (SO_LINGER 0), no close frame, no reply."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _serve(args: argparse.Namespace) -> None:
    wall = LiveClock()
    book = bk.BinanceBook(seed=args.seed, start_ms=wall.now_ns() // 1_000_000)
    rest = BinanceServer(
        api_key=args.api_key, api_secret=args.api_secret, book=book, wall_clock=wall,
        follow_wall_clock=True,
    )  # fmt: skip
    stream = BinanceWsServer(book)
    port = await rest.start(args.host, args.port)
    ws_port = await stream.start(args.host, args.ws_port)
    print(f"binance loopback REST on http://{args.host}:{port}")
    print(f"binance loopback stream on ws://{args.host}:{ws_port}/ws")
    print(f"  api key: {args.api_key}\n  secret:  {args.api_secret}  (test credentials)")
    sys.stdout.flush()  # a pipe is block-buffered: whoever waits for the banner gets it now
    try:
        while True:  # Binance pushes kline updates every second or two
            await wall.sleep(1.0)
            book.advance_to(wall.now_ns() // 1_000_000)
            await stream.push()
    finally:
        await stream.stop()
        await rest.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m quantbot.testing.binance_ws --port N --ws-port M``: REST and stream on one
    book that follows the wall clock, until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m quantbot.testing.binance_ws")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="REST API port")
    parser.add_argument("--ws-port", type=int, default=8767, help="websocket stream port")
    parser.add_argument("--api-key", default=TEST_API_KEY)
    parser.add_argument("--api-secret", default=TEST_API_SECRET)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
