"""The loopback Binance itself, over plain HTTP: signing, Binance's refusals, the price path,
admin control and fault injection."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sys
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from quantbot.clock import SimClock
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.binance_book import DEFAULT_START_MS, BinanceBook

WALL_MS = 1_800_000_000_000


@pytest.fixture
def wall() -> SimClock:
    return SimClock(WALL_MS * 1_000_000)


@pytest.fixture
async def server(wall: SimClock) -> AsyncIterator[BinanceServer]:
    srv = BinanceServer(wall_clock=wall)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _signed(params: dict[str, Any], secret: str = TEST_API_SECRET) -> str:
    query = urlencode({"timestamp": WALL_MS, **params})
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def _call(
    http: aiohttp.ClientSession,
    server: BinanceServer,
    method: str,
    path: str,
    *,
    query: str = "",
    body: str | None = None,
    key: str | None = TEST_API_KEY,
) -> tuple[int, Any]:
    headers = {"X-MBX-APIKEY": key} if key is not None else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    url = f"{server.base_url}{path}" + (f"?{query}" if query else "")
    async with http.request(method, url, data=body, headers=headers) as reply:
        return reply.status, await reply.json(content_type=None)


async def test_a_correctly_signed_request_is_served(
    http: aiohttp.ClientSession, server: BinanceServer
) -> None:
    status, body = await _call(http, server, "GET", "/api/v3/account", query=_signed({}))

    assert status == 200
    assert {"asset": "USDT", "free": "100000.00000000", "locked": "0.00000000"} in body["balances"]


async def test_signature_covers_query_string_and_body_together(
    http: aiohttp.ClientSession, server: BinanceServer
) -> None:
    query = "symbol=BTCUSDT&side=BUY"
    rest = urlencode({"type": "MARKET", "quantity": "0.001", "timestamp": WALL_MS})
    signature = hmac.new(
        TEST_API_SECRET.encode(), (query + rest).encode(), hashlib.sha256
    ).hexdigest()

    status, body = await _call(
        http, server, "POST", "/api/v3/order", query=query, body=f"{rest}&signature={signature}"
    )

    assert status == 200 and body["status"] == "FILLED"
    assert [f["qty"] for f in body["fills"]] == ["0.00100000"]


@pytest.mark.parametrize(
    "case",
    [
        (TEST_API_KEY, "wrong-secret", 400, -1022),
        ("SomeoneElse0000000000000000000000000000000000000000000000000000", None, 401, -2015),
        ("", None, 401, -2014),
        (None, None, 401, -2014),
    ],
    ids=["bad-signature", "unknown-key", "empty-key", "no-key"],
)
async def test_bad_credentials_get_binances_refusal_and_nothing_is_done(
    http: aiohttp.ClientSession,
    server: BinanceServer,
    case: tuple[str | None, str | None, int, int],
) -> None:
    key, secret, status, code = case
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    body = _signed(order, secret or TEST_API_SECRET)

    got_status, got = await _call(http, server, "POST", "/api/v3/order", body=body, key=key)

    assert (got_status, got["code"]) == (status, code)
    assert server.book.orders == {}


async def test_a_timestamp_outside_the_recv_window_is_refused(
    http: aiohttp.ClientSession, server: BinanceServer, wall: SimClock
) -> None:
    wall.advance(6.0)  # the request below was signed 6 s ago; Binance's default window is 5 s

    status, body = await _call(http, server, "GET", "/api/v3/account", query=_signed({}))
    ok_status, _ = await _call(
        http, server, "GET", "/api/v3/account", query=_signed({"recvWindow": 10000})
    )

    assert (status, body["code"]) == (400, -1021)
    assert ok_status == 200


@pytest.mark.parametrize(
    ("resync_fixes", "reported_ms"), [(True, WALL_MS + 30_000), (False, WALL_MS)]
)
async def test_a_skewed_server_clock_refuses_the_wall_clock_and_tells_its_time_over_admin(
    http: aiohttp.ClientSession, server: BinanceServer, resync_fixes: bool, reported_ms: int
) -> None:
    skew = {"ms": 30_000, "resync_fixes": resync_fixes}
    async with http.post(f"{server.base_url}/__admin/skew", json=skew) as set_skew:
        assert set_skew.status == 200

    status, body = await _call(http, server, "GET", "/api/v3/account", query=_signed({}))
    _, told = await _call(http, server, "GET", "/api/v3/time", key=None)
    async with http.post(f"{server.base_url}/__admin/skew", json={"ms": "30s"}) as bad:
        assert bad.status == 400 and "integer" in (await bad.json())["error"]

    assert (status, body["code"]) == (400, -1021)  # signed on the wall clock: 30 s behind
    assert told == {"serverTime": reported_ms}
    server.skew(0)
    ok_status, _ = await _call(http, server, "GET", "/api/v3/account", query=_signed({}))
    assert ok_status == 200


@pytest.mark.parametrize(
    ("order", "code", "msg"),
    [
        ({"symbol": "DOGEUSDT", "quantity": "1"}, -1121, "Invalid symbol."),
        ({"quantity": "0.000015"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "0.00001"}, -1013, "Filter failure: NOTIONAL"),
        ({"type": "LIMIT", "price": "40000.001", "timeInForce": "GTC"}, -1013,
         "Filter failure: PRICE_FILTER"),
        ({"quantity": "50"}, -2010, "Account has insufficient balance for requested action."),
        ({"newClientOrderId": "has spaces"}, -1100, None),
        ({"quantity": ""}, -1102, None),
    ],
)  # fmt: skip
async def test_orders_are_refused_with_binances_codes(
    http: aiohttp.ClientSession,
    server: BinanceServer,
    order: dict[str, str],
    code: int,
    msg: str | None,
) -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", **order}

    status, body = await _call(http, server, "POST", "/api/v3/order", body=_signed(params))

    assert (status, body["code"]) == (400, code)
    assert msg is None or body["msg"] == msg
    assert server.book.orders == {}


async def test_client_id_is_unique_among_open_orders_only(
    http: aiohttp.ClientSession, server: BinanceServer
) -> None:
    bid = server.book.bid_ask("BTCUSDT")[0]
    resting = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
               "quantity": "0.001", "price": f"{bid - 100}",
               "newClientOrderId": "same"}  # fmt: skip
    market = {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01",
              "newClientOrderId": "reused"}  # fmt: skip

    first = await _call(http, server, "POST", "/api/v3/order", body=_signed(resting))
    duplicate = await _call(http, server, "POST", "/api/v3/order", body=_signed(resting))
    filled = await _call(http, server, "POST", "/api/v3/order", body=_signed(market))
    again = await _call(http, server, "POST", "/api/v3/order", body=_signed(market))

    assert first[0] == 200 and first[1]["status"] == "NEW"
    assert duplicate == (400, {"code": -2010, "msg": "Duplicate order sent."})
    # Binance accepts a client id again once its order is no longer open.
    assert filled[1]["status"] == again[1]["status"] == "FILLED"
    assert len(server.book.orders) == 3


async def test_klines_end_with_the_forming_candle_and_a_tick_closes_it(
    http: aiohttp.ClientSession, server: BinanceServer
) -> None:
    query = "symbol=BTCUSDT&interval=1m&limit=3"

    _, before = await _call(http, server, "GET", "/api/v3/klines", query=query)
    fills = server.tick(1)
    _, after = await _call(http, server, "GET", "/api/v3/klines", query=query)

    assert [k[0] for k in before] == [DEFAULT_START_MS + i * 60_000 for i in (-2, -1, 0)]
    assert before[-1][1] == before[-1][2] == before[-1][3] == before[-1][4]  # nothing traded yet
    assert before[-1][5] == "0.00000000"
    assert [k[0] for k in after] == [DEFAULT_START_MS + i * 60_000 for i in (-1, 0, 1)]
    assert after[1][1] == before[-1][1] and after[1][5] != "0.00000000"
    assert fills == []


def test_the_price_path_is_seeded() -> None:
    same = [BinanceBook(seed=3, history_minutes=50) for _ in range(2)]
    other = BinanceBook(seed=4, history_minutes=50)

    closes = [[k.close for k in b.klines["ETHUSDT"]] for b in [*same, other]]

    assert closes[0] == closes[1] != closes[2]
    assert all(k.low <= min(k.open, k.close) <= max(k.open, k.close) <= k.high
               for k in same[0].klines["ETHUSDT"])  # fmt: skip


async def test_faults_and_ticks_are_controllable_over_http(
    http: aiohttp.ClientSession, server: BinanceServer
) -> None:
    fault = {"endpoint": "GET /api/v3/ping", "kind": "http_429", "retry_after_s": 3, "times": 2}
    async with http.post(f"{server.base_url}/__faults", json=fault) as armed:
        assert armed.status == 200
    async with http.get(f"{server.base_url}/api/v3/ping") as refused:
        assert (refused.status, refused.headers["Retry-After"]) == (429, "3")
    async with http.delete(f"{server.base_url}/__faults") as cleared:
        assert cleared.status == 200
    async with http.get(f"{server.base_url}/api/v3/ping") as served:
        assert served.status == 200
    async with http.post(f"{server.base_url}/__admin/tick", json={"minutes": 5}) as ticked:
        assert (await ticked.json())["now_ms"] == DEFAULT_START_MS + 5 * 60_000

    assert server.faults.fired == [("GET /api/v3/ping", "http_429")]
    assert server.requests == ["GET /api/v3/ping", "GET /api/v3/ping"]


async def test_connection_reset_drops_the_connection_without_a_reply(
    http: aiohttp.ClientSession, server: BinanceServer
) -> None:
    async with http.post(
        f"{server.base_url}/__faults",
        json={"endpoint": "GET /api/v3/exchangeInfo", "kind": "connection_reset", "times": 0},
    ):
        pass

    # times=0 (until cleared): aiohttp retries a GET once on a dropped keep-alive connection.
    with pytest.raises(aiohttp.ClientConnectionError):
        await _call(http, server, "GET", "/api/v3/exchangeInfo")
    assert ("GET /api/v3/exchangeInfo", "connection_reset") in server.faults.fired


async def test_runs_by_hand_with_python_dash_m() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quantbot.testing.binance", "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        url = banner.split()[3]
        async with aiohttp.ClientSession() as http, http.get(f"{url}/api/v3/time") as reply:
            served = await reply.json()
    finally:
        proc.terminate()
        await proc.wait()

    assert banner.startswith("binance loopback on http://127.0.0.1:")
    assert served["serverTime"] > DEFAULT_START_MS
