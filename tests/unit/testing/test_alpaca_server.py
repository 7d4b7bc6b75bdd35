"""The loopback Alpaca on the wire: what a client (any client) sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest

from quantbot.clock import SimClock
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.alpaca_book import NS_PER_MIN, AlpacaBook
from quantbot.testing.faults import Fault

AUTH = {"APCA-API-KEY-ID": TEST_KEY, "APCA-API-SECRET-KEY": TEST_SECRET}


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        async with self.session.request(
            method, self.url + path, headers=AUTH if headers is None else headers, **kw
        ) as response:
            body = await response.json() if response.content_length != 0 else None
            return response.status, body, response


WALL_NS = 1_709_294_400 * 1_000_000_000  # 2024-03-01 12:00:00 UTC: stamps the 429 headers


@pytest.fixture
async def server() -> AsyncIterator[AlpacaServer]:
    s = AlpacaServer(wall_clock=SimClock(WALL_NS))
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def client(server: AlpacaServer) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, f"http://127.0.0.1:{server.port}")


def order(cid: str, **fields: Any) -> dict[str, Any]:
    body = {"symbol": "AAPL", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day"}
    return {**body, "client_order_id": cid, **fields}


async def test_wrong_or_missing_credentials_get_alpacas_401(client: Client) -> None:
    wrong = {**AUTH, "APCA-API-SECRET-KEY": "nope"}
    for headers in (wrong, {}):
        status, body, _ = await client.call("GET", "/v2/account", headers=headers)
        assert (status, body) == (401, {"code": 40110000, "message": "request is not authorized"})


async def test_a_client_order_id_is_accepted_once(client: Client, server: AlpacaServer) -> None:
    status, first, _ = await client.call("POST", "/v2/orders", json=order("c-1"))
    assert status == 200 and first["client_order_id"] == "c-1" and first["qty"] == "2"

    status, body, _ = await client.call("POST", "/v2/orders", json=order("c-1"))

    assert (status, body) == (422, {"code": 40010001, "message": "client_order_id must be unique"})
    assert len(server.book.orders) == 1


REFUSALS = [
    ({"symbol": "ZZZZ"}, 422, 40010001, 'asset "ZZZZ" not found'),
    ({"qty": "100000"}, 403, 40310000, "insufficient buying power"),
    ({"qty": "1.5"}, 422, 40010001, "whole number"),
    ({"type": "limit", "limit_price": "150.001"}, 422, 42210000, "sub-penny"),  # Alpaca docs
    ({"time_in_force": "fok"}, 422, 40010001, "time_in_force"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c[3] for c in REFUSALS])
async def test_refused_orders_get_alpacas_status_and_code(
    client: Client, server: AlpacaServer, case: tuple[dict[str, str], int, int, str]
) -> None:
    fields, status, code, words = case

    got, body, _ = await client.call("POST", "/v2/orders", json=order("r-1", **fields))

    assert (got, body["code"]) == (status, code)
    assert words in body["message"]
    assert server.book.orders == {}


async def test_unknown_asset_and_order_are_404(client: Client) -> None:
    status, body, _ = await client.call("GET", "/v2/assets/ZZZZ")
    assert (status, body["code"]) == (404, 40410000)
    status, body, _ = await client.call(
        "GET", "/v2/orders:by_client_order_id", params={"client_order_id": "none"}
    )
    assert (status, body["code"]) == (404, 40410000)


async def test_cancel_all_is_a_207_naming_each_order_and_its_failure(
    client: Client, server: AlpacaServer
) -> None:
    _, ok, _ = await client.call("POST", "/v2/orders", json=order("k-1"))
    _, stuck, _ = await client.call("POST", "/v2/orders", json=order("k-2"))
    server.refuse_cancel("k-2")

    status, rows, _ = await client.call("DELETE", "/v2/orders")

    assert status == 207
    by_id = {row["id"]: row for row in rows}
    assert by_id[ok["id"]]["status"] == 200
    assert by_id[ok["id"]]["body"]["status"] == "canceled"
    assert by_id[stuck["id"]]["status"] == 422
    assert by_id[stuck["id"]]["body"]["code"] == 42210000


async def test_tick_closes_the_forming_bar_and_fills_a_market_order_at_its_open(
    client: Client, server: AlpacaServer
) -> None:
    forming = server.book.forming["AAPL"]
    _, sent, _ = await client.call("POST", "/v2/orders", json=order("t-1"))

    status, clock, _ = await client.call("POST", "/__admin/tick", json={"minutes": 1})

    assert status == 200 and clock["is_open"] is True
    assert server.now_ns == forming.t + NS_PER_MIN
    _, filled, _ = await client.call("GET", f"/v2/orders/{sent['id']}")
    assert (filled["status"], filled["filled_avg_price"]) == ("filled", str(forming.o))
    _, fills, _ = await client.call("GET", "/v2/account/activities/FILL")
    assert [(f["order_id"], f["qty"], f["type"]) for f in fills] == [(sent["id"], "2", "fill")]
    assert fills[0]["id"].startswith("20240102143100000::")
    _, positions, _ = await client.call("GET", "/v2/positions")
    assert [(p["symbol"], p["qty"], p["side"]) for p in positions] == [("AAPL", "2", "long")]


async def test_bars_include_the_forming_bar_and_page(client: Client, server: AlpacaServer) -> None:
    params = {"symbols": "AAPL", "timeframe": "1Min", "limit": "100"}

    _, first, _ = await client.call("GET", "/v2/stocks/bars", params=params)
    _, second, _ = await client.call(
        "GET", "/v2/stocks/bars", params={**params, "page_token": first["next_page_token"]}
    )

    bars = first["bars"]["AAPL"] + second["bars"]["AAPL"]
    assert len(bars) == 121 and second["next_page_token"] is None  # 120 closed + forming
    assert bars[-1]["o"] == float(server.book.forming["AAPL"].o)


async def test_market_closed_stops_bars_and_fills(client: Client, server: AlpacaServer) -> None:
    _, sent, _ = await client.call("POST", "/v2/orders", json=order("cl-1"))
    status, clock, _ = await client.call("POST", "/__admin/clock", json={"is_open": False})
    assert status == 200 and clock["is_open"] is False

    server.tick(5)

    _, after, _ = await client.call("GET", f"/v2/orders/{sent['id']}")
    assert after["status"] == "new" and server.book.forming == {}
    _, clock, _ = await client.call("GET", "/v2/clock")
    assert clock["is_open"] is False


async def test_faults_armed_over_http_fire_once_then_clear(
    client: Client, server: AlpacaServer
) -> None:
    arm = {"endpoint": "GET /v2/account", "kind": "http_429", "retry_after_s": 4}
    status, _, _ = await client.call("POST", "/__faults", json=arm)
    assert status == 200

    status, body, response = await client.call("GET", "/v2/account")
    # Alpaca's 429: no Retry-After; the window reopens at X-RateLimit-Reset (beside Date)
    headers = response.headers
    wait = int(headers["X-RateLimit-Reset"]) - parsedate_to_datetime(headers["Date"]).timestamp()
    assert (status, wait, body["code"]) == (429, 4, 42910000)
    assert headers["Date"] == "Fri, 01 Mar 2024 12:00:00 GMT"  # the injected wall clock
    assert "Retry-After" not in headers
    status, _, _ = await client.call("GET", "/v2/account")
    assert status == 200
    assert server.count("GET /v2/account") == 2


async def test_auth_revoked_holds_on_every_endpoint_until_faults_are_cleared(
    client: Client,
) -> None:
    await client.call(
        "POST", "/__faults", json={"endpoint": "GET /v2/clock", "kind": "auth_revoked"}
    )

    for path in ("/v2/clock", "/v2/account", "/v2/positions"):
        status, body, _ = await client.call("GET", path)
        assert (status, body["code"]) == (401, 40110000)
    await client.call("DELETE", "/__faults")
    status, _, _ = await client.call("GET", "/v2/account")
    assert status == 200


async def test_connection_reset_answers_nothing_and_does_nothing(
    client: Client, server: AlpacaServer
) -> None:
    server.faults.arm("POST /v2/orders", Fault("connection_reset"))

    with pytest.raises(aiohttp.ClientError):
        await client.call("POST", "/v2/orders", json=order("x-1"))
    assert server.book.orders == {}


async def test_truncated_json_does_the_work_and_cuts_the_reply(
    client: Client, server: AlpacaServer
) -> None:
    server.faults.arm("POST /v2/orders", Fault("truncated_json"))

    with pytest.raises(ValueError):
        await client.call("POST", "/v2/orders", json=order("x-2"))
    assert server.book.order_by_client_id("x-2").status == "new"


def test_the_same_seed_gives_the_same_prices_and_another_seed_does_not() -> None:
    def closes(seed: int) -> list[Decimal]:
        book = AlpacaBook(start_ns=0, seed=seed)
        book.tick(10)
        return [b.c for b in book.bars["AAPL"]]

    assert closes(1) == closes(1)
    assert closes(1) != closes(2)


async def test_the_session_close_expires_day_orders_but_not_gtc(
    client: Client, server: AlpacaServer
) -> None:
    far = {"type": "limit", "limit_price": "1.00"}
    _, day, _ = await client.call("POST", "/v2/orders", json=order("d-1", **far))
    _, gtc, _ = await client.call(
        "POST", "/v2/orders", json=order("g-1", **far, time_in_force="gtc")
    )

    server.tick(390)  # 09:30 to 16:00

    _, clock, _ = await client.call("GET", "/v2/clock")
    assert clock["is_open"] is False
    _, d, _ = await client.call("GET", f"/v2/orders/{day['id']}")
    _, g, _ = await client.call("GET", f"/v2/orders/{gtc['id']}")
    assert (d["status"], g["status"]) == ("expired", "new")
    assert d["expired_at"] == "2024-01-02T21:00:00.000000000Z"


def _utc_ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("start", "minutes", "next_open", "next_close"),
    [
        # The 13:00 early close before Independence Day; the 4th has no session.
        ("2024-07-03T16:30", 30, "2024-07-05T13:30:00", "2024-07-05T20:00:00"),
        # Friday's close in EST, Monday's open in EDT (daylight-saving time began Sunday).
        ("2024-03-08T20:30", 30, "2024-03-11T13:30:00", "2024-03-11T20:00:00"),
        # Thanksgiving Wednesday to the Friday's 13:00 early close.
        ("2024-11-27T20:30", 30, "2024-11-29T14:30:00", "2024-11-29T18:00:00"),
    ],
)
async def test_the_clock_closes_and_reopens_as_new_yorks_calendar_says(
    start: str, minutes: int, next_open: str, next_close: str
) -> None:
    server = AlpacaServer(AlpacaBook(start_ns=_utc_ns(start)))
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}")
            server.tick(minutes - 1)
            _, clock, _ = await client.call("GET", "/v2/clock")
            assert clock["is_open"] is True
            server.tick(1)
            _, clock, _ = await client.call("GET", "/v2/clock")
            assert clock["is_open"] is False
            assert clock["next_open"] == f"{next_open}.000000000Z"
            assert clock["next_close"] == f"{next_close}.000000000Z"
            server.tick((_utc_ns(next_open) - server.now_ns) // NS_PER_MIN)
            _, clock, _ = await client.call("GET", "/v2/clock")
            assert clock["is_open"] is True
            assert clock["next_close"] == f"{next_close}.000000000Z"
    finally:
        await server.stop()


async def test_the_calendar_lists_market_days_with_their_hours(client: Client) -> None:
    status, days, _ = await client.call(
        "GET", "/v2/calendar", params={"start": "2024-07-02", "end": "2024-07-08"}
    )
    assert status == 200
    assert [(d["date"], d["open"], d["close"]) for d in days] == [
        ("2024-07-02", "09:30", "16:00"),
        ("2024-07-03", "09:30", "13:00"),
        ("2024-07-05", "09:30", "16:00"),
        ("2024-07-08", "09:30", "16:00"),
    ]
    status, _, _ = await client.call("GET", "/v2/calendar", params={"start": "July 2nd"})
    assert status == 422
