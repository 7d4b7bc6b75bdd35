"""CcxtVenue end to end: real ccxt, loopback Binance, no patching, no sleeps."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from quantbot.clock import SimClock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import ConfigError, VenueRejected, VenueSchemaError
from quantbot.domain.values import OrderStatus, Side, SubmitOutcome
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt.venue import CcxtVenue

from .conftest import intent


async def test_connect_loads_instruments_with_the_servers_filters(venue: CcxtVenue) -> None:
    instruments = await venue.instruments()

    assert set(instruments) == {"BTC/USDT", "ETH/USDT"}
    btc = instruments["BTC/USDT"]
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal(5),
    )
    assert btc.venue == "binance" and btc.max_leverage == 1
    assert instruments["ETH/USDT"].lot_size == Decimal("0.0001")


async def test_market_buy_is_accepted_filled_and_reported_as_a_fill(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    ask = server.book.bid_ask("BTCUSDT")[1]

    result = await venue.submit(intent("qb-m1", "0.01"))

    assert result.outcome is SubmitOutcome.ACCEPTED and result.reason is None
    assert result.order is not None
    assert result.order.status is OrderStatus.FILLED
    assert result.order.filled_qty == Decimal("0.01")
    fills = await venue.fills_since(0)
    assert [(f.client_order_id, f.side, f.qty, f.price) for f in fills] == [
        ("qb-m1", Side.BUY, Decimal("0.01"), ask)
    ]
    assert fills[0].fee == (Decimal("0.01") * ask * Decimal("0.001")).quantize(Decimal("1e-8"))
    assert fills[0].venue_order_id == result.order.venue_order_id


async def test_fill_seq_and_id_are_stable_across_a_restart_and_strictly_increasing(
    venue: CcxtVenue, server: BinanceServer, make_venue
) -> None:
    for n, symbol in enumerate(["ETH/USDT", "BTC/USDT", "ETH/USDT"]):
        await venue.submit(intent(f"qb-s{n}", "0.01", symbol=symbol))
    first = await venue.fills_since(0)

    restarted = make_venue()  # a new process: knows nothing of the orders it sent
    await restarted.connect()
    try:
        again = await restarted.fills_since(0)
        after_first = await restarted.fills_since(first[0].seq)
    finally:
        await restarted.close()

    seqs = [f.seq for f in first]
    assert seqs == sorted(set(seqs)) and len(seqs) == 3
    assert [(f.seq, f.fill_id, f.client_order_id) for f in again] == [
        (f.seq, f.fill_id, f.client_order_id) for f in first
    ]
    # Past the cursor: the later fills, and (the look-back) possibly earlier ones again.
    assert [f.fill_id for f in after_first if f.seq > first[0].seq] == [
        f.fill_id for f in first[1:]
    ]
    assert [f for f in await venue.fills_since(seqs[-1]) if f.seq > seqs[-1]] == []


async def test_limit_order_rests_then_fills_when_a_candle_crosses_it(
    venue: CcxtVenue, server: BinanceServer, clock: SimClock
) -> None:
    bid = server.book.bid_ask("BTCUSDT")[0]
    below = bid - Decimal("0.05")

    result = await venue.submit(intent("qb-l1", "0.01", limit=str(below)))

    assert result.outcome is SubmitOutcome.ACCEPTED
    assert result.order is not None and result.order.status is OrderStatus.ACCEPTED
    assert result.order.limit_price == below
    assert [o.client_order_id for o in await venue.open_orders()] == ["qb-l1"]
    assert await venue.fills_since(0) == []

    minutes = 0
    while not server.tick(1):  # the seeded path crosses within a few minutes
        minutes += 1
        assert minutes < 60, "price path never came down to the limit"
    clock.set(server.now_ns)

    fills = await venue.fills_since(0)
    assert [(f.client_order_id, f.price) for f in fills] == [("qb-l1", below)]
    order = await venue.order_by_client_id("qb-l1")
    assert order is not None and order.status is OrderStatus.FILLED
    assert await venue.open_orders() == []


async def test_amount_and_price_are_rounded_by_the_exchanges_rules_before_sending(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    bid = server.book.bid_ask("BTCUSDT")[0]
    limit = str(bid - Decimal("1.004"))  # off-tick: rounds to the nearest tick

    result = await venue.submit(intent("qb-p1", "0.012349", limit=limit))

    assert result.outcome is SubmitOutcome.ACCEPTED and result.order is not None
    sent = server.book.orders[int(result.order.venue_order_id or 0)]
    assert sent.qty == Decimal("0.01234")  # amounts truncate: never more than asked
    assert sent.price == bid - Decimal("1.00")
    assert (result.order.qty, result.order.limit_price) == (sent.qty, sent.price)


async def test_an_amount_below_one_lot_is_rejected_without_a_request(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    before = list(server.requests)

    with pytest.raises(VenueRejected, match="amount"):
        await venue.submit(intent("qb-p2", "0.000004"))

    assert server.requests == before


async def test_unknown_symbol_is_rejected_clearly_without_a_network_call(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    before = list(server.requests)

    result = await venue.submit(intent("qb-u1", "1", symbol="DOGE/USDT"))

    assert result.outcome is SubmitOutcome.REJECTED and result.order is None
    assert result.reason is not None
    assert result.reason.to_record() == {"code": "VENUE_UNKNOWN_SYMBOL", "symbol": "DOGE/USDT"}
    assert server.requests == before


async def test_duplicate_client_id_is_resolved_by_lookup_never_by_a_second_order(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    limit = str(server.book.bid_ask("BTCUSDT")[0] - 100)
    first = await venue.submit(intent("qb-d1", "0.01", limit=limit))

    again = await venue.submit(intent("qb-d1", "0.01", limit=limit))

    assert again.outcome is SubmitOutcome.ACCEPTED
    assert again.reason is not None
    assert again.reason.to_record() == {
        "code": "VENUE_DUPLICATE_CLIENT_ID",
        "client_order_id": "qb-d1",
        "resolved": "lookup",
    }
    assert again.order is not None and first.order is not None
    assert again.order.venue_order_id == first.order.venue_order_id
    assert [o.cid for o in server.book.orders.values()] == ["qb-d1"]
    assert server.requests[-2:] == ["POST /api/v3/order", "GET /api/v3/order"]


async def test_duplicate_reply_without_a_findable_order_is_a_schema_error(
    venue: CcxtVenue, server: BinanceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = str(server.book.bid_ask("BTCUSDT")[0] - 100)
    await venue.submit(intent("qb-d2", "0.01", limit=limit))
    # The test double forgets its orders on lookup: the venue said "duplicate" and then
    # cannot show it. The adapter must not guess ACCEPTED nor send it again.
    monkeypatch.setattr(server.book, "find_order", lambda *args: None)

    with pytest.raises(VenueSchemaError, match="qb-d2"):
        await venue.submit(intent("qb-d2", "0.01", limit=limit))

    assert server.requests.count("POST /api/v3/order") == 2
    assert len(server.book.orders) == 1


async def test_order_by_client_id_after_a_restart_tries_the_configured_symbols(
    venue: CcxtVenue, server: BinanceServer, make_venue
) -> None:
    await venue.submit(intent("qb-o1", "0.1", symbol="ETH/USDT"))
    restarted = make_venue()
    await restarted.connect()
    try:
        found = await restarted.order_by_client_id("qb-o1")
        missing = await restarted.order_by_client_id("qb-nope")
    finally:
        await restarted.close()

    assert found is not None
    assert (found.symbol, found.status, found.qty) == (
        "ETH/USDT",
        OrderStatus.FILLED,
        Decimal("0.1"),
    )
    assert missing is None
    assert server.requests.count("GET /api/v3/order") == 2 + 2  # BTC then ETH; both for "nope"


async def test_cancel_a_resting_order_releases_it_and_terminal_orders_come_back_unchanged(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    limit = str(server.book.bid_ask("BTCUSDT")[0] - 100)
    await venue.submit(intent("qb-c1", "0.01", limit=limit))
    await venue.submit(intent("qb-c2", "0.01"))
    locked_before = server.book.balances["USDT"][1]

    canceled = await venue.cancel("qb-c1")
    filled = await venue.cancel("qb-c2")
    unknown = await venue.cancel("qb-never-sent")

    assert canceled is not None and canceled.client_order_id == "qb-c1"
    assert canceled.status is OrderStatus.CANCELED
    assert locked_before > 0 and server.book.balances["USDT"][1] == 0
    assert filled is not None and filled.status is OrderStatus.FILLED
    assert unknown is None
    assert await venue.open_orders() == []


async def test_cancel_all_per_symbol_then_everything(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    btc = str(server.book.bid_ask("BTCUSDT")[0] - 100)
    eth = str(server.book.bid_ask("ETHUSDT")[0] - 10)
    await venue.submit(intent("qb-a1", "0.01", limit=btc))
    await venue.submit(intent("qb-a2", "0.01", limit=btc))
    await venue.submit(intent("qb-a3", "0.01", symbol="ETH/USDT", limit=eth))

    first = await venue.cancel_all("BTC/USDT")
    remaining = await venue.open_orders()
    rest = await venue.cancel_all()
    nothing = await venue.cancel_all()

    assert sorted(o.client_order_id for o in first) == ["qb-a1", "qb-a2"]
    assert all(o.status is OrderStatus.CANCELED for o in first + rest)
    assert [o.client_order_id for o in remaining] == ["qb-a3"]
    assert [o.client_order_id for o in rest] == ["qb-a3"]
    assert nothing == []
    assert venue.capabilities.batch_cancel is True


async def test_positions_and_account_follow_the_spot_balances(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    await venue.submit(intent("qb-b1", "0.02"))
    await venue.submit(intent("qb-b2", "0.5", symbol="ETH/USDT"))
    await venue.submit(intent("qb-b3", "0.2", symbol="ETH/USDT", side=Side.SELL))
    limit = str(server.book.bid_ask("BTCUSDT")[0] - 100)
    await venue.submit(intent("qb-b4", "0.01", limit=limit))

    positions = await venue.positions()
    account = await venue.account()

    assert {s: p.qty for s, p in positions.items()} == {
        "BTC/USDT": Decimal("0.02"),
        "ETH/USDT": Decimal("0.3"),
    }
    free, locked = server.book.balances["USDT"]
    marks = Decimal("0.02") * server.book.price("BTCUSDT") + Decimal("0.3") * server.book.price(
        "ETHUSDT"
    )
    assert account.currency == "USDT"
    assert (account.cash, account.buying_power) == (free + locked, free)
    assert account.equity == free + locked + marks


async def test_bars_are_closed_candles_only_and_the_forming_one_appears_once_closed(
    venue: CcxtVenue, server: BinanceServer, clock: SimClock
) -> None:
    forming_open = server.now_ns

    bars = await venue.bars("BTC/USDT", limit=5)
    server.tick(1)
    clock.set(server.now_ns)
    later = await venue.bars("BTC/USDT", since_ns=forming_open - 60 * 10**9)

    assert len(bars) == 4  # the server sent 5, the last still forming
    assert [b.ts_ns for b in bars] == [forming_open - (4 - i) * 60 * 10**9 for i in range(4)]
    assert all(b.interval_s == 60.0 for b in bars)
    closed = server.book.klines["BTCUSDT"][-1]
    assert [b.ts_ns for b in later] == [forming_open - 60 * 10**9, forming_open]
    assert (later[-1].open, later[-1].close) == (float(closed.open), float(closed.close))
    assert venue.bar_interval_s == 60.0


async def test_quote_is_the_venues_best_bid_and_ask(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    bid, ask = server.book.bid_ask("ETHUSDT")

    quote = await venue.quote("ETH/USDT")

    assert (quote.symbol, quote.bid, quote.ask) == ("ETH/USDT", float(bid), float(ask))
    assert quote.ts_ns == server.now_ns
    assert (await venue.market_clock()).is_open is True


def _settings(**overrides: object) -> CcxtConfig:
    return CcxtConfig(**overrides)


async def test_paper_without_base_url_talks_to_the_testnet_and_base_url_to_its_host() -> None:
    clock = SimClock(0)
    sandboxed = CcxtVenue(
        _settings(), api_key="k", secret="s", clock=clock, sandbox=True, symbols=["BTC/USDT"]
    )
    proxied = CcxtVenue(
        _settings(base_url="http://127.0.0.1:9/prefix/"),
        api_key="k",
        secret="s",
        clock=clock,
        sandbox=True,
        symbols=["BTC/USDT"],
    )
    try:
        sandbox_urls = sandboxed._exchange.urls["api"]
        proxied_urls = proxied._exchange.urls["api"]
    finally:
        await sandboxed.close()
        await proxied.close()

    assert sandbox_urls["private"] == "https://testnet.binance.vision/api/v3"
    assert all("binance.com" not in str(url) for url in sandbox_urls.values())
    assert proxied_urls["private"] == "http://127.0.0.1:9/prefix/api/v3"
    assert all(str(url).startswith("http://127.0.0.1:9/prefix/") for url in proxied_urls.values())


def test_an_exchange_ccxt_does_not_know_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no exchange"):
        CcxtVenue(
            _settings(exchange_id="no_such_exchange"),
            api_key="k",
            secret="s",
            clock=SimClock(0),
            sandbox=True,
            symbols=["BTC/USDT"],
        )


async def test_a_configured_symbol_the_exchange_does_not_list_fails_connect(
    server: BinanceServer, clock: SimClock
) -> None:
    venue = CcxtVenue(
        _settings(base_url=server.base_url),
        api_key=TEST_API_KEY,
        secret=TEST_API_SECRET,
        clock=clock,
        sandbox=True,
        symbols=["BTC/USDT", "PEPE/USDT"],
    )
    try:
        with pytest.raises(ConfigError, match="PEPE/USDT"):
            await venue.connect()
    finally:
        await venue.close()


async def test_cancelling_a_call_in_flight_propagates_as_cancellation(
    venue: CcxtVenue, server: BinanceServer
) -> None:
    server.faults.arm("GET /api/v3/account", Fault("delay", delay_s=5))

    # wait_for cancels the call; had the adapter turned the CancelledError into a venue
    # error, that error would surface here instead of TimeoutError.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(venue.positions(), timeout=0.05)
