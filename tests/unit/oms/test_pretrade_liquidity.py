"""The pre-trade collars of an entry tighten in a THIN liquidity regime; reductions keep them."""

from __future__ import annotations

from decimal import Decimal

import attrs

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.liquidity import LiquidityThresholds
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar, OrderIntent, Side
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.risk.liquidity import LiquidityRegimes
from tests.unit.oms.test_pretrade import Harness, cfg, order
from tests.unit.oms.test_pretrade_quotes import T0, _gates, _read, _Venue

D = Decimal


def regimes(volume: float) -> LiquidityRegimes:
    """AAA after 5 flat $100 bars trading ``volume``: 100 is THIN ($10,000 a bar), 10,000 not."""
    state = LiquidityRegimes(LiquidityThresholds(liq_lookback_bars=5, thin_collar_mult=0.5))
    for i in range(5):
        state.update(Bar("AAA", i * 60 * NS_PER_S, 100.0, 100.0, 100.0, 100.0, volume, 60.0))
    return state


def test_a_thin_regime_halves_the_order_collar_of_an_entry_only() -> None:
    h = Harness(cfg(collar_bps=200.0))
    entry = order(arrival_price="101.50")  # 150 bps from the last close
    assert h.gates.check(entry) is None  # no regime wired: the configured 200 bps
    h.gates.collar_mult = regimes(10_000.0).collar_mult
    assert h.gates.check(entry) is None  # a NORMAL market: 200 bps
    h.gates.collar_mult = regimes(100.0).collar_mult
    why = h.gates.check(entry)
    assert why is not None and why.code is ReasonCode.PRICE_COLLAR_BLOCK
    assert why.context["limit_bps"] == 100.0 and why.context["collar_mult"] == 0.5
    assert why.context["value_bps"] == 150.0
    assert h.gates.check(entry, reducing=True) is None  # a reduction keeps 200 bps


def test_a_thin_regime_halves_the_window_collar_of_an_entry() -> None:
    h = Harness(cfg(collar_bps=5000.0, collar_window_bps=500.0, collar_window_s=300.0))
    h.gates.collar_mult = regimes(100.0).collar_mult
    for close in (100.0, 103.0):  # a 300 bps run-up inside the window
        h.clock.advance(60.0)
        h.fresh(close, symbols=("AAA",))
    why = h.gates.check(order())
    assert why is not None and why.context["check"] == "window"
    assert why.context["limit_bps"] == 250.0 and why.context["collar_mult"] == 0.5
    assert h.gates.check(order(), reducing=True) is None


async def test_the_protection_price_of_a_thin_entry_is_the_tightened_collar() -> None:
    clock = SimClock(T0)
    config, gates = _gates(clock)  # collar_bps 150
    thin = LiquidityRegimes(attrs.evolve(LiquidityThresholds(), liq_lookback_bars=2))
    for i in range(2):
        thin.update(Bar("AAPL", i * 60 * NS_PER_S, 100.0, 100.0, 100.0, 100.0, 1.0, 60.0))
    gates.collar_mult = thin.collar_mult
    gate = QuoteGate(config, clock, _Venue(quotes=False, protection=True), gates)
    buy = OrderIntent("c1", "d1", "AAPL", Side.BUY, D(10), arrival_price=D("100"))
    sent, _ = await gate.check(buy, reducing=False, read=_read)
    assert sent.limit_price == D("100.75")  # 75 bps: half of 150
    sent, _ = await gate.check(buy, reducing=True, read=_read)
    assert sent.limit_price == D("101.50")
