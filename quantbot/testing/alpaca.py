"""A loopback Alpaca: trading API v2 and market data v2 as alpaca-py calls them, on 127.0.0.1.

Tests start it in-process (``port = await AlpacaServer().start()``) and point the real
alpaca-py clients at ``http://127.0.0.1:<port>`` (trading and data share the one server);
a person runs it by hand with ``python -m quantbot.testing.alpaca --port 8766`` and sets
``[venue.alpaca] base_url`` and ``data_url`` to it.

Nothing moves on its own in-process: ``tick(n)`` advances the clock n minutes, closing bars
and filling orders (``alpaca_book``), ``set_clock`` opens or closes the market and
``set_price`` moves a symbol; an IOC order meets the touch at the submit instead of waiting
for a bar (``alpaca_book``). Between ``set_clock`` calls the sessions follow New York's
calendar (weekends, holidays, 13:00 early closes, daylight-saving time), which ``GET
/v2/calendar`` serves. Run by hand it starts at the wall-clock time and ticks once per
``--tick-every`` seconds (60: it keeps pace with the wall clock, so a paper run's staleness
checks see fresh bars). Over HTTP (no auth): ``POST /__admin/tick`` ``{"minutes": n}``,
``POST /__admin/clock`` ``{"is_open": b, "next_open": iso, "next_close": iso}``, ``POST
/__admin/price`` ``{"symbol": s, "price": p}``, ``POST /__admin/trade_through`` ``{"symbol":
s, "low": l, "high": h, "close": c}`` (that minute's bar, then it closes), ``POST
/__admin/refuse_cancel`` ``{"client_order_id": c}`` and ``POST``/``DELETE /__faults``
(``quantbot.testing.faults``).
Faults are armed per endpoint, named as ``"POST /v2/orders"`` or ``"GET
/v2/orders/{order_id}"``; ``requests`` lists every API request seen, so a test can assert
that a client did not retry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import math
import socket
import struct
import sys
from datetime import date, timedelta
from decimal import Decimal
from email.utils import formatdate
from typing import Any

from aiohttp import web

from quantbot.clock import Clock, LiveClock
from quantbot.testing import alpaca_wire as wire
from quantbot.testing.alpaca_book import DEFAULT_SYMBOLS, AlpacaBook, BookError
from quantbot.testing.faults import Fault, FaultBook

TEST_KEY = "PKLOOPBACK0000000000"
TEST_SECRET = "loopback-secret-do-not-use"  # a test double's well-known default
DEFAULT_START_NS = 1_704_205_800 * 1_000_000_000  # 2024-01-02 14:30 UTC, a session's open
_UNAUTHORIZED = {"code": 40110000, "message": "request is not authorized"}
Handler = Any


def _rate_limit_headers(fault: Fault, now: int) -> dict[str, str]:
    """Alpaca's 429 carries no Retry-After: X-RateLimit-Reset says when the window reopens, in
    Unix seconds, beside the response's Date (both from ``now``, one reading of the wall
    clock)."""
    return {
        "X-RateLimit-Limit": "200",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(now + math.ceil(fault.retry_after_s)),
        "Date": formatdate(now, usegmt=True),
    }


def _today(book: AlpacaBook) -> str:
    return book.calendar.local_day(book.now_ns).isoformat()


def _error(status: int, code: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


class AlpacaServer:
    """One paper account behind Alpaca's REST protocol, with per-endpoint fault injection."""

    def __init__(
        self,
        book: AlpacaBook | None = None,
        *,
        api_key: str = TEST_KEY,
        api_secret: str = TEST_SECRET,
        wall_clock: Clock | None = None,
    ) -> None:
        self.book = book or AlpacaBook(start_ns=DEFAULT_START_NS)
        # What the 429's Date and X-RateLimit-Reset headers are stamped with (not the book's
        # market time): the real clock by default, injected by tests that assert them.
        self._wall = wall_clock or LiveClock()
        self.faults = FaultBook()
        self.requests: list[str] = []
        self._key = api_key
        self._secret = api_secret
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # once started

    def __repr__(self) -> str:
        return f"AlpacaServer(now_ns={self.book.now_ns}, orders={len(self.book.orders)})"

    # ------------------------------------------------------------ control

    @property
    def now_ns(self) -> int:
        return self.book.now_ns

    def tick(self, minutes: int = 1) -> None:
        self.book.tick(minutes)

    def set_clock(
        self, is_open: bool, next_open_ns: int | None = None, next_close_ns: int | None = None
    ) -> None:
        self.book.set_clock(is_open, next_open_ns, next_close_ns)

    def set_price(self, symbol: str, price: Decimal | str) -> None:
        self.book.set_price(symbol, Decimal(price))

    def trade_through(self, symbol: str, low: Decimal, high: Decimal, close: Decimal) -> None:
        """The current minute of ``symbol`` spans [low, high] and closes at ``close``; then it
        closes, and resting orders meet it (``AlpacaBook.trade_through``)."""
        self.book.trade_through(symbol, Decimal(low), Decimal(high), Decimal(close))

    def refuse_cancel(self, client_order_id: str) -> None:
        """From now on the venue refuses to cancel this order (422 "not cancelable")."""
        self.book.refused_cancels.add(client_order_id)

    def count(self, endpoint: str) -> int:
        return self.requests.count(endpoint)

    # ------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on ``host:port`` (0: any free port); returns the bound port."""
        app = web.Application(middlewares=[self._middleware])
        self._routes(app.router)
        # Short shutdown grace: a handler holding a reply (accept_then_timeout) must not
        # keep stop() waiting.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _routes(self, r: web.UrlDispatcher) -> None:
        r.add_get("/v2/account", self._account)
        r.add_get("/v2/clock", self._clock)
        r.add_get("/v2/calendar", self._calendar)
        r.add_get("/v2/assets/{symbol}", self._asset)
        r.add_post("/v2/orders", self._submit)
        r.add_get("/v2/orders", self._orders)
        r.add_delete("/v2/orders", self._cancel_all)
        r.add_get("/v2/orders:by_client_order_id", self._by_client_id)
        r.add_get("/v2/orders/{order_id}", self._order)
        r.add_delete("/v2/orders/{order_id}", self._cancel)
        r.add_get("/v2/positions", self._positions)
        r.add_get("/v2/account/activities/FILL", self._fills)
        r.add_get("/v2/stocks/bars", self._bars)
        r.add_get("/v2/stocks/quotes/latest", self._quotes)
        r.add_get("/v2/stocks/{symbol}/quotes/latest", self._quote)
        r.add_post("/__faults", self._arm)
        r.add_delete("/__faults", self._disarm)
        r.add_post("/__admin/tick", self._admin_tick)
        r.add_post("/__admin/clock", self._admin_clock)
        r.add_post("/__admin/refuse_cancel", self._admin_refuse)
        r.add_post("/__admin/price", self._admin_price)
        r.add_post("/__admin/trade_through", self._admin_trade_through)

    # ------------------------------------------------------------ auth and faults

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/__"):
            return await handler(request)
        resource = request.match_info.route.resource
        endpoint = f"{request.method} {resource.canonical if resource else request.path}"
        self.requests.append(endpoint)
        fault = self.faults.take(endpoint)
        if fault is not None and not fault.after_effect:
            refused = await self._before(request, fault)
            if refused is not None:
                return refused
        if not self._authorized(request):
            return web.json_response(_UNAUTHORIZED, status=401)
        try:
            response = await handler(request)
        except BookError as e:
            return _error(e.status, e.code, e.message)
        if fault is not None and fault.after_effect:
            return await self._after(response, fault)
        return response

    def _authorized(self, request: web.Request) -> bool:
        key = request.headers.get("APCA-API-KEY-ID", "")
        secret = request.headers.get("APCA-API-SECRET-KEY", "")
        return hmac.compare_digest(key, self._key) and hmac.compare_digest(secret, self._secret)

    async def _before(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        """Faults that refuse the request before it does anything (None: go on)."""
        if fault.kind == "delay":
            # Received whole (read() keeps the body for the handler), acted on late: a
            # client that dies meanwhile does not stop the venue acting.
            await request.read()
            await asyncio.sleep(fault.delay_s)
            return None
        if fault.kind == "http_429":
            headers = _rate_limit_headers(fault, self._wall.now_ns() // 1_000_000_000)
            return _error(429, 42910000, "rate limit exceeded", **headers)
        if fault.kind == "http_5xx":
            return _error(fault.status, 50010000, "service unavailable")
        if fault.kind == "auth_revoked":
            if fault.times != 0:  # revoked stays revoked, on every endpoint, until cleared
                self.faults.arm("*", Fault("auth_revoked", times=0))
            return web.json_response(_UNAUTHORIZED, status=401)
        _reset(request)  # connection_reset
        raise asyncio.CancelledError  # nothing may be written on the dead connection

    async def _after(self, response: web.StreamResponse, fault: Fault) -> web.StreamResponse:
        """Faults that show after the request took effect."""
        if fault.kind == "accept_then_timeout":
            await asyncio.sleep(fault.delay_s)  # the client gives up first
            return response
        if fault.kind == "http_5xx_after_accept":
            status = fault.status if fault.status != 503 else 500
            return _error(status, 50010000, "internal server error")
        body = response.body if isinstance(response, web.Response) else b""
        raw = bytes(body) if isinstance(body, bytes | bytearray) else b""
        return web.Response(body=raw[: len(raw) // 2], content_type="application/json")

    async def _arm(self, request: web.Request) -> web.Response:
        endpoint, fault = Fault.from_json(await request.json())
        self.faults.arm(endpoint, fault)
        return web.json_response({"armed": endpoint, "kind": fault.kind})

    async def _disarm(self, _request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"cleared": True})

    # ------------------------------------------------------------ admin

    async def _admin_tick(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.tick(int(body.get("minutes", 1)))
        return web.json_response(wire.clock_json(self.book))

    async def _admin_clock(self, request: web.Request) -> web.Response:
        body = await request.json()
        nxt = {
            k: wire.parse_time(body[k]) if body.get(k) else None
            for k in ("next_open", "next_close")
        }
        self.set_clock(bool(body["is_open"]), nxt["next_open"], nxt["next_close"])
        return web.json_response(wire.clock_json(self.book))

    async def _admin_price(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.set_price(str(body["symbol"]), str(body["price"]))
        return web.json_response({"symbol": body["symbol"], "price": str(body["price"])})

    async def _admin_trade_through(self, request: web.Request) -> web.Response:
        body = await request.json()
        prices = [Decimal(str(body[k])) for k in ("low", "high", "close")]
        try:
            self.trade_through(str(body["symbol"]), *prices)
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(wire.clock_json(self.book))

    async def _admin_refuse(self, request: web.Request) -> web.Response:
        cid = str((await request.json())["client_order_id"])
        self.refuse_cancel(cid)
        return web.json_response({"refused": cid})

    # ------------------------------------------------------------ trading API

    async def _account(self, _request: web.Request) -> web.Response:
        return web.json_response(wire.account_json(self.book))

    async def _clock(self, _request: web.Request) -> web.Response:
        return web.json_response(wire.clock_json(self.book))

    async def _calendar(self, request: web.Request) -> web.Response:
        """Market days from ``start`` to ``end`` (YYYY-MM-DD); without them, the 30 days from
        the book's own date (real Alpaca answers 1970 to 2029 then: a client asks a range)."""
        calendar = self.book.calendar
        try:
            start = date.fromisoformat(request.query.get("start", "")[:10] or _today(self.book))
            end = date.fromisoformat(
                request.query.get("end", "")[:10] or (start + timedelta(days=30)).isoformat()
            )
        except ValueError:
            return _error(422, 40010001, "start and end must be dates (YYYY-MM-DD)")
        return web.json_response(wire.calendar_json(calendar, start, end))

    async def _asset(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"]
        if symbol not in self.book.symbols:
            raise BookError(404, 40410000, "asset not found")
        return web.json_response(wire.asset_json(symbol))

    async def _submit(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            raise BookError(400, 40010000, "request body format is invalid") from None
        if not isinstance(body, dict):
            raise BookError(400, 40010000, "request body format is invalid")
        order = self.book.submit(body)
        reply = wire.submitted_json(self.book, order, pending=self.book.pending_replies)
        return web.json_response(reply)

    async def _orders(self, request: web.Request) -> web.Response:
        return web.json_response(wire.orders_reply(self.book, request.query))

    async def _by_client_id(self, request: web.Request) -> web.Response:
        order = self.book.order_by_client_id(request.query.get("client_order_id", ""))
        return web.json_response(wire.order_json(order))

    async def _order(self, request: web.Request) -> web.Response:
        order = self.book.order(request.match_info["order_id"])
        nested = self.book if wire.wants_nested(request.query) else None
        return web.json_response(wire.order_json(order, nested))

    async def _cancel(self, request: web.Request) -> web.Response:
        self.book.cancel(request.match_info["order_id"])
        return web.Response(status=204)

    async def _cancel_all(self, _request: web.Request) -> web.Response:
        return web.json_response(wire.cancel_all_reply(self.book), status=207)

    async def _positions(self, _request: web.Request) -> web.Response:
        return web.json_response(wire.positions_json(self.book))

    async def _fills(self, request: web.Request) -> web.Response:
        return web.json_response(wire.fills_reply(self.book, request.query))

    # ------------------------------------------------------------ market data API

    async def _bars(self, request: web.Request) -> web.Response:
        return web.json_response(wire.bars_reply(self.book, request.query))

    async def _quotes(self, request: web.Request) -> web.Response:
        symbols = [s for s in request.query.get("symbols", "").split(",") if s in self.book.symbols]
        return web.json_response({"quotes": {s: wire.quote_json(self.book, s) for s in symbols}})

    async def _quote(self, request: web.Request) -> web.Response:
        """One symbol's latest quote (``GET /v2/stocks/{symbol}/quotes/latest``)."""
        symbol = request.match_info["symbol"]
        if symbol not in self.book.symbols:
            return web.json_response({"code": 40410000, "message": "not found"}, status=404)
        return web.json_response({"symbol": symbol, "quote": wire.quote_json(self.book, symbol)})


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset, before any byte of a reply."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _serve(args: argparse.Namespace) -> None:
    from quantbot.clock import LiveClock  # noqa: PLC0415 - only a hand-run server reads the wall clock

    book = AlpacaBook(
        start_ns=LiveClock().now_ns(), symbols=tuple(args.symbols.split(",")), seed=args.seed
    )
    server = AlpacaServer(book, api_key=args.api_key, api_secret=args.api_secret)
    port = await server.start(args.host, args.port)
    base = f"http://{args.host}:{port}"
    print(
        f"alpaca loopback on {base} (trading and data); key={args.api_key} secret={args.api_secret}"
    )
    print(f"  set [venue.alpaca] base_url = data_url = {base!r}; POST {base}/__admin/tick to move")
    sys.stdout.flush()  # a pipe is block-buffered: whoever waits for the banner gets it now
    try:
        while True:
            await asyncio.sleep(args.tick_every if args.tick_every > 0 else 3600)
            if args.tick_every > 0:
                server.tick(1)
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quantbot.testing.alpaca", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--api-key", default=TEST_KEY)
    parser.add_argument("--api-secret", default=TEST_SECRET)
    parser.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tick-every", type=float, default=60.0, help="seconds per simulated minute (0: never)"
    )
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a hand-run server stops
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
