"""Pre-trade gates: every gate at, below and above its limit, the gate order, the exemptions of
risk-reducing orders, and the bookkeeping (windows, cancel loops, disabling, restarts).

Time only moves through a SimClock; nothing sleeps."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import PretradeConfig
from quantbot.domain.errors import ConfigError, InvariantViolation
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import Bar, ExitRole, Fill, OrderIntent, OrderType, Side
from quantbot.oms.pretrade import PretradeGates

D = Decimal
T0 = 1_700_000_000_000_000_000
SYMBOLS = ["AAA", "BBB", "ZZZ"]
_ids = itertools.count()


def cfg(**changes: Any) -> PretradeConfig:
    return attrs.evolve(PretradeConfig(), **changes)


def bar(symbol: str, close: float, close_ns: int, interval_s: float = 60.0) -> Bar:
    """A bar that closes at ``close_ns`` (bars are stamped with their open time)."""
    return Bar(
        symbol=symbol,
        ts_ns=close_ns - round(interval_s * NS_PER_S),
        open=close,
        high=close,
        low=close,
        close=close,
        volume=1.0,
        interval_s=interval_s,
    )


def order(
    symbol: str = "AAA",
    *,
    cid: str | None = None,
    side: Side = Side.BUY,
    qty: Decimal | str = "1",
    limit_price: Decimal | str | None = None,
    arrival_price: Decimal | str | None = None,
    bar_ts_ns: int | None = None,
) -> OrderIntent:
    n = next(_ids)
    return OrderIntent(
        client_order_id=cid or f"cid-{n}",
        decision_id=f"dec-{n}",
        symbol=symbol,
        side=side,
        qty=D(qty),
        order_type=OrderType.MARKET if limit_price is None else OrderType.LIMIT,
        limit_price=None if limit_price is None else D(limit_price),
        bar_ts_ns=n if bar_ts_ns is None else bar_ts_ns,  # distinct content unless told
        arrival_price=None if arrival_price is None else D(arrival_price),
    )


def fill(symbol: str = "AAA") -> Fill:
    return Fill("f1", "c1", symbol, Side.BUY, D(1), D(100), D(0), T0)


class Harness:
    def __init__(
        self, config: PretradeConfig | None = None, *, close: float = 100.0, **kwargs: Any
    ) -> None:
        self.clock = SimClock(T0)
        self.disables: list[tuple[str, Reason]] = []
        kwargs.setdefault("configured_symbols", SYMBOLS)
        self.gates = PretradeGates(
            config or cfg(),
            self.clock,
            on_disable=lambda s, r: self.disables.append((s, r)),
            **kwargs,
        )
        self.fresh(close)

    def fresh(self, close: float = 100.0, symbols: tuple[str, ...] = ("AAA", "BBB")) -> None:
        """A bar for each symbol closing now, so the stale-data gate passes."""
        for symbol in symbols:
            self.gates.on_bar(bar(symbol, close, self.clock.now_ns()))

    def send(self, intent: OrderIntent, **kwargs: Any) -> Reason | None:
        """What the OMS does: check, and count it as submitted only when it passed."""
        why = self.gates.check(intent, **kwargs)
        if why is None:
            self.gates.on_submitted(intent)
        return why


def code(why: Reason | None) -> ReasonCode | None:
    return None if why is None else why.code


# -- canary ---------------------------------------------------------------------------------


def test_canary_blocks_other_symbols_and_snapshot_says_so() -> None:
    h = Harness(cfg(canary_symbols=["AAA"]))
    assert h.gates.canary_active
    assert h.gates.check(order("AAA")) is None
    why = h.gates.check(order("BBB"))
    assert why is not None
    assert why.code is ReasonCode.CANARY_MODE_ACTIVE
    assert why.context == {"symbol": "BBB", "canary_symbols": ["AAA"]}
    snap = h.gates.snapshot()
    assert snap["canary_active"] is True
    assert snap["canary_symbols"] == ["AAA"]


def test_no_canary_by_default() -> None:
    h = Harness()
    assert not h.gates.canary_active
    assert h.gates.snapshot()["canary_active"] is False
    assert h.gates.check(order("BBB")) is None


def test_canary_lets_a_reducing_order_flatten_another_symbol() -> None:
    h = Harness(cfg(canary_symbols=["AAA"]))
    assert h.gates.check(order("BBB"), reducing=True) is None


@pytest.mark.parametrize(
    ("config", "where"),
    [
        (cfg(canary_symbols=["NOPE"]), "market.symbols"),
        (cfg(canary_symbols=["AAA"], allowed_symbols=["BBB"]), "pretrade.allowed_symbols"),
    ],
)
def test_a_canary_that_could_trade_nothing_is_a_config_error(
    config: PretradeConfig, where: str
) -> None:
    with pytest.raises(ConfigError, match=where):
        PretradeGates(config, SimClock(T0), configured_symbols=SYMBOLS)


# -- allow-list, disabled symbols, market hours ---------------------------------------------


def test_allow_list_blocks_other_symbols_even_when_reducing() -> None:
    h = Harness(cfg(allowed_symbols=["AAA"]))
    assert h.gates.check(order("AAA")) is None
    for reducing in (False, True):
        why = h.gates.check(order("BBB"), reducing=reducing)
        assert why is not None
        assert why.code is ReasonCode.SYMBOL_NOT_ALLOWED_BLOCK
        assert why.context == {"symbol": "BBB", "allowed_symbols": ["AAA"]}


def test_empty_allow_list_allows_everything() -> None:
    assert Harness().gates.check(order("BBB")) is None


def test_persisted_disabled_symbol_blocks_until_enabled_but_can_be_flattened() -> None:
    h = Harness(disabled_symbols={"AAA"})
    assert h.gates.disabled() == {"AAA"}
    why = h.gates.check(order("AAA"))
    assert why is not None
    assert why.code is ReasonCode.SYMBOL_DISABLED_BLOCK
    assert why.context == {"symbol": "AAA"}
    assert h.gates.check(order("AAA"), reducing=True) is None
    assert h.gates.check(order("BBB")) is None
    h.gates.disabled().clear()  # a copy: the caller cannot re-enable by accident
    assert code(h.gates.check(order("AAA"))) is ReasonCode.SYMBOL_DISABLED_BLOCK
    h.gates.enable_symbol("AAA")
    assert h.gates.disabled() == set()
    assert h.gates.check(order("AAA")) is None


@pytest.mark.parametrize("reducing", [False, True])
def test_market_closed_blocks_every_order(reducing: bool) -> None:
    h = Harness()
    why = h.gates.check(order(), market_open=False, reducing=reducing)
    assert why is not None
    assert why.code is ReasonCode.MARKET_CLOSED_BLOCK
    assert why.context == {"symbol": "AAA"}
    assert h.gates.check(order(), market_open=True, reducing=reducing) is None
    assert h.gates.check(order(), market_open=None, reducing=reducing) is None  # no sessions


# -- stale data -----------------------------------------------------------------------------


def test_no_bar_yet_is_stale() -> None:
    h = Harness()
    why = h.gates.check(order("ZZZ"))
    assert why is not None
    assert why.code is ReasonCode.STALE_DATA_BLOCK
    assert why.context == {"symbol": "ZZZ", "age_s": None, "limit": 10.0}


@pytest.mark.parametrize("reducing", [False, True])
def test_stale_data_at_below_and_above_the_limit(reducing: bool) -> None:
    h = Harness(cfg(max_data_age_s=10.0))  # AAA's last bar closed at T0
    h.clock.advance(9.0)
    assert h.gates.check(order(), reducing=reducing) is None
    h.clock.advance(1.0)
    assert h.gates.check(order(), reducing=reducing) is None  # exactly 10 s: passes
    h.clock.set(T0 + 10 * NS_PER_S + 1)
    assert code(h.gates.check(order(), reducing=reducing)) is ReasonCode.STALE_DATA_BLOCK
    h.clock.set(T0 + 11 * NS_PER_S)
    why = h.gates.check(order(), reducing=reducing)
    assert why is not None
    assert why.context == {"symbol": "AAA", "age_s": 11.0, "limit": 10.0}
    h.fresh()
    assert h.gates.check(order(), reducing=reducing) is None


def test_age_counts_from_the_bar_close_not_its_open() -> None:
    h = Harness(cfg(max_data_age_s=10.0))
    h.clock.advance(300)
    h.gates.on_bar(bar("AAA", 100.0, h.clock.now_ns(), interval_s=300.0))  # opened 300 s ago
    assert h.gates.check(order()) is None


def test_an_older_bar_does_not_replace_the_last_close() -> None:
    h = Harness(cfg(max_data_age_s=10.0))
    h.gates.on_bar(bar("AAA", 50.0, T0 - 60 * NS_PER_S))
    assert h.gates.snapshot()["symbols"]["AAA"]["last_close"] == "100.0"


@pytest.mark.parametrize("close", [float("nan"), float("inf"), 0.0, -1.0])
def test_a_bad_close_reaching_the_oms_is_an_invariant_violation(close: float) -> None:
    h = Harness()
    with pytest.raises(InvariantViolation):
        h.gates.on_bar(bar("AAA", close, T0 + NS_PER_S))


# -- order size -----------------------------------------------------------------------------


@pytest.mark.parametrize("reducing", [False, True])
def test_max_order_qty_at_below_and_above(reducing: bool) -> None:
    h = Harness(cfg(max_order_qty=D(100), max_order_usd=D(10**9)))
    assert h.gates.check(order(qty="99"), reducing=reducing) is None
    assert h.gates.check(order(qty="100"), reducing=reducing) is None
    why = h.gates.check(order(qty="100.000001"), reducing=reducing)
    assert why is not None
    assert why.code is ReasonCode.ORDER_SIZE_BLOCK
    assert why.context == {"symbol": "AAA", "check": "qty", "value": "100.000001", "limit": "100"}


@pytest.mark.parametrize("reducing", [False, True])
def test_max_order_usd_exactly_at_the_limit_passes_one_cent_above_blocks(reducing: bool) -> None:
    h = Harness(cfg(max_order_usd=D(1000)), close=1000.0)
    assert h.gates.check(order(limit_price="999.99"), reducing=reducing) is None
    assert h.gates.check(order(limit_price="1000.00"), reducing=reducing) is None
    why = h.gates.check(order(limit_price="1000.01"), reducing=reducing)
    assert why is not None
    assert why.code is ReasonCode.ORDER_SIZE_BLOCK
    assert why.context == {
        "symbol": "AAA",
        "check": "usd",
        "value": "1000.01",
        "limit": "1000",
        "ref_price": "1000.01",
    }


def test_reference_price_is_limit_then_arrival_then_last_close() -> None:
    h = Harness(cfg(max_order_usd=D(1000), collar_bps=9000.0))  # last close 100
    assert h.gates.check(order(qty="10")) is None  # 10 x last 100 = 1000
    why = h.gates.check(order(qty="10.01"))
    assert why is not None
    assert why.context["ref_price"] == "100.0"
    why = h.gates.check(order(qty="10", arrival_price="100.5"))
    assert why is not None
    assert why.context["ref_price"] == "100.5"
    why = h.gates.check(order(qty="10", arrival_price="99", limit_price="101"))
    assert why is not None
    assert why.context["ref_price"] == "101"
    assert h.gates.check(order(qty="10", arrival_price="101", limit_price="99")) is None


@pytest.mark.parametrize("price", ["0", "-5"])
def test_a_non_positive_reference_price_is_an_invariant_violation(price: str) -> None:
    h = Harness()
    with pytest.raises(InvariantViolation):
        h.gates.check(order(limit_price=price))


@settings(max_examples=200, deadline=None)
@given(
    qty=st.integers(1, 10_000).map(lambda n: D(n) / 100),
    cents=st.integers(9_000, 11_000),
    limit=st.integers(1, 20_000),
)
def test_size_blocks_exactly_when_notional_exceeds_the_limit(
    qty: Decimal, cents: int, limit: int
) -> None:
    h = Harness(cfg(max_order_usd=D(limit), collar_bps=5000.0))
    price = D(cents) / 100
    why = h.gates.check(order(qty=qty, limit_price=price))
    assert (code(why) is ReasonCode.ORDER_SIZE_BLOCK) == (qty * price > limit)
    assert why is None or why.code is ReasonCode.ORDER_SIZE_BLOCK


# -- price collars --------------------------------------------------------------------------


@pytest.mark.parametrize("reducing", [False, True])
@pytest.mark.parametrize(
    ("price", "blocked_bps"),
    [
        ("101.99", None),
        ("102", None),  # exactly 200 bps above last 100
        ("98", None),  # exactly 200 bps below
        ("102.01", 201.0),
        ("97.99", 201.0),
    ],
)
def test_order_collar_at_below_and_above(
    price: str, blocked_bps: float | None, reducing: bool
) -> None:
    h = Harness(cfg(collar_bps=200.0))
    for intent in (order(limit_price=price), order(arrival_price=price)):
        why = h.gates.check(intent, reducing=reducing)
        if blocked_bps is None:
            assert why is None
            continue
        assert why is not None
        assert why.code is ReasonCode.PRICE_COLLAR_BLOCK
        assert why.context == {
            "symbol": "AAA",
            "check": "order",
            "value_bps": blocked_bps,
            "limit_bps": 200.0,
            "ref_price": price,
            "last": "100.0",
        }


def _window_harness(closes: list[float], step_s: float = 60.0) -> Harness:
    """Closes ``step_s`` apart, the last one closing now; default 300 s window, 500 bps."""
    h = Harness(cfg(collar_bps=5000.0, collar_window_bps=500.0, collar_window_s=300.0))
    for close in closes:
        h.clock.advance(step_s)
        h.gates.on_bar(bar("AAA", close, h.clock.now_ns()))
    return h


@pytest.mark.parametrize("reducing", [False, True])
@pytest.mark.parametrize(
    ("closes", "blocked"),
    [
        ([100.0, 102.0, 104.99], False),
        ([100.0, 102.0, 105.0], False),  # last/min - 1 = exactly 500 bps
        ([100.0, 102.0, 105.01], True),  # 501 bps above the window's low
        ([100.0, 97.0, 95.0], False),  # 1 - last/max = exactly 500 bps
        ([100.0, 97.0, 94.99], True),  # 501 bps below the window's high
    ],
)
def test_window_collar_at_below_and_above(
    closes: list[float], blocked: bool, reducing: bool
) -> None:
    h = _window_harness(closes)
    why = h.gates.check(order(), reducing=reducing)  # a market order: ref = last, no order collar
    if not blocked:
        assert why is None
        return
    assert why is not None
    assert why.code is ReasonCode.PRICE_COLLAR_BLOCK
    last = str(closes[-1])
    assert why.context == {
        "symbol": "AAA",
        "check": "window",
        "value_bps": 501.0,
        "limit_bps": 500.0,
        "window_s": 300.0,
        "last": last,
        "window_min": last if closes[-1] < 100 else "100.0",
        "window_max": "100.0" if closes[-1] < 100 else last,
    }


def test_window_collar_forgets_closes_once_they_leave_the_window() -> None:
    h = _window_harness([100.0, 105.01], step_s=240.0)  # 240 s apart: both in the window
    assert code(h.gates.check(order())) is ReasonCode.PRICE_COLLAR_BLOCK
    h.clock.advance(60.0)  # the 100 close is now exactly 300 s old: out of the window
    h.gates.on_bar(bar("AAA", 105.01, h.clock.now_ns()))
    assert h.gates.check(order()) is None


@settings(max_examples=200, deadline=None)
@given(
    closes=st.lists(st.integers(9_000, 11_000), min_size=1, max_size=8),
    bps=st.integers(1, 1_500),
)
def test_window_collar_means_last_within_bps_of_every_close_in_the_window(
    closes: list[int], bps: int
) -> None:
    h = Harness(cfg(collar_bps=9999.0, collar_window_bps=float(bps), collar_window_s=3600.0))
    prices = [c / 100 for c in closes]
    for price in prices:
        h.clock.advance(60)
        h.gates.on_bar(bar("AAA", price, h.clock.now_ns()))
    prices.append(100.0)  # the harness's first bar, at T0, is in the window too
    last = D(repr(prices[-2]))
    far = any(abs(last / D(repr(p)) - 1) * 10_000 > bps for p in prices)
    why = h.gates.check(order())
    assert (why is not None) == far
    assert why is None or why.context["check"] == "window"


# -- duplicates -----------------------------------------------------------------------------


@pytest.mark.parametrize("reducing", [False, True])
def test_same_content_within_the_window_at_below_and_above(reducing: bool) -> None:
    h = Harness(cfg(duplicate_window_s=3600.0))
    assert h.send(order(cid="first", qty="5", bar_ts_ns=42)) is None
    h.clock.advance(3599)
    h.fresh()
    why = h.gates.check(order(cid="second", qty="5.0", bar_ts_ns=42), reducing=reducing)
    assert why is not None
    assert why.code is ReasonCode.DUPLICATE_ORDER_BLOCK
    assert why.context == {
        "symbol": "AAA",
        "by": "content",
        "client_order_id": "second",
        "first_client_order_id": "first",
        "side": "BUY",
        "qty": "5.0",
        "bar_ts_ns": 42,
        "age_s": 3599.0,
        "window_s": 3600.0,
    }
    h.clock.advance(1)  # exactly 3600 s: out of the window
    h.fresh()
    assert h.gates.check(order(cid="second", qty="5", bar_ts_ns=42), reducing=reducing) is None


@pytest.mark.parametrize(
    "other",
    [
        {"symbol": "BBB"},
        {"side": Side.SELL},
        {"qty": "6"},
        {"bar_ts_ns": 43},
    ],
)
def test_content_differing_in_any_part_is_not_a_duplicate(other: dict[str, Any]) -> None:
    h = Harness()
    assert h.send(order(qty="5", bar_ts_ns=42)) is None
    fields: dict[str, Any] = {"qty": "5", "bar_ts_ns": 42, **other}
    assert h.gates.check(order(**fields)) is None


def test_checking_does_not_count_as_submitting() -> None:
    h = Harness(cfg(max_orders_per_min=1))
    intent = order(cid="X")
    for _ in range(5):
        assert h.gates.check(intent) is None
    h.gates.on_submitted(intent)
    assert code(h.gates.check(intent)) is ReasonCode.DUPLICATE_ORDER_BLOCK


# -- rate throttles -------------------------------------------------------------------------


@pytest.mark.parametrize("reducing", [False, True])
def test_global_rate_tenth_passes_eleventh_blocks_after_60s_passes_again(reducing: bool) -> None:
    h = Harness(cfg(max_orders_per_min=10, max_orders_per_symbol_per_min=100, max_data_age_s=1e6))
    for i in range(10):
        assert h.send(order(SYMBOLS[i % 2]), reducing=reducing) is None
    why = h.gates.check(order("BBB"), reducing=reducing)
    assert why is not None
    assert why.code is ReasonCode.RATE_THROTTLE_BLOCK
    assert why.context == {
        "scope": "global",
        "count": 11,
        "limit": 10,
        "symbol": "BBB",
        "window_s": 60.0,
    }
    h.clock.set(T0 + 60 * NS_PER_S - 1)
    assert code(h.gates.check(order("BBB"), reducing=reducing)) is ReasonCode.RATE_THROTTLE_BLOCK
    h.clock.set(T0 + 60 * NS_PER_S)
    assert h.gates.check(order("BBB"), reducing=reducing) is None


def test_per_symbol_rate_at_below_and_above() -> None:
    h = Harness(cfg(max_orders_per_min=100, max_orders_per_symbol_per_min=3, max_data_age_s=1e6))
    for _ in range(3):
        assert h.send(order("AAA")) is None
    why = h.gates.check(order("AAA"))
    assert why is not None
    assert why.code is ReasonCode.RATE_THROTTLE_BLOCK
    assert why.context == {
        "scope": "symbol",
        "count": 4,
        "limit": 3,
        "symbol": "AAA",
        "window_s": 60.0,
    }
    assert h.gates.check(order("BBB")) is None
    h.clock.advance(60)
    assert h.gates.check(order("AAA")) is None


def test_the_global_rate_is_checked_before_the_symbol_rate() -> None:
    h = Harness(cfg(max_orders_per_min=2, max_orders_per_symbol_per_min=2, max_data_age_s=1e6))
    h.send(order())
    h.send(order())
    why = h.gates.check(order())
    assert why is not None
    assert why.context["scope"] == "global"


@settings(max_examples=100, deadline=None)
@given(gaps=st.lists(st.integers(0, 40), min_size=1, max_size=40), limit=st.integers(1, 6))
def test_rate_matches_a_rolling_60s_model(gaps: list[int], limit: int) -> None:
    # Only the global rate is under test: the execution throttle must not fire first.
    h = Harness(
        cfg(
            max_orders_per_min=limit,
            max_orders_per_symbol_per_min=100,
            max_executions=10_000,
            max_data_age_s=1e6,
        )
    )
    sent: list[int] = []
    for gap in gaps:
        h.clock.advance(gap)
        now = h.clock.now_ns()
        in_window = sum(1 for t in sent if now - t < 60 * NS_PER_S)
        why = h.send(order())
        assert (why is None) == (in_window < limit)
        if why is None:
            sent.append(now)


def test_cancel_rate_at_below_and_above() -> None:
    h = Harness(cfg(max_cancels_per_min=3, cancel_loop_max_cancels=100))
    for _ in range(3):
        assert h.gates.cancel_allowed() is None
        h.gates.on_cancel("AAA")
    why = h.gates.cancel_allowed()
    assert why is not None
    assert why.code is ReasonCode.RATE_THROTTLE_BLOCK
    assert why.context == {"scope": "cancels", "count": 4, "limit": 3, "window_s": 60.0}
    h.clock.advance(59)
    assert h.gates.cancel_allowed() is not None
    h.clock.advance(1)
    assert h.gates.cancel_allowed() is None


# -- cancel loop ----------------------------------------------------------------------------


def test_cancel_loop_blocks_for_exactly_n_bars() -> None:
    h = Harness(cfg(cancel_loop_max_cancels=3, cancel_loop_block_bars=2))
    for _ in range(2):
        h.gates.on_cancel("AAA")
    assert h.gates.check(order()) is None  # below the limit
    h.gates.on_cancel("AAA")
    why = h.gates.check(order())
    assert why is not None
    assert why.code is ReasonCode.CANCEL_LOOP_BLOCK
    assert why.context == {"symbol": "AAA", "bars_left": 2, "max_cancels": 3, "block_bars": 2}
    assert h.gates.check(order("BBB")) is None
    h.clock.advance(60)
    h.fresh(symbols=("BBB",))  # another symbol's bar does not count down AAA's block
    h.fresh(symbols=("AAA",))
    why = h.gates.check(order())
    assert why is not None
    assert why.context["bars_left"] == 1
    h.clock.advance(60)
    h.fresh()
    assert h.gates.check(order()) is None


def test_a_fill_resets_the_cancel_count() -> None:
    h = Harness(cfg(cancel_loop_max_cancels=3, cancel_loop_block_bars=2))
    h.gates.on_cancel("AAA")
    h.gates.on_cancel("AAA")
    h.gates.on_fill(fill("AAA"))
    h.gates.on_cancel("AAA")
    h.gates.on_cancel("AAA")
    assert h.gates.check(order()) is None
    assert h.gates.snapshot()["symbols"]["AAA"]["cancels_since_fill"] == 2
    h.gates.on_cancel("AAA")
    assert code(h.gates.check(order())) is ReasonCode.CANCEL_LOOP_BLOCK


def test_the_streak_starts_again_after_a_block() -> None:
    h = Harness(cfg(cancel_loop_max_cancels=2, cancel_loop_block_bars=1))
    h.gates.on_cancel("AAA")
    h.gates.on_cancel("AAA")
    h.clock.advance(60)
    h.fresh()
    assert h.gates.check(order()) is None
    h.gates.on_cancel("AAA")
    assert h.gates.check(order()) is None
    h.gates.on_cancel("AAA")
    assert code(h.gates.check(order())) is ReasonCode.CANCEL_LOOP_BLOCK


def test_a_cancel_loop_does_not_stop_a_reducing_order() -> None:
    h = Harness(cfg(cancel_loop_max_cancels=1))
    h.gates.on_cancel("AAA")
    assert code(h.gates.check(order())) is ReasonCode.CANCEL_LOOP_BLOCK
    assert h.gates.check(order(), reducing=True) is None


# -- repeated-execution throttle ------------------------------------------------------------


def _exec_harness(limit: int = 3) -> Harness:
    return Harness(
        cfg(
            max_executions=limit,
            executions_window_s=600.0,
            max_orders_per_min=100,
            max_orders_per_symbol_per_min=100,
            max_data_age_s=1e6,
        )
    )


def test_execution_throttle_disables_once_until_a_person_re_enables() -> None:
    h = _exec_harness(limit=3)
    for _ in range(3):
        assert h.send(order()) is None  # at the limit: passes
    why = h.gates.check(order())
    assert why is not None
    assert why.code is ReasonCode.EXECUTION_THROTTLE_DISABLE
    assert why.context == {"symbol": "AAA", "count": 4, "limit": 3, "window_s": 600.0}
    assert h.disables == [("AAA", why)]
    assert h.gates.disabled() == {"AAA"}
    h.clock.advance(3600)  # long after the window: still disabled, never re-enabled by time
    for _ in range(3):
        assert code(h.gates.check(order())) is ReasonCode.SYMBOL_DISABLED_BLOCK
    assert len(h.disables) == 1
    assert h.gates.check(order("BBB")) is None
    assert h.gates.check(order(), reducing=True) is None  # can still be flattened
    snap = h.gates.snapshot()
    assert snap["disabled_symbols"] == ["AAA"]
    assert snap["symbols"]["AAA"]["disabled"] is True
    h.gates.enable_symbol("AAA")
    assert h.gates.check(order()) is None
    assert len(h.disables) == 1


def test_enabling_restarts_the_execution_count() -> None:
    h = _exec_harness(limit=2)
    h.send(order())
    h.send(order())
    assert code(h.gates.check(order())) is ReasonCode.EXECUTION_THROTTLE_DISABLE
    h.gates.enable_symbol("AAA")  # straight away, inside the window
    assert h.send(order()) is None
    assert h.send(order()) is None
    assert code(h.gates.check(order())) is ReasonCode.EXECUTION_THROTTLE_DISABLE
    assert len(h.disables) == 2


def test_executions_leave_the_window() -> None:
    h = _exec_harness(limit=3)
    for _ in range(3):
        h.send(order())
    h.clock.advance(599)
    assert code(h.gates.check(order("BBB"))) is None
    assert h.gates.snapshot()["symbols"]["AAA"]["executions_in_window"] == 3
    h.clock.advance(1)
    assert h.gates.check(order()) is None
    assert h.disables == []


def test_reducing_orders_never_trigger_the_execution_throttle_but_count() -> None:
    h = _exec_harness(limit=2)
    for _ in range(4):
        assert h.send(order(), reducing=True) is None
    assert h.disables == []
    assert code(h.gates.check(order())) is ReasonCode.EXECUTION_THROTTLE_DISABLE


def test_protective_exit_legs_do_not_count_as_executions() -> None:
    # An entry and its stop-loss and take-profit legs are one trade, not three: with the legs
    # counted, a paper run's symbols were disabled a few minutes into `make run`.
    h = _exec_harness(limit=2)
    for _ in range(2):
        assert h.send(order()) is None
        for role in (ExitRole.STOP_LOSS, ExitRole.TAKE_PROFIT):
            leg = attrs.evolve(order(side=Side.SELL), exit_role=role)
            assert h.send(leg, reducing=True) is None
    assert h.gates.snapshot()["symbols"]["AAA"]["executions_in_window"] == 2
    assert h.disables == []
    assert code(h.gates.check(order())) is ReasonCode.EXECUTION_THROTTLE_DISABLE


def test_disabling_works_without_a_callback() -> None:
    clock = SimClock(T0)
    gates = PretradeGates(cfg(max_executions=1), clock, configured_symbols=SYMBOLS)
    gates.on_bar(bar("AAA", 100.0, T0))
    gates.on_submitted(order())
    assert code(gates.check(order())) is ReasonCode.EXECUTION_THROTTLE_DISABLE
    assert code(gates.check(order())) is ReasonCode.SYMBOL_DISABLED_BLOCK


# -- gate order and reducing exemptions ------------------------------------------------------

GATES: list[tuple[str, ReasonCode, bool]] = [  # (gate, code, applies to reducing orders)
    ("canary", ReasonCode.CANARY_MODE_ACTIVE, False),
    ("allowed", ReasonCode.SYMBOL_NOT_ALLOWED_BLOCK, True),
    ("disabled", ReasonCode.SYMBOL_DISABLED_BLOCK, False),
    ("market", ReasonCode.MARKET_CLOSED_BLOCK, True),
    ("stale", ReasonCode.STALE_DATA_BLOCK, True),
    ("size", ReasonCode.ORDER_SIZE_BLOCK, True),
    ("collar", ReasonCode.PRICE_COLLAR_BLOCK, True),
    ("duplicate", ReasonCode.DUPLICATE_ORDER_BLOCK, True),
    ("rate", ReasonCode.RATE_THROTTLE_BLOCK, True),
    ("cancel_loop", ReasonCode.CANCEL_LOOP_BLOCK, False),
    ("executions", ReasonCode.EXECUTION_THROTTLE_DISABLE, False),
]


def scenario(failing: set[str]) -> tuple[Harness, OrderIntent, dict[str, Any]]:
    """AAA with exactly the gates named in ``failing`` failing."""
    h = Harness(
        cfg(
            canary_symbols=["ZZZ"] if "canary" in failing else [],
            allowed_symbols=["ZZZ"] if "allowed" in failing else [],
            max_data_age_s=10.0,
            max_order_qty=D(5) if "size" in failing else D(100),
            collar_bps=200.0,
            max_orders_per_min=1 if "rate" in failing else 100,
            cancel_loop_max_cancels=1 if "cancel_loop" in failing else 100,
            max_executions=1 if "executions" in failing else 100,
        ),
        disabled_symbols={"AAA"} if "disabled" in failing else None,
    )
    h.gates.on_submitted(order(cid="earlier"))
    intent = order(cid="the-order", qty="6", limit_price="150" if "collar" in failing else "100")
    if "duplicate" in failing:  # the same content, sent a moment ago under another id
        h.gates.on_submitted(attrs.evolve(intent, client_order_id="first"))
    if "cancel_loop" in failing:
        h.gates.on_cancel("AAA")
    if "stale" in failing:
        h.clock.advance(11)
    return h, intent, {"market_open": "market" not in failing}


@pytest.mark.parametrize("first", range(len(GATES)))
def test_the_first_failing_gate_wins(first: int) -> None:
    h, intent, kwargs = scenario({name for name, _, _ in GATES[first:]})
    assert code(h.gates.check(intent, **kwargs)) is GATES[first][1]


def test_with_nothing_failing_the_scenario_passes() -> None:
    h, intent, kwargs = scenario(set())
    assert h.gates.check(intent, **kwargs) is None
    assert h.gates.check(intent, reducing=True, **kwargs) is None


@pytest.mark.parametrize(("name", "expected", "applies"), GATES)
def test_reducing_orders_skip_only_the_documented_gates(
    name: str, expected: ReasonCode, applies: bool
) -> None:
    h, intent, kwargs = scenario({name})
    assert code(h.gates.check(intent, **kwargs)) is expected
    h, intent, kwargs = scenario({name})
    assert code(h.gates.check(intent, reducing=True, **kwargs)) is (expected if applies else None)
    assert h.disables == []


# -- a block never changes the order -------------------------------------------------------


@pytest.mark.parametrize("failing", [name for name, _, _ in GATES])
def test_a_block_returns_a_reason_and_leaves_the_intent_alone(failing: str) -> None:
    h, intent, kwargs = scenario({failing})
    before = attrs.evolve(intent)
    why = h.gates.check(intent, **kwargs)
    assert isinstance(why, Reason)
    assert intent == before
    assert intent.qty == D(6)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        intent.qty = D(1)  # type: ignore[misc]


@settings(max_examples=100, deadline=None)
@given(qty=st.integers(1, 500).map(D), cents=st.integers(5_000, 20_000))
def test_check_answers_pass_or_reason_never_a_smaller_order(qty: Decimal, cents: int) -> None:
    h = Harness(cfg(max_order_qty=D(100), max_order_usd=D(20_000)))
    intent = order(qty=qty, limit_price=D(cents) / 100)
    before = attrs.evolve(intent)
    why = h.gates.check(intent)
    assert why is None or isinstance(why, Reason)
    assert intent == before


# -- snapshot ---------------------------------------------------------------------------------


def test_snapshot_is_json_ready_and_reports_the_state() -> None:
    h = Harness(cfg(cancel_loop_max_cancels=2, cancel_loop_block_bars=3))
    h.send(order("AAA"))
    h.gates.on_cancel("AAA")
    h.gates.on_cancel("AAA")
    h.clock.advance(5)
    snap = orjson.loads(orjson.dumps(h.gates.snapshot()))
    assert snap["orders_last_min"] == 1
    assert snap["cancels_last_min"] == 2
    assert snap["disabled_symbols"] == []
    assert list(snap["symbols"]) == SYMBOLS
    assert snap["symbols"]["AAA"] == {
        "last_close": "100.0",
        "data_age_s": 5.0,
        "orders_last_min": 1,
        "executions_in_window": 1,
        "cancels_since_fill": 0,
        "cancel_loop_bars_left": 3,
        "disabled": False,
    }
    assert snap["symbols"]["ZZZ"]["last_close"] is None
