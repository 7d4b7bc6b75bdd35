"""ccxt's exceptions, raised by the real client against the loopback server's faults, arrive
as quantbot's taxonomy; credentials never show in what is raised."""

from __future__ import annotations

from collections.abc import Callable

import ccxt
import pytest

from quantbot.domain.errors import (
    VenueAuthError,
    VenueBrokerState,
    VenueClockSkew,
    VenueConnectionError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueSchemaError,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.values import OrderStatus, SubmitOutcome
from quantbot.ops.errors import ErrorCategory, classify_exception
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt.errors import VenueDuplicateOrder, VenueOrderNotFound, translate
from quantbot.venues.ccxt.venue import CcxtVenue

from .conftest import intent

ORDER = "POST /api/v3/order"


def _secret_free(*objects: object) -> None:
    for obj in objects:
        for text in (str(obj), repr(obj)):
            assert TEST_API_SECRET not in text and TEST_API_KEY not in text, text


async def test_wrong_secret_fails_connect_with_auth_error_and_no_secret_in_sight(
    make_venue: Callable[..., CcxtVenue],
) -> None:
    venue = make_venue(secret="not-the-secret-" + "x" * 49)
    try:
        with pytest.raises(VenueAuthError) as caught:
            await venue.connect()
    finally:
        await venue.close()

    err = caught.value
    assert err.venue == "binance" and "-1022" in str(err)
    assert classify_exception(err, dependency="broker_submit").category is ErrorCategory.AUTH
    _secret_free(venue, err, err.__cause__, *err.args)
    assert "not-the-secret" not in str(err) + repr(err) + repr(venue)


async def test_unknown_key_fails_connect_with_auth_error(
    server: BinanceServer, make_venue: Callable[..., CcxtVenue]
) -> None:
    venue = make_venue()
    venue._exchange.apiKey = "SomeoneElsesKey0000000000000000000000000000000000000000000000000"
    try:
        with pytest.raises(VenueAuthError, match="-2015") as caught:
            await venue.connect()
    finally:
        await venue.close()
    _secret_free(venue, caught.value, caught.value.__cause__)


@pytest.mark.parametrize(
    ("fault", "expected", "order_exists"),
    [
        (Fault("http_5xx", status=503), VenueUnavailable, False),
        (Fault("http_5xx", status=502), VenueUnavailable, False),
        (Fault("http_5xx_after_accept", status=500), VenueUnavailable, True),
        (Fault("connection_reset"), VenueConnectionError, False),
        (Fault("truncated_json"), VenueSchemaError, True),
    ],
    ids=["503", "502", "500-after-accept", "reset", "truncated"],
)
async def test_submit_faults_map_to_the_taxonomy(
    venue: CcxtVenue,
    server: BinanceServer,
    fault: Fault,
    expected: type[VenueError],
    order_exists: bool,
) -> None:
    server.faults.arm(ORDER, fault)

    with pytest.raises(expected) as caught:
        await venue.submit(intent("qb-f1"))

    assert type(caught.value) is expected and caught.value.venue == "binance"
    assert server.faults.fired == [(ORDER, fault.kind)]
    assert bool(server.book.orders) is order_exists
    found = await venue.order_by_client_id("qb-f1")  # how the OMS resolves an UNKNOWN
    assert (found is not None) is order_exists


async def test_rate_limit_carries_retry_after_and_nothing_is_sent(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    server.faults.arm(ORDER, Fault("http_429", retry_after_s=7))

    with pytest.raises(VenueRateLimited) as caught:
        await venue.submit(intent("qb-r1"))

    assert (caught.value.status, caught.value.retry_after_s) == (429, 7.0)
    assert server.book.orders == {}


async def test_accept_then_timeout_is_a_timeout_and_the_order_exists(
    make_venue: Callable[..., CcxtVenue], server: BinanceServer
) -> None:
    venue = make_venue(timeout_s=0.3)
    await venue.connect()
    server.faults.arm(ORDER, Fault("accept_then_timeout", delay_s=5))
    try:
        with pytest.raises(VenueTimeout):
            await venue.submit(intent("qb-t1"))
        found = await venue.order_by_client_id("qb-t1")
    finally:
        await venue.close()

    assert found is not None and found.status is OrderStatus.FILLED
    assert [o.cid for o in server.book.orders.values()] == ["qb-t1"]


async def test_short_delay_within_the_timeout_is_just_slow(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    server.faults.arm(ORDER, Fault("delay", delay_s=0.05))

    result = await venue.submit(intent("qb-slow"))

    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_revoked_key_after_a_working_session_is_auth_not_a_rate_limit(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    # ccxt reports Binance's -2015 as DDoSProtection once a key has worked; a revoked key
    # must still halt (AUTH), not be retried as a rate limit.
    server.faults.arm("*", Fault("auth_revoked", times=0))

    with pytest.raises(VenueAuthError) as caught:
        await venue.submit(intent("qb-x1"))
    with pytest.raises(VenueAuthError):
        await venue.positions()

    assert isinstance(caught.value.__cause__, ccxt.DDoSProtection)
    _secret_free(venue, caught.value)


async def test_insufficient_balance_is_broker_state(venue: CcxtVenue) -> None:
    with pytest.raises(VenueBrokerState, match="insufficient balance"):
        await venue.submit(intent("qb-big", "100"))


async def test_min_notional_refusal_is_rejected(venue: CcxtVenue) -> None:
    with pytest.raises(VenueRejected, match="NOTIONAL"):
        await venue.submit(intent("qb-tiny", "0.00001"))


async def test_read_faults_map_too(venue: CcxtVenue, server: BinanceServer) -> None:
    server.faults.arm("GET /api/v3/myTrades", Fault("http_5xx", status=503))
    # aiohttp itself retries a GET once when a reused keep-alive connection drops, so the
    # reset is armed until cleared: every attempt fails.
    server.faults.arm("GET /api/v3/account", Fault("connection_reset", times=0))

    with pytest.raises(VenueUnavailable):
        await venue.fills_since(0)
    with pytest.raises(VenueConnectionError):
        await venue.account()


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}'),
            VenueOrderNotFound,
        ),
        (
            ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'),
            VenueDuplicateOrder,
        ),
        (  # binance.com's futures table makes it InvalidOrder, a loopback URL a bare error
            ccxt.InvalidOrder('binance {"code":-4116,"msg":"ClientOrderId is duplicated."}'),
            VenueDuplicateOrder,
        ),
        (
            ccxt.ExchangeError('binance {"code":-4116,"msg":"ClientOrderId is duplicated."}'),
            VenueDuplicateOrder,
        ),
        (
            ccxt.InsufficientFunds('binance {"code":-2019,"msg":"Margin is insufficient."}'),
            VenueBrokerState,
        ),
        (
            ccxt.ExchangeError('binance {"code":-2019,"msg":"Margin is insufficient."}'),
            VenueBrokerState,
        ),
        (
            ccxt.OperationRejected('binance {"code":-2027,"msg":"Exceeded the maximum"}'),
            VenueBrokerState,
        ),
        (
            ccxt.ExchangeError('binance {"code":-4164,"msg":"Order\'s notional must be"}'),
            VenueRejected,
        ),
        (ccxt.BadRequest('binance {"code":-1111,"msg":"Precision is over"}'), VenueRejected),
        (ccxt.InvalidNonce('binance {"code":-1021,"msg":"Timestamp outside"}'), VenueClockSkew),
        (  # binance.com's spot table makes -1021 a BadRequest: still the clock, not a refusal
            ccxt.BadRequest('binance {"code":-1021,"msg":"Timestamp for this request"}'),
            VenueClockSkew,
        ),
        (ccxt.InvalidNonce("kraken EAPI:Invalid nonce"), VenueClockSkew),
        (ccxt.ExchangeError('binance {"code":-1008,"msg":"Server busy"}'), VenueUnavailable),
        (
            ccxt.ExchangeError('binance {"code":-1145,"msg":"Invalid cancelRestrictions"}'),
            VenueRejected,
        ),
        (ccxt.ExchangeError("binance something nobody mapped"), VenueError),
        (ccxt.NotSupported("binance fetchX() is not supported"), VenueError),
        (ccxt.OnMaintenance("binance System is under maintenance."), VenueUnavailable),
        (ccxt.BadResponse("binance unreadable"), VenueSchemaError),
        (ccxt.AccountSuspended("binance This action is disabled"), VenueAuthError),
        (TimeoutError(), VenueTimeout),
    ],
)
def test_translate_sorts_by_what_quantbot_must_do(
    exc: BaseException, expected: type[VenueError]
) -> None:
    translated = translate(exc, venue="binance")

    assert type(translated) is expected
    assert translated.venue == "binance"


def test_translate_drops_query_strings_and_keeps_the_http_status() -> None:
    exc = ccxt.ExchangeNotAvailable(
        "binance GET http://127.0.0.1:1/api/v3/order?timestamp=1&signature=abcdef 503 "
        "Service Unavailable busy"
    )

    translated = translate(exc, venue="binance")

    assert type(translated) is VenueUnavailable and translated.status == 503
    assert "signature" not in str(translated) and "abcdef" not in str(translated)
    assert str(translated).startswith("ExchangeNotAvailable: binance GET")


def test_translate_drops_credentials_of_a_proxy_url_too() -> None:
    # base_url may point at a proxy with user:password@ in it; ccxt echoes the URL.
    exc = ccxt.ExchangeNotAvailable(
        "binance GET http://trader:s3cretPass@proxy.example:8080/api/v3/account 502 Bad Gateway"
    )

    translated = translate(exc, venue="binance")

    assert "s3cretPass" not in str(translated) and "trader" not in str(translated)
    assert translated.status == 502
