"""A loopback Binance spot: REST API v3 as ccxt's ``binance`` class calls it, on 127.0.0.1.

Tests start it in-process (``port = await BinanceServer().start()``) and point ccxt at
``http://127.0.0.1:<port>`` (every URL key of ``exchange.urls["api"]``); a person runs it by
hand with ``python -m quantbot.testing.binance --port 8765`` and sets ``[venue.ccxt]
base_url`` to it. Signed endpoints check ``X-MBX-APIKEY``, the HMAC-SHA256 signature over
query string + body and ``timestamp``/``recvWindow`` against the wall clock, and refuse with
Binance's own codes, so ccxt raises what it raises for the real venue.

In-process nothing moves on its own: ``tick(n)`` closes n 1m candles (``binance_book``) and
fills the resting LIMITs they cross. Run by hand, the book follows the wall clock. Over HTTP
(no auth): ``POST /__admin/tick`` ``{"minutes": n}``, ``POST``/``DELETE /__faults``
(``quantbot.testing.faults``), with endpoints named like ``"POST /api/v3/order"``,
``POST /__admin/consistency`` ``{"lookup_lag_s": n}`` (look-ups of orders younger than n
seconds answer "does not exist"), ``GET /__admin/client_ids`` (every client order id
submitted, in order), and
``POST /__admin/skew`` ``{"ms": n, "resync_fixes": true}`` (``skew``): the server's clock,
which signed requests are checked against, runs ``n`` ms ahead of the wall clock (negative:
behind). ``GET /api/v3/time`` reports that skewed clock, so a client that re-syncs signs
right again; with ``resync_fixes`` false it reports the true wall clock instead (a time
endpoint that disagrees with the signature check), so the skew comes back after every
re-sync.

``quantbot.testing.binance_futures`` is the USD-M futures sibling (``/fapi``), the same
machinery with other routes (``_route``) and a margin account behind them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import struct
import sys
from decimal import Decimal
from typing import ClassVar

from aiohttp import web

from quantbot.clock import Clock, LiveClock
from quantbot.testing import binance_book as bk
from quantbot.testing import binance_wire as wire
from quantbot.testing.faults import Fault, FaultBook

TEST_API_KEY = "LoopbackBinanceKey0000000000000000000000000000000000000000000000"
TEST_API_SECRET = "LoopbackBinanceSecret00000000000000000000000000000000000000000000"
_PUBLIC = "/api/v3/"
_REVOKED = bk.BinanceApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
_BUSY = {"code": -1008, "msg": "Server is currently overloaded with other requests."}
_INTERNAL = {"code": -1001, "msg": "Internal error; unable to process your request."}
_TOO_MANY = {"code": -1003, "msg": "Too many requests; current limit is 6000 request weight."}
_STATUS_UNKNOWN = {
    "code": -1007,
    "msg": "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown.",
}
_NEW_ORDER = ("POST", "/api/v3/order")
_GET_ORDER = ("GET", "/api/v3/order")


def _json(data: object, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        text=json.dumps(data), status=status, content_type="application/json", headers=headers
    )


class BinanceServer:
    """One spot account behind Binance's REST protocol, with per-endpoint fault injection."""

    # The endpoints that take new orders, and the params naming their client ids.
    NEW_ORDER_IDS: ClassVar[dict[tuple[str, str], tuple[str, ...]]] = {
        _NEW_ORDER: ("newClientOrderId",),
        ("POST", "/api/v3/orderList/oco"): ("aboveClientOrderId", "belowClientOrderId"),
    }

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        api_secret: str = TEST_API_SECRET,
        book: bk.BinanceBook | None = None,
        wall_clock: Clock | None = None,
        follow_wall_clock: bool = False,
    ) -> None:
        self.book = book or bk.BinanceBook()
        self.faults = FaultBook()
        self.requests: list[str] = []  # "METHOD /path" of every API request, in order
        self._key, self._secret = api_key, api_secret
        self._wall = wall_clock or LiveClock()
        self._follow = follow_wall_clock
        self.skew_ms = 0  # the server's clock minus the wall clock (see ``skew``)
        self.skew_resync_fixes = True
        self._runner: web.AppRunner | None = None
        self.port = 0
        # Every client order id a new order carried (POST /api/v3/order, each leg of an
        # order list), answered or not (tests assert that none is ever sent twice).
        self.client_ids_sent: list[str] = []
        # A look-up (GET /api/v3/order) of an order taken less than this long ago (wall
        # clock) answers "Order does not exist." although the order exists and may fill.
        self.lookup_lag_s = 0.0
        self._taken_wall_ms: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"BinanceServer(now_ms={self.book.now_ms}, orders={len(self.book.orders)})"

    # ------------------------------------------------------------ control

    @property
    def now_ns(self) -> int:
        """The book's market time (klines and fills are stamped with it)."""
        return self.book.now_ms * 1_000_000

    def tick(self, minutes: int = 1) -> list[bk.Trade]:
        """Close ``minutes`` 1m candles, filling the resting LIMITs they cross."""
        return self.book.tick(minutes)

    def trade_through(
        self, symbol: str, low: Decimal, high: Decimal, close: Decimal
    ) -> list[bk.Trade]:
        """Close the next candle of ``symbol`` (Binance's id, or ccxt's ``ETH/USDT`` or
        ``ETH/USDT:USDT``) over ``low..high``, ending at ``close`` (``BinanceBook``'s)."""
        market_id = symbol.split(":", maxsplit=1)[0].replace("/", "")
        return self.book.trade_through(market_id, low, high, close)

    def skew(self, ms: int, *, resync_fixes: bool = True) -> None:
        """Run the clock that ``timestamp``/``recvWindow`` are checked against ``ms`` ahead of
        the wall clock (negative: behind); 0 puts it right. ``resync_fixes`` False: ``GET
        /api/v3/time`` keeps telling the true wall clock, so a re-sync does not help."""
        self.skew_ms = int(ms)
        self.skew_resync_fixes = resync_fixes

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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _wall_ms(self) -> int:
        return self._wall.now_ns() // 1_000_000

    def _clock_ms(self) -> int:
        """The server's own clock, skewed or not: what signed requests are checked against."""
        return self._wall_ms() + self.skew_ms

    # ------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/__"):
            return await self._admin(request)
        route = self._route(request.method, path)
        if route is None:
            return _json({"code": -1000, "msg": f"Unknown endpoint {path}"}, 404)
        endpoint = f"{request.method} {path}"
        self.requests.append(endpoint)
        signed, handler = route
        fault = self.faults.take(endpoint)
        if fault is not None and not fault.after_effect:
            refusal = await self._fault_before(request, fault, signed)
            if refusal is not None:
                return refusal
        return await self._serve(request, signed, handler, fault)

    async def _serve(
        self, request: web.Request, signed: bool, handler: wire.Endpoint, fault: Fault | None
    ) -> web.StreamResponse:
        """Authenticate, run the endpoint, and apply a fault that shows after its effect."""
        path = request.path
        try:
            params = await self._params(request, signed)
            if fault is not None and fault.kind == "delay":
                # Received whole, acted on late: a client that dies meanwhile does not stop it.
                await asyncio.sleep(fault.delay_s)
            if self._follow:
                self.book.advance_to(self._wall_ms())
            self._reveal_due()
            hidden = self._take_order(request.method, path, params, fault)
            if hidden is not None:
                return hidden
            body = handler(self.book, params)
            self._note_taken(request.method, path, body)
        except bk.BinanceApiError as e:
            return _json(e.payload(), e.status)
        if fault is not None and fault.after_effect:
            return await self._fault_after(fault, body)
        return _json(body)

    def _take_order(
        self, method: str, path: str, params: dict[str, str], fault: Fault | None
    ) -> web.Response | None:
        """Note a new order's client id; a ``late_visibility`` fault hides the order."""
        keys = self.NEW_ORDER_IDS.get((method, path))
        if keys is None:
            return None
        self.client_ids_sent.extend(params.get(k, "") for k in keys)
        if (method, path) == _NEW_ORDER and fault is not None and fault.kind == "late_visibility":
            return self._hide(params, fault)
        return None

    # ------------------------------------------------------------ eventual consistency

    def _hide(self, params: dict[str, str], fault: Fault) -> web.Response:
        """Take the order but show it to nobody for ``fault.delay_s`` (wall clock), and
        answer as Binance does when the execution status is unknown."""
        reveal_at = self._wall_ms() + round(fault.delay_s * 1000)
        self.book.hide(
            wire.parse_new_order(params), reveal_at_wall_ms=reveal_at, backdated=fault.backdated
        )
        return _json(_STATUS_UNKNOWN, 503)

    def _reveal_due(self) -> None:
        hidden = getattr(self.book, "hidden", None)
        if hidden:
            for order in self.book.reveal(self._wall_ms()):
                self._taken_wall_ms[order.order_id] = self._wall_ms()

    def reveal(self) -> None:
        """Show every hidden order now (in-process tests, instead of waiting)."""
        for order in self.book.reveal(None):
            self._taken_wall_ms[order.order_id] = self._wall_ms()

    def _note_taken(self, method: str, path: str, body: object) -> None:
        """When each order was taken (wall clock), for ``lookup_lag_s``; and a look-up of an
        order younger than that answers as if it did not exist (eventual consistency)."""
        if not isinstance(body, dict) or "orderId" not in body:
            return
        order_id = int(body["orderId"])
        if (method, path) == _NEW_ORDER:
            self._taken_wall_ms[order_id] = self._wall_ms()
        elif (method, path) == _GET_ORDER and self.lookup_lag_s > 0:
            age_ms = self._wall_ms() - self._taken_wall_ms.get(order_id, 0)
            if age_ms < self.lookup_lag_s * 1000:
                raise bk.BinanceApiError(400, -2013, "Order does not exist.")

    def _route(self, method: str, path: str) -> tuple[bool, wire.Endpoint] | None:
        """``(signed, endpoint)`` serving ``method path``; None: no such endpoint."""
        if not path.startswith(_PUBLIC):
            return None
        name = path.removeprefix(_PUBLIC)
        if (method, name) == ("GET", "time"):
            return False, self._server_time
        return wire.ROUTES.get((method, name))

    def _server_time(self, book: bk.BinanceBook, params: dict[str, str]) -> dict[str, int]:
        """The server's clock, not the book's: it is what ``recvWindow`` is checked against
        (unless a skew was set with ``resync_fixes`` False: then the true wall clock)."""
        return {"serverTime": self._clock_ms() if self.skew_resync_fixes else self._wall_ms()}

    async def _fault_before(
        self, request: web.Request, fault: Fault, signed: bool
    ) -> web.StreamResponse | None:
        if fault.kind == "delay":
            return None  # the venue reads the request first, then takes its time (_serve)
        if fault.kind == "http_429":
            retry = str(max(1, round(fault.retry_after_s)))
            return _json(_TOO_MANY, 429, **{"Retry-After": retry})
        if fault.kind == "http_5xx":
            return _json(_BUSY if fault.status == 503 else _INTERNAL, fault.status)
        if fault.kind == "auth_revoked":
            return _json(_REVOKED.payload(), _REVOKED.status) if signed else None
        _reset(request)  # connection_reset
        return web.Response(status=500)  # never reaches the client: the socket is gone

    async def _fault_after(self, fault: Fault, body: object) -> web.Response:
        if fault.kind == "accept_then_timeout":
            await asyncio.sleep(fault.delay_s)  # the client's timeout fires first
            return _json(body)
        if fault.kind == "http_5xx_after_accept":
            return _json(_INTERNAL, fault.status)
        text = json.dumps(body)  # truncated_json
        return web.Response(text=text[: len(text) // 2], content_type="application/json")

    async def _admin(self, request: web.Request) -> web.Response:
        handlers = {
            ("POST", "/__faults"): self._admin_arm,
            ("DELETE", "/__faults"): self._admin_clear,
            ("POST", "/__admin/skew"): self._admin_skew,
            ("POST", "/__admin/consistency"): self._admin_consistency,
            ("GET", "/__admin/client_ids"): self._admin_client_ids,
            ("POST", "/__admin/tick"): self._admin_tick,
        }
        handler = handlers.get((request.method, request.path))
        if handler is None:
            return _json({"error": f"unknown admin route {request.method} {request.path}"}, 404)
        return await handler(request)

    async def _admin_arm(self, request: web.Request) -> web.Response:
        endpoint, fault = Fault.from_json(await request.json())
        self.faults.arm(endpoint, fault)
        return _json({"armed": endpoint, "kind": fault.kind})

    async def _admin_clear(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return _json({"cleared": True})

    async def _admin_skew(self, request: web.Request) -> web.Response:
        data = await request.json()
        if not isinstance(data, dict) or type(data.get("ms")) is not int:
            return _json({"error": 'POST /__admin/skew needs {"ms": <integer>}'}, 400)
        self.skew(data["ms"], resync_fixes=bool(data.get("resync_fixes", True)))
        return _json({"skew_ms": self.skew_ms, "resync_fixes": self.skew_resync_fixes})

    async def _admin_consistency(self, request: web.Request) -> web.Response:
        data = await request.json()
        self.lookup_lag_s = float(data.get("lookup_lag_s", 0.0))
        return _json({"lookup_lag_s": self.lookup_lag_s})

    async def _admin_client_ids(self, request: web.Request) -> web.Response:
        return _json({"client_ids_sent": self.client_ids_sent})

    async def _admin_tick(self, request: web.Request) -> web.Response:
        data = await request.json() if request.can_read_body else {}
        trades = self.tick(int(data.get("minutes", 1)))
        return _json({"now_ms": self.book.now_ms, "fills": len(trades)})

    # ------------------------------------------------------------ auth

    async def _params(self, request: web.Request, signed: bool) -> dict[str, str]:
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.text() if request.can_read_body else ""
        params = dict(request.query)
        if raw_body:
            params.update((k, str(v)) for k, v in (await request.post()).items())
        if signed:
            self._authenticate(request, params, raw_query, raw_body)
        return params

    def _authenticate(
        self, request: web.Request, params: dict[str, str], raw_query: str, raw_body: str
    ) -> None:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key.isalnum() or len(key) > 128:
            raise bk.BinanceApiError(401, -2014, "API-key format invalid.")
        if not hmac.compare_digest(key, self._key):
            raise _REVOKED
        signature = params.get("signature")
        if not signature:
            raise bk.mandatory("signature")
        # Binance signs totalParams: the query string followed by the body, minus signature.
        payload = _unsigned(raw_query) + _unsigned(raw_body)
        expected = hmac.new(self._secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise bk.BinanceApiError(400, -1022, "Signature for this request is not valid.")
        timestamp = params.get("timestamp", "")
        if not timestamp.isdigit():
            raise bk.mandatory("timestamp")
        window = int(params.get("recvWindow", "5000"))
        now = self._clock_ms()
        if int(timestamp) > now + 1000 or now - int(timestamp) > window:
            raise bk.BinanceApiError(
                400, -1021, "Timestamp for this request is outside of the recvWindow."
            )

    # ------------------------------------------------------------ endpoints


def _unsigned(raw: str) -> str:
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset, before any byte of a reply."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def serve(server: BinanceServer, args: argparse.Namespace, banner: str) -> None:
    """Run ``server`` on ``args.host:args.port`` until interrupted, after printing
    ``banner`` (the bound URL in place of ``{url}``) and the test credentials."""
    port = await server.start(args.host, args.port)
    print(banner.format(url=f"http://{args.host}:{port}"))
    print(f"  api key: {args.api_key}\n  secret:  {args.api_secret}  (test credentials)")
    sys.stdout.flush()  # a pipe is block-buffered: whoever waits for the banner gets it now
    try:
        await asyncio.Event().wait()  # until interrupted
    finally:
        await server.stop()


async def _serve(args: argparse.Namespace) -> None:
    wall = LiveClock()
    book = bk.BinanceBook(seed=args.seed, start_ms=wall.now_ns() // 1_000_000)
    server = BinanceServer(
        api_key=args.api_key, api_secret=args.api_secret, book=book, wall_clock=wall,
        follow_wall_clock=True,
    )  # fmt: skip
    symbols = ", ".join(f"{m.base}/{m.quote}" for m in book.markets.values())
    await serve(server, args, f"binance loopback on {{url}}  (symbols: {symbols})")


def arg_parser(prog: str, *, port: int) -> argparse.ArgumentParser:
    """The command line both loopback Binance servers take."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--api-key", default=TEST_API_KEY)
    parser.add_argument("--api-secret", default=TEST_API_SECRET)
    parser.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m quantbot.testing.binance --port N``: serve until interrupted."""
    args = arg_parser("python -m quantbot.testing.binance", port=8765).parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
