"""The loopback Binance USD-M futures over plain HTTP: the margin account (leverage, long and
short positions, margin checks), Binance's futures refusals, trade windows, admin control."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import sys
from collections.abc import AsyncIterator
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from quantbot.clock import SimClock
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET
from quantbot.testing.binance_book import DEFAULT_START_MS, q8
from quantbot.testing.binance_futures import BinanceFuturesServer
from quantbot.testing.binance_futures_book import FuturesBook

WALL_MS = 1_800_000_000_000
DAY_MS = 24 * 60 * 60 * 1000


@pytest.fixture
def wall() -> SimClock:
    return SimClock(WALL_MS * 1_000_000)


@pytest.fixture
def book() -> FuturesBook:
    return FuturesBook()


@pytest.fixture
async def server(wall: SimClock, book: FuturesBook) -> AsyncIterator[BinanceFuturesServer]:
    srv = BinanceFuturesServer(wall_clock=wall, book=book)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Client:
    """Signed fapi calls the way ccxt makes them (query for GET/DELETE, body for POST)."""

    def __init__(self, http: aiohttp.ClientSession, server: BinanceFuturesServer) -> None:
        self.http, self.server = http, server

    async def call(
        self, method: str, path: str, params: dict[str, Any] | None = None, *, signed: bool = True,
        secret: str = TEST_API_SECRET,
    ) -> tuple[int, Any]:  # fmt: skip
        query = urlencode({**(params or {}), **({"timestamp": WALL_MS} if signed else {})})
        if signed:
            digest = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            query += f"&signature={digest}"
        headers = {"X-MBX-APIKEY": TEST_API_KEY}
        url = f"{self.server.base_url}{path}"
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            request = self.http.request(method, url, data=query, headers=headers)
        else:
            request = self.http.request(method, f"{url}?{query}", headers=headers)
        async with request as reply:
            return reply.status, await reply.json(content_type=None)

    async def order(self, symbol: str, side: str, qty: str, **extra: str) -> tuple[int, Any]:
        params = {"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty, **extra}
        if "price" in extra:
            params.update(type="LIMIT", timeInForce="GTC")
        return await self.call("POST", "/fapi/v1/order", params)


@pytest.fixture
def client(http: aiohttp.ClientSession, server: BinanceFuturesServer) -> Client:
    return Client(http, server)


async def test_exchange_info_lists_usdm_perpetuals_with_binances_filters(client: Client) -> None:
    status, info = await client.call("GET", "/fapi/v1/exchangeInfo", signed=False)

    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert status == 200
    assert (btc["contractType"], btc["marginAsset"], btc["status"]) == ("PERPETUAL", "USDT",
                                                                         "TRADING")  # fmt: skip
    assert (filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]) == (
        "0.10",
        "0.001",
    )
    assert filters["MIN_NOTIONAL"]["notional"] == "100"


async def test_leverage_is_set_per_symbol_and_never_above_its_maximum(
    client: Client, book: FuturesBook
) -> None:
    _, brackets = await client.call("GET", "/fapi/v1/leverageBracket")
    ok = await client.call("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 20})
    too_much = await client.call("POST", "/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": 11})

    assert {b["symbol"]: b["brackets"][0]["initialLeverage"] for b in brackets} == {
        "BTCUSDT": 20, "ETHUSDT": 10, "SOLUSDT": 10,
    }  # fmt: skip
    assert ok == (200, {"leverage": 20, "maxNotionalValue": "2500000", "symbol": "BTCUSDT"})
    assert too_much == (400, {"code": -4028, "msg": "Leverage 11 is not valid"})
    assert book.leverage["BTCUSDT"] == 20 and book.leverage["ETHUSDT"] == 10


async def test_a_long_flips_short_realising_pnl_and_paying_commission_from_the_wallet(
    client: Client, server: BinanceFuturesServer, book: FuturesBook
) -> None:
    buy_at = book.bid_ask("BTCUSDT")[1]
    await client.order("BTCUSDT", "BUY", "0.010")
    server.tick(30)
    sell_at = book.bid_ask("BTCUSDT")[0]

    _, flipped = await client.order("BTCUSDT", "SELL", "0.030")
    _, risk = await client.call("GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"})
    _, trades = await client.call("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})

    realized = q8((sell_at - buy_at) * Decimal("0.01"))
    fees = q8(buy_at * Decimal("0.01") * Decimal("0.0004")) + q8(
        sell_at * Decimal("0.03") * Decimal("0.0004")
    )
    assert flipped["status"] == "FILLED" and flipped["positionSide"] == "BOTH"
    assert [(r["positionAmt"], Decimal(r["entryPrice"])) for r in risk] == [("-0.020", sell_at)]
    assert [Decimal(t["realizedPnl"]) for t in trades] == [0, realized]
    assert book.wallet == Decimal(100_000) + realized - fees


async def test_margin_must_fit_the_available_balance_and_reducing_needs_none(
    client: Client, book: FuturesBook
) -> None:
    book.wallet = Decimal(1000)
    await client.call("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 1})
    price = book.bid_ask("BTCUSDT")[1]
    qty = (Decimal(990) / price).quantize(Decimal("0.001"), ROUND_DOWN)  # nearly all at 1x

    refused = await client.order("BTCUSDT", "BUY", "0.030")  # ~1200 USDT of margin at 1x
    opened = await client.order("BTCUSDT", "BUY", f"{qty}")
    more = await client.order("BTCUSDT", "BUY", "0.003")  # above the little that is left
    closed = await client.order("BTCUSDT", "SELL", f"{qty}")

    assert refused == (400, {"code": -2019, "msg": "Margin is insufficient."})
    assert opened[1]["status"] == "FILLED"
    assert more[0] == 400 and more[1]["code"] == -2019
    assert closed[1]["status"] == "FILLED"
    assert book.positions == {}


async def test_a_resting_order_holds_margin_until_it_is_cancelled(
    client: Client, book: FuturesBook
) -> None:
    _, before = await client.call("GET", "/fapi/v3/account")
    _, resting = await client.order("ETHUSDT", "BUY", "1.000", price="1000.00")
    _, holding = await client.call("GET", "/fapi/v3/account")
    _, canceled = await client.call(
        "DELETE", "/fapi/v1/order", {"symbol": "ETHUSDT", "orderId": resting["orderId"]}
    )
    _, after = await client.call("GET", "/fapi/v3/account")

    margin = Decimal(1000) / book.leverage["ETHUSDT"]
    assert resting["status"] == "NEW" and canceled["status"] == "CANCELED"
    assert Decimal(holding["totalOpenOrderInitialMargin"]) == margin
    assert Decimal(holding["availableBalance"]) == Decimal(before["availableBalance"]) - margin
    assert after["availableBalance"] == before["availableBalance"]
    assert after["assets"][0]["walletBalance"] == before["assets"][0]["walletBalance"]


@pytest.mark.parametrize(
    ("order", "code"),
    [
        ({"quantity": "0.0015"}, -1111),
        ({"type": "LIMIT", "timeInForce": "GTC", "price": "30000.05"}, -4014),
        ({"quantity": "0.001"}, -4164),
        ({"symbol": "DOGEUSDT"}, -1121),
        ({"side": "BOTH"}, -1102),
    ],
    ids=["precision", "tick", "notional", "symbol", "side"],
)
async def test_orders_are_refused_with_the_futures_apis_codes(
    client: Client, book: FuturesBook, order: dict[str, str], code: int
) -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010", **order}

    status, body = await client.call("POST", "/fapi/v1/order", params)

    assert (status, body["code"]) == (400, code)
    assert book.orders == {}


async def test_a_client_id_is_unique_among_open_orders(client: Client) -> None:
    first = await client.order("ETHUSDT", "BUY", "0.100", price="1000.00", newClientOrderId="x")
    again = await client.order("ETHUSDT", "BUY", "0.100", price="1000.00", newClientOrderId="x")

    assert first[1]["clientOrderId"] == "x"
    assert again == (400, {"code": -4116, "msg": "ClientOrderId is duplicated."})


async def test_cancel_all_answers_with_a_code_and_leaves_nothing_open(client: Client) -> None:
    for price in ("1000.00", "1001.00"):
        await client.order("ETHUSDT", "BUY", "0.100", price=price)

    status, body = await client.call("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "ETHUSDT"})
    _, still = await client.call("GET", "/fapi/v1/openOrders", {"symbol": "ETHUSDT"})

    assert (status, body["code"]) == (200, 200)
    assert still == []


async def test_user_trades_are_read_in_windows_of_at_most_seven_days(
    client: Client, server: BinanceFuturesServer
) -> None:
    await client.order("SOLUSDT", "BUY", "1")
    first_ms = server.book.trades[-1].time_ms
    server.book.advance_to(first_ms + 8 * DAY_MS)
    await client.order("SOLUSDT", "SELL", "1")

    def ids(reply: tuple[int, Any]) -> list[int]:
        return [t["id"] for t in reply[1]]

    start = {"symbol": "SOLUSDT", "startTime": first_ms}
    from_start = await client.call("GET", "/fapi/v1/userTrades", start)
    latest = await client.call("GET", "/fapi/v1/userTrades", {"symbol": "SOLUSDT"})
    too_long = await client.call(
        "GET", "/fapi/v1/userTrades", {**start, "endTime": first_ms + 8 * DAY_MS}
    )

    assert ids(from_start) == [1]  # 7 days from the start: the second is later
    assert ids(latest) == [2]  # neither bound: the last 7 days
    assert too_long == (400, {"code": -1127, "msg": "More than 7 days between startTime and "
                                                    "endTime."})  # fmt: skip


async def test_signed_futures_endpoints_check_the_signature(client: Client) -> None:
    status, body = await client.call("GET", "/fapi/v3/account", secret="not-the-secret")

    assert (status, body["code"]) == (400, -1022)


async def test_faults_time_and_unknown_paths_over_http(
    http: aiohttp.ClientSession, client: Client, server: BinanceFuturesServer
) -> None:
    fault = {"endpoint": "POST /fapi/v1/order", "kind": "http_429", "retry_after_s": 2}
    async with http.post(f"{server.base_url}/__faults", json=fault):
        pass

    refused = await client.order("BTCUSDT", "BUY", "0.010")
    served = await client.order("BTCUSDT", "BUY", "0.010")
    _, clock = await client.call("GET", "/fapi/v1/time", signed=False)
    spot_path = await client.call("GET", "/api/v3/ping", signed=False)

    assert refused[0] == 429 and served[1]["status"] == "FILLED"
    assert server.faults.fired == [("POST /fapi/v1/order", "http_429")]
    assert clock == {"serverTime": WALL_MS}
    assert spot_path[0] == 404


async def test_runs_by_hand_with_python_dash_m() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quantbot.testing.binance_futures", "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        url = banner.split()[5]
        async with aiohttp.ClientSession() as http, http.get(f"{url}/fapi/v1/time") as reply:
            served = await reply.json()
    finally:
        proc.terminate()
        await proc.wait()

    assert banner.startswith("binance USD-M futures loopback on http://127.0.0.1:")
    assert "BTC/USDT:USDT" in banner
    assert served["serverTime"] > DEFAULT_START_MS
