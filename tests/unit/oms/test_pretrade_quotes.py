"""The quote gate's pure rule, the protection price, and the gate on the embedded paper
venue (which protects MARKET orders but has no observed quote to check)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import PretradeConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar, Instrument, OrderIntent, OrderType, Quote, Side
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.pretrade_quotes import QuoteGate, check_quote, protection_price
from quantbot.venues.base import Capabilities
from quantbot.venues.sim import SimVenue

D = Decimal
T0 = 1_700_000_000 * NS_PER_S


def quote(bid: float, ask: float, ts_ns: int = T0) -> Quote:
    return Quote("AAPL", ts_ns, bid, ask)


def test_a_normal_quote_passes() -> None:
    assert check_quote(quote(99.99, 100.01), now_ns=T0, max_age_s=5.0) is None


@pytest.mark.parametrize(
    ("bid", "ask", "code"),
    [
        (100.02, 100.01, ReasonCode.QUOTE_CROSSED_BLOCK),
        (100.01, 100.01, ReasonCode.QUOTE_LOCKED_BLOCK),
        (0.0, 100.01, ReasonCode.QUOTE_UNAVAILABLE_BLOCK),
        (math.nan, 100.01, ReasonCode.QUOTE_UNAVAILABLE_BLOCK),
        (99.99, math.inf, ReasonCode.QUOTE_UNAVAILABLE_BLOCK),
    ],
)
def test_crossed_locked_and_unusable_quotes_block(bid: float, ask: float, code: ReasonCode) -> None:
    why = check_quote(quote(bid, ask), now_ns=T0, max_age_s=5.0)
    assert why is not None and why.code is code
    assert why.context["symbol"] == "AAPL"


def test_staleness_is_measured_on_the_clock_and_exactly_at_the_limit_passes() -> None:
    q = quote(99.99, 100.01)
    assert check_quote(q, now_ns=T0 + 5 * NS_PER_S, max_age_s=5.0) is None
    why = check_quote(q, now_ns=T0 + 5 * NS_PER_S + 1, max_age_s=5.0)
    assert why is not None and why.code is ReasonCode.QUOTE_STALE_BLOCK
    assert why.context["max_age_s"] == 5.0 and why.context["age_s"] > 5.0
    # A stale quote is reported stale even when it is also crossed: its prices mean nothing.
    old_crossed = quote(101.0, 100.0, T0 - 60 * NS_PER_S)
    why = check_quote(old_crossed, now_ns=T0, max_age_s=5.0)
    assert why is not None and why.code is ReasonCode.QUOTE_STALE_BLOCK


def test_the_protection_price_is_the_collar_edge_against_the_order() -> None:
    assert protection_price(Side.BUY, D("100"), 200.0) == D("102.00")
    assert protection_price(Side.SELL, D("100"), 200.0) == D("98.00")


class _Venue:
    """What the gate asks of a venue: its capabilities and, on a real one, its quote."""

    def __init__(self, *, quotes: bool, protection: bool) -> None:
        self.capabilities = Capabilities(
            order_types=frozenset(OrderType),
            time_in_force=frozenset({"GTC", "IOC"}),
            max_leverage=D(1),
            batch_cancel=False,
            has_sessions=False,
            quotes=quotes,
            market_protection=protection,
        )
        self.asked: list[str] = []

    async def quote(self, symbol: str) -> Quote:
        self.asked.append(symbol)
        return Quote(symbol, T0, 100.0, 99.0)  # crossed


async def _read(_dependency: str, fn: Callable[[], Awaitable[Quote]]) -> Quote:
    return await fn()


def _gates(clock: SimClock) -> tuple[PretradeConfig, PretradeGates]:
    config = PretradeConfig(max_data_age_s=3600.0, collar_bps=150.0)
    gates = PretradeGates(config, clock, configured_symbols=["AAPL"])
    gates.on_bar(Bar("AAPL", T0 - 60 * NS_PER_S, 100.0, 100.0, 100.0, 100.0, 1.0, interval_s=60.0))
    return config, gates


async def test_market_orders_get_the_collar_as_protection_where_the_venue_takes_it() -> None:
    clock = SimClock(T0)
    config, gates = _gates(clock)
    venue = _Venue(quotes=False, protection=True)
    gate = QuoteGate(config, clock, venue, gates)
    buy = OrderIntent("c1", "d1", "AAPL", Side.BUY, D(10))  # no arrival price: the last close
    sent, blocked = await gate.check(buy, reducing=False, read=_read)
    assert blocked is None and sent.limit_price == D("101.50")
    sell = OrderIntent("c2", "d2", "AAPL", Side.SELL, D(10), arrival_price=D("100"))
    sent, blocked = await gate.check(sell, reducing=True, read=_read)
    assert blocked is None and sent.limit_price == D("98.50")
    limit = OrderIntent("c3", "d3", "AAPL", Side.BUY, D(1), OrderType.LIMIT, D("99"))
    sent, _ = await gate.check(limit, reducing=False, read=_read)
    assert sent is limit  # a limit order is its own protection
    assert venue.asked == []  # a venue without observed quotes is not asked for one
    plain = QuoteGate(config, clock, _Venue(quotes=False, protection=False), gates)
    sent, _ = await plain.check(buy, reducing=False, read=_read)
    assert sent is buy


async def test_the_quote_is_read_for_new_risk_only() -> None:
    clock = SimClock(T0)
    config, gates = _gates(clock)
    venue = _Venue(quotes=True, protection=False)
    gate = QuoteGate(config, clock, venue, gates)
    buy = OrderIntent("c1", "d1", "AAPL", Side.BUY, D(10))
    _, blocked = await gate.check(buy, reducing=False, read=_read)
    assert blocked is not None and blocked.code is ReasonCode.QUOTE_CROSSED_BLOCK
    _, blocked = await gate.check(buy, reducing=True, read=_read)
    assert blocked is None and venue.asked == ["AAPL"]


def test_the_paper_venue_has_no_observed_quote_to_check() -> None:
    venue = SimVenue(
        clock=SimClock(T0),
        instruments={"AAPL": Instrument("AAPL", D("0.01"), D(1))},
        state_path=None,
        initial_cash=D(100_000),
        fee_bps=0.0,
        slippage_bps=0.0,  # its synthetic quote would be locked: it must never be a block
        participation_cap=1.0,
    )
    assert (venue.capabilities.quotes, venue.capabilities.market_protection) == (False, False)
