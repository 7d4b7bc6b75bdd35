"""CcxtVenue on USD-M perpetuals (market_type "future"): real ccxt against the loopback
Binance futures server, no patching, no sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from quantbot.clock import SimClock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import (
    ConfigError,
    VenueAuthError,
    VenueBrokerState,
    VenueRateLimited,
    VenueRejected,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.values import OrderStatus, Side, SubmitOutcome
from quantbot.ops.errors import ErrorCategory, classify_exception
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET
from quantbot.testing.binance_futures import BinanceFuturesServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt.venue import CcxtVenue

from .conftest import intent

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
ORDER = "POST /fapi/v1/order"
DAY_MS = 24 * 60 * 60 * 1000


@pytest.fixture
async def server() -> AsyncIterator[BinanceFuturesServer]:
    srv = BinanceFuturesServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def clock(server: BinanceFuturesServer) -> SimClock:
    return SimClock(server.now_ns)


@pytest.fixture
def make_venue(server: BinanceFuturesServer, clock: SimClock) -> Callable[..., CcxtVenue]:
    def make(
        *, max_leverage: float = 3.0, secret: str = TEST_API_SECRET, timeout_s: float = 2.0
    ) -> CcxtVenue:
        settings = CcxtConfig(
            base_url=server.base_url, market_type="future", max_leverage=max_leverage,
            timeout_s=timeout_s,
        )  # fmt: skip
        return CcxtVenue(
            settings, api_key=TEST_API_KEY, secret=secret, clock=clock, sandbox=True,
            symbols=[BTC, ETH],
        )  # fmt: skip

    return make


@pytest.fixture
async def venue(make_venue: Callable[..., CcxtVenue]) -> AsyncIterator[CcxtVenue]:
    v = make_venue()
    await v.connect()
    yield v
    await v.close()


async def _connected(make_venue: Callable[..., CcxtVenue], **kwargs: object) -> CcxtVenue:
    v = make_venue(**kwargs)
    await v.connect()
    return v


# -- connect: instruments and leverage -----------------------------------------------------------


async def test_connect_sets_the_configured_leverage_and_instruments_can_go_short(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    instruments = await venue.instruments()

    btc = instruments[BTC]
    assert set(instruments) == {BTC, ETH}
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal(100),
    )
    assert [(i.max_leverage, i.shortable) for i in instruments.values()] == [(3, True)] * 2
    assert server.book.leverage == {"BTCUSDT": 3, "ETHUSDT": 3, "SOLUSDT": 10}
    assert venue.capabilities.max_leverage == 3


@pytest.mark.parametrize(
    ("configured", "expected"),
    [(50.0, {"BTCUSDT": 20, "ETHUSDT": 10}), (2.5, {"BTCUSDT": 2, "ETHUSDT": 2})],
    ids=["capped-by-the-market", "whole-numbers"],
)
async def test_leverage_is_never_set_above_the_configured_or_the_markets_maximum(
    make_venue: Callable[..., CcxtVenue],
    server: BinanceFuturesServer,
    configured: float,
    expected: dict[str, int],
) -> None:
    venue = await _connected(make_venue, max_leverage=configured)
    try:
        instruments = await venue.instruments()
    finally:
        await venue.close()

    assert {s: server.book.leverage[s] for s in expected} == expected
    assert [instruments[s].max_leverage for s in (BTC, ETH)] == list(expected.values())
    assert venue.capabilities.max_leverage == max(expected.values())


async def test_a_hedge_mode_account_is_refused_at_connect_before_any_leverage_change(
    make_venue: Callable[..., CcxtVenue], server: BinanceFuturesServer
) -> None:
    server.book.dual_side = True
    venue = make_venue()
    try:
        with pytest.raises(ConfigError, match="hedge mode"):
            await venue.connect()
    finally:
        await venue.close()

    assert "POST /fapi/v1/leverage" not in server.requests
    assert server.book.leverage["BTCUSDT"] == 20


async def test_a_spot_symbol_is_not_a_futures_market(
    server: BinanceFuturesServer, clock: SimClock
) -> None:
    settings = CcxtConfig(base_url=server.base_url, market_type="future")
    venue = CcxtVenue(
        settings, api_key=TEST_API_KEY, secret=TEST_API_SECRET, clock=clock, sandbox=True,
        symbols=["BTC/USDT"],
    )  # fmt: skip
    try:
        with pytest.raises(ConfigError, match="BTC/USDT"):
            await venue.connect()
    finally:
        await venue.close()


async def test_wrong_secret_fails_connect_with_auth_error_and_no_secret_in_sight(
    make_venue: Callable[..., CcxtVenue],
) -> None:
    secret = "not-the-secret-" + "y" * 49
    venue = make_venue(secret=secret)
    try:
        with pytest.raises(VenueAuthError) as caught:
            await venue.connect()
    finally:
        await venue.close()

    err = caught.value
    assert "-1022" in str(err)
    for obj in (venue, err, err.__cause__, *err.args):
        assert secret not in str(obj) + repr(obj)
        assert TEST_API_KEY not in str(obj) + repr(obj)


def test_paper_without_base_url_uses_binances_futures_demo_endpoints() -> None:
    settings = CcxtConfig(market_type="future")
    venue = CcxtVenue(
        settings, api_key="k", secret="s", clock=SimClock(0), sandbox=True, symbols=[BTC]
    )

    urls = venue._exchange.urls["api"]

    assert urls["fapiPrivate"] == "https://demo-fapi.binance.com/fapi/v1"
    assert not any(str(u).startswith("https://fapi.binance.com") for u in urls.values())


def test_base_url_moves_the_futures_apis_too() -> None:
    settings = CcxtConfig(market_type="future", base_url="http://127.0.0.1:9/x")
    venue = CcxtVenue(
        settings, api_key="k", secret="s", clock=SimClock(0), sandbox=True, symbols=[BTC]
    )

    urls = venue._exchange.urls["api"]

    assert urls["fapiPrivateV3"] == "http://127.0.0.1:9/x/fapi/v3"
    assert all(str(u).startswith("http://127.0.0.1:9/x/") for u in urls.values())


# -- orders, positions, account ------------------------------------------------------------------


async def test_long_and_short_positions_carry_signed_quantity_and_entry_price(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    btc_ask, eth_bid = server.book.bid_ask("BTCUSDT")[1], server.book.bid_ask("ETHUSDT")[0]

    long = await venue.submit(intent("qf-l1", "0.010", symbol=BTC))
    short = await venue.submit(intent("qf-s1", "0.100", symbol=ETH, side=Side.SELL))
    positions = await venue.positions()

    assert long.outcome is short.outcome is SubmitOutcome.ACCEPTED
    assert short.order is not None and short.order.status is OrderStatus.FILLED
    assert {s: (p.qty, p.avg_price) for s, p in positions.items()} == {
        BTC: (Decimal("0.01"), btc_ask),
        ETH: (Decimal("-0.1"), eth_bid),
    }

    server.tick(5)
    flip_at = server.book.bid_ask("BTCUSDT")[0]
    await venue.submit(intent("qf-f1", "0.030", symbol=BTC, side=Side.SELL))

    assert (await venue.positions())[BTC].qty == Decimal("-0.02")
    assert (await venue.positions())[BTC].avg_price == flip_at


async def test_account_is_the_wallet_with_unrealised_pnl_and_the_available_margin(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    await venue.submit(intent("qf-a1", "0.100", symbol=BTC))
    await venue.submit(intent("qf-a2", "1.000", symbol=ETH, side=Side.SELL))
    await venue.submit(intent("qf-a3", "0.100", symbol=ETH, limit="1000.00"))
    server.tick(10)

    account = await venue.account()

    book = server.book
    unrealized = book.margin_balance() - book.wallet
    assert unrealized != 0
    assert account.currency == "USDT"
    assert (account.cash, account.equity) == (book.wallet, book.wallet + unrealized)
    assert account.buying_power == book.available() < account.equity


async def test_an_order_the_margin_cannot_carry_is_refused_as_broker_state(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    server.book.wallet = Decimal(1000)  # 3x: about 3000 USDT of BTC at most

    with pytest.raises(VenueBrokerState, match="-2019") as caught:
        await venue.submit(intent("qf-m1", "0.100", symbol=BTC))

    category = classify_exception(caught.value, dependency="broker_submit").category
    assert category is ErrorCategory.BROKER_STATE
    assert server.book.orders == {}


async def test_an_order_below_the_minimum_notional_is_refused(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    with pytest.raises(VenueRejected, match="-4164"):
        await venue.submit(intent("qf-n1", "0.001", symbol=BTC))

    assert server.book.orders == {}


async def test_fills_are_the_user_trades_with_stable_ids_and_seq_across_a_restart(
    venue: CcxtVenue, server: BinanceFuturesServer, make_venue: Callable[..., CcxtVenue]
) -> None:
    ask = server.book.bid_ask("ETHUSDT")[1]
    await venue.submit(intent("qf-t1", "0.100", symbol=ETH))
    await venue.submit(intent("qf-t2", "0.010", symbol=BTC, side=Side.SELL))
    first = await venue.fills_since(0)

    restarted = await _connected(make_venue)
    try:
        again = await restarted.fills_since(0)
        found = await restarted.order_by_client_id("qf-t2")
    finally:
        await restarted.close()

    assert [(f.client_order_id, f.symbol, f.side) for f in first] == [
        ("qf-t1", ETH, Side.BUY),
        ("qf-t2", BTC, Side.SELL),
    ]
    assert first[0].price == ask
    assert first[0].fee == (Decimal("0.1") * ask * Decimal("0.0004")).quantize(Decimal("1e-8"))
    assert first[0].seq < first[1].seq
    assert [(f.seq, f.fill_id, f.client_order_id) for f in again] == [
        (f.seq, f.fill_id, f.client_order_id) for f in first
    ]
    assert [f for f in await venue.fills_since(first[-1].seq) if f.seq > first[-1].seq] == []
    assert found is not None and (found.symbol, found.status) == (BTC, OrderStatus.FILLED)


async def test_fills_after_a_pause_longer_than_a_week_are_not_skipped(
    venue: CcxtVenue, server: BinanceFuturesServer, clock: SimClock
) -> None:
    await venue.submit(intent("qf-w1", "0.100", symbol=ETH))
    cursor = (await venue.fills_since(0))[-1].seq
    server.book.advance_to(server.book.now_ms + 9 * DAY_MS)
    clock.set(server.now_ns)
    await venue.submit(intent("qf-w2", "0.100", symbol=ETH, side=Side.SELL))

    later = await venue.fills_since(cursor)

    assert [f.client_order_id for f in later if f.seq > cursor] == ["qf-w2"]


async def test_a_duplicate_client_id_is_resolved_by_lookup_never_by_a_second_order(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    first = await venue.submit(intent("qf-d1", "0.100", symbol=ETH, limit="1000.00"))

    again = await venue.submit(intent("qf-d1", "0.100", symbol=ETH, limit="1000.00"))

    assert again.outcome is SubmitOutcome.ACCEPTED and again.reason is not None
    assert again.reason.to_record() == {
        "code": "VENUE_DUPLICATE_CLIENT_ID",
        "client_order_id": "qf-d1",
        "resolved": "lookup",
    }
    assert again.order is not None and first.order is not None
    assert again.order.venue_order_id == first.order.venue_order_id
    assert [o.cid for o in server.book.orders.values()] == ["qf-d1"]
    assert server.requests[-2:] == [ORDER, "GET /fapi/v1/order"]


async def test_cancel_and_cancel_all_report_the_orders_they_cancelled(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    for n, price in enumerate(("1000.00", "1001.00", "1002.00")):
        await venue.submit(intent(f"qf-c{n}", "0.100", symbol=ETH, limit=price))
    await venue.submit(intent("qf-c9", "0.010", symbol=BTC, limit="30000.0"))

    one = await venue.cancel("qf-c0")
    rest = await venue.cancel_all()
    nothing = await venue.cancel_all()

    assert one is not None and one.status is OrderStatus.CANCELED
    assert sorted(o.client_order_id for o in rest) == ["qf-c1", "qf-c2", "qf-c9"]
    assert all(o.status is OrderStatus.CANCELED for o in rest)
    assert nothing == [] and await venue.open_orders() == []
    assert server.book.order_margin() == 0


# -- faults on the order endpoint ----------------------------------------------------------------


async def test_a_rate_limited_submit_says_when_to_retry_and_sends_nothing(
    venue: CcxtVenue, server: BinanceFuturesServer
) -> None:
    server.faults.arm(ORDER, Fault("http_429", retry_after_s=4))

    with pytest.raises(VenueRateLimited) as caught:
        await venue.submit(intent("qf-r1", "0.010", symbol=BTC))

    assert caught.value.retry_after_s == 4.0
    assert server.book.orders == {}


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault("http_5xx_after_accept", status=500), VenueUnavailable),
        (Fault("accept_then_timeout", delay_s=2.0), VenueTimeout),
    ],
    ids=["500-after-accept", "accept-then-timeout"],
)
async def test_a_submit_the_venue_took_but_did_not_answer_is_found_by_client_id(
    make_venue: Callable[..., CcxtVenue],
    server: BinanceFuturesServer,
    fault: Fault,
    expected: type[Exception],
) -> None:
    # A timeout well under the fault's 2 s delay, and long enough that the lookup after it
    # answers on a loaded machine (at 0.3 s it timed out there too and found nothing).
    venue = await _connected(make_venue, timeout_s=1.0)
    server.faults.arm(ORDER, fault)
    try:
        with pytest.raises(expected):
            await venue.submit(intent("qf-u1", "0.100", symbol=ETH, limit="1000.00"))
        found = await venue.order_by_client_id("qf-u1")
    finally:
        await venue.close()

    assert found is not None and found.status is OrderStatus.ACCEPTED
    assert len(server.book.orders) == 1


# -- market data ---------------------------------------------------------------------------------


async def test_quote_is_the_book_ticker_and_bars_are_closed_candles(
    venue: CcxtVenue, server: BinanceFuturesServer, clock: SimClock
) -> None:
    server.tick(1)
    clock.set(server.now_ns)
    bid, ask = server.book.bid_ask("BTCUSDT")

    quote = await venue.quote(BTC)
    bars = await venue.bars(BTC, limit=3)

    assert (quote.symbol, quote.bid, quote.ask) == (BTC, float(bid), float(ask))
    assert "GET /fapi/v1/ticker/bookTicker" in server.requests
    assert [b.ts_ns for b in bars] == [server.now_ns - (2 - i) * 60 * 10**9 for i in range(2)]
