"""Repeated collar blocks disable a symbol (case 27): the count, its window, what counts, the
hook the daemon persists it through, and a person's re-enable starting the count afresh."""

from __future__ import annotations

from decimal import Decimal

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import PretradeConfig
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import Bar, OrderIntent, OrderType, Side
from quantbot.oms.pretrade import PretradeGates

T0 = 1_700_000_000 * NS_PER_S
CONFIG = PretradeConfig(
    max_collar_blocks=2, collar_block_window_s=60.0, collar_bps=100.0, max_data_age_s=3600.0
)


def _gates(clock: SimClock) -> tuple[PretradeGates, list[tuple[str, Reason]]]:
    disabled: list[tuple[str, Reason]] = []
    gates = PretradeGates(
        CONFIG,
        clock,
        configured_symbols=["AAA", "BBB"],
        on_disable=lambda symbol, why: disabled.append((symbol, why)),
    )
    for symbol in ("AAA", "BBB"):
        gates.on_bar(Bar(symbol, T0 - 60 * NS_PER_S, 100.0, 100.0, 100.0, 100.0, 1.0))
    return gates, disabled


def far(n: int, symbol: str = "AAA", side: Side = Side.BUY) -> OrderIntent:
    """A limit 5% away from the last price: outside the 1% collar."""
    price = Decimal(105)
    return OrderIntent(f"c{n}-{symbol}", f"d{n}", symbol, side, Decimal(1), OrderType.LIMIT, price)


def test_more_than_max_blocks_in_the_window_disable_the_symbol_once() -> None:
    clock = SimClock(T0)
    gates, disabled = _gates(clock)
    codes = []
    for n in range(4):
        why = gates.check(far(n))
        assert why is not None
        codes.append(why.code)
        clock.advance(1.0)
    assert codes == [
        ReasonCode.PRICE_COLLAR_BLOCK,
        ReasonCode.PRICE_COLLAR_BLOCK,
        ReasonCode.PRICE_COLLAR_DISABLE,
        ReasonCode.SYMBOL_DISABLED_BLOCK,
    ]
    [(symbol, why)] = disabled
    assert symbol == "AAA" and why.context["count"] == 3 and why.context["limit"] == 2
    assert why.context["check"] == "order"
    assert gates.disabled() == {"AAA"}
    assert gates.check(far(9, "BBB")).code is ReasonCode.PRICE_COLLAR_BLOCK  # per symbol


def test_blocks_that_left_the_window_do_not_count() -> None:
    clock = SimClock(T0)
    gates, disabled = _gates(clock)
    for n in range(6):
        assert gates.check(far(n)).code is ReasonCode.PRICE_COLLAR_BLOCK
        clock.advance(30.0)  # two blocks per 60 s window at most: never more than the limit
    assert disabled == []


def test_risk_reducing_blocks_count_but_the_symbol_can_still_be_flattened() -> None:
    clock = SimClock(T0)
    gates, disabled = _gates(clock)
    for n in range(3):
        gates.check(far(n, side=Side.SELL), reducing=True)
    assert [s for s, _ in disabled] == ["AAA"]
    near = OrderIntent("c-near", "d", "AAA", Side.SELL, Decimal(1), OrderType.LIMIT, Decimal(100))
    assert gates.check(near, reducing=True) is None  # a disabled symbol still flattens
    assert gates.check(near).code is ReasonCode.SYMBOL_DISABLED_BLOCK


def test_a_person_re_enabling_the_symbol_starts_the_count_again() -> None:
    clock = SimClock(T0)
    gates, disabled = _gates(clock)
    for n in range(3):
        gates.check(far(n))
    gates.enable_symbol("AAA")
    codes = [gates.check(far(10 + n)).code for n in range(3)]
    assert codes == [
        ReasonCode.PRICE_COLLAR_BLOCK,
        ReasonCode.PRICE_COLLAR_BLOCK,
        ReasonCode.PRICE_COLLAR_DISABLE,
    ]
    assert len(disabled) == 2
