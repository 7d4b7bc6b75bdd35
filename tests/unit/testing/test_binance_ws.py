"""The loopback Binance kline stream over a plain websocket client: Binance's subscribe
protocol, the events a tick pushes, admin control and fault injection."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from quantbot.testing.binance_book import MINUTE_MS, BinanceBook
from quantbot.testing.binance_ws import HANDSHAKE, PUSH, BinanceWsServer
from quantbot.testing.faults import Fault

BTC = "btcusdt@kline_1m"


@pytest.fixture
async def server() -> AsyncIterator[BinanceWsServer]:
    srv = BinanceWsServer(BinanceBook())
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 5)  # a safety net: replies are immediate
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def subscribe(ws: aiohttp.ClientWebSocketResponse, *streams: str) -> dict[str, Any]:
    await ws.send_json({"method": "SUBSCRIBE", "params": list(streams), "id": 1})
    return await receive(ws)


async def test_a_subscription_is_acknowledged_then_hears_the_forming_candle(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{server.ws_url}/0") as ws:
        assert await subscribe(ws, BTC) == {"result": None, "id": 1}
        event = await receive(ws)

    forming = server.book.forming("BTCUSDT")
    assert event["e"] == "kline" and event["s"] == "BTCUSDT"
    assert event["k"]["t"] == forming.open_ms
    assert event["k"]["T"] == forming.open_ms + MINUTE_MS - 1
    assert (event["k"]["i"], event["k"]["x"]) == ("1m", False)
    assert event["k"]["c"] == f"{forming.close:.8f}"


async def test_a_tick_pushes_each_closed_candle_once_then_the_forming_one(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{server.ws_url}/0") as ws:
        await subscribe(ws, BTC)
        await receive(ws)  # the forming candle at subscription
        await server.tick(2)
        events = [await receive(ws) for _ in range(3)]
        await server.push()  # nothing closed since: only the forming candle again
        again = await receive(ws)

    closed = server.book.klines["BTCUSDT"][-2:]
    assert [(e["k"]["t"], e["k"]["x"]) for e in events] == [
        (closed[0].open_ms, True), (closed[1].open_ms, True),
        (server.book.forming("BTCUSDT").open_ms, False),
    ]  # fmt: skip
    k = events[1]["k"]
    assert (k["o"], k["h"], k["l"], k["c"], k["v"]) == tuple(
        f"{x:.8f}" for x in (closed[1].open, closed[1].high, closed[1].low, closed[1].close,
                             closed[1].volume)
    )  # fmt: skip
    assert (again["k"]["t"], again["k"]["x"]) == (server.book.forming("BTCUSDT").open_ms, False)


async def test_unsubscribing_stops_the_events_and_listing_shows_what_is_left(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{server.ws_url}/0") as ws:
        await subscribe(ws, BTC, "ethusdt@kline_1m")
        for _ in range(2):
            await receive(ws)  # the forming candles of both
        await ws.send_json({"method": "UNSUBSCRIBE", "params": [BTC], "id": 2})
        assert await receive(ws) == {"result": None, "id": 2}
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
        assert await receive(ws) == {"result": ["ethusdt@kline_1m"], "id": 3}
        await server.tick()
        symbols = {(await receive(ws))["s"] for _ in range(2)}
    assert symbols == {"ETHUSDT"}


async def test_bad_requests_are_refused_in_binances_shape_and_subscribe_nothing(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{server.ws_url}/0") as ws:
        unknown = await subscribe(ws, "dogeusdt@kline_1m")
        interval = await subscribe(ws, "btcusdt@kline_5m")
        await ws.send_json({"method": "PING", "id": 9})
        method = await receive(ws)
        await ws.send_str("{not json")
        garbage = await receive(ws)

    assert unknown["error"]["code"] == 2 and "dogeusdt" in unknown["error"]["msg"]
    assert interval["error"]["code"] == 2 and unknown["id"] == 1
    assert method["error"]["code"] == 2 and method["id"] == 9
    assert garbage["error"]["code"] == 3
    assert server.subscriptions == []


async def test_a_raw_stream_path_subscribes_at_connect(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{server.ws_url}/{BTC}") as ws:
        event = await receive(ws)
    assert (event["s"], event["k"]["x"]) == ("BTCUSDT", False)


async def test_a_reset_push_drops_the_connection_and_its_events(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(f"{server.ws_url}/0") as ws:
        await subscribe(ws, BTC)
        await receive(ws)
        server.faults.arm(PUSH, Fault("connection_reset"))
        await server.tick()
        msg = await asyncio.wait_for(ws.receive(), 5)

    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)  # no event came
    assert server.subscriptions == []
    assert server.faults.fired == [(PUSH, "connection_reset")]


async def test_handshake_faults_refuse_the_upgrade_over_http(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"http://127.0.0.1:{server.port}/__faults",
        json={"endpoint": HANDSHAKE, "kind": "http_429", "retry_after_s": 3},
    ) as armed:
        assert armed.status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(f"{server.ws_url}/0")
    async with http.ws_connect(f"{server.ws_url}/0"):
        pass  # the fault fired once and is gone

    assert refused.value.status == 429
    assert refused.value.headers is not None and refused.value.headers["Retry-After"] == "3"
    assert server.handshakes == 1


async def test_admin_refuses_fault_kinds_a_stream_cannot_show_and_ticks_over_http(
    server: BinanceWsServer, http: aiohttp.ClientSession
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    async with http.post(
        f"{base}/__faults", json={"endpoint": PUSH, "kind": "truncated_json"}
    ) as refused:
        assert refused.status == 400
    before = server.book.forming("BTCUSDT").open_ms
    async with http.ws_connect(f"{server.ws_url}/0") as ws:
        await subscribe(ws, BTC)
        await receive(ws)
        async with http.post(f"{base}/__admin/tick", json={"minutes": 1}) as ticked:
            assert ticked.status == 200
        closed = await receive(ws)

    assert (closed["k"]["t"], closed["k"]["x"]) == (before, True)
    assert server.faults.fired == []


async def test_runs_by_hand_with_python_dash_m_serving_rest_and_the_stream() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quantbot.testing.binance_ws", "--port", "0", "--ws-port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        rest_line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        ws_line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{rest_line.split()[-1]}/api/v3/time") as reply:
                served = await reply.json()
            async with http.ws_connect(f"{ws_line.split()[-1]}/0") as ws:
                ack = await subscribe(ws, BTC)
                event = await receive(ws)
    finally:
        proc.terminate()
        await proc.wait()

    assert "serverTime" in served
    assert ack == {"result": None, "id": 1}
    assert event["e"] == "kline"
