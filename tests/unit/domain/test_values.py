"""Values that cross the order boundary: rounding to tick and lot, positions, intents."""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantbot.domain.values import (
    Fill,
    Instrument,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    Side,
    to_decimal,
)

D = Decimal
CENT = Instrument("AAPL", "0.01", "1")
NICKEL = Instrument("XYZ", "0.05", "1")
MILLI = Instrument("BTC", "0.5", "0.001")


# -- to_decimal -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.1, D("0.1")), (100.05, D("100.05")), (3, D(3)), ("2.50", D("2.50")), (D("7.1"), D("7.1"))],
)
def test_to_decimal_keeps_the_value_a_user_wrote(value: object, expected: Decimal) -> None:
    result = to_decimal(value)  # type: ignore[arg-type]
    assert result == expected
    assert str(result) == str(expected)  # 0.1 is 0.1, not its binary expansion


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, "NaN", "Infinity", D("NaN"), D("-Infinity")]
)
def test_to_decimal_refuses_non_finite_numbers(value: object) -> None:
    with pytest.raises(ValueError, match=r"non-finite number .* cannot cross the order boundary"):
        to_decimal(value)  # type: ignore[arg-type]


def test_to_decimal_keeps_the_sign_of_zero_and_each_float_s_own_value() -> None:
    # A float converted twice in a row is looked up, not converted again: an equal float
    # with another spelling (-0.0 after 0.0) must still come out as itself.
    assert str(to_decimal(0.0)) == "0.0"
    assert str(to_decimal(-0.0)) == "-0.0"
    close = 101.25
    assert to_decimal(close) is to_decimal(close)
    assert str(to_decimal(float("101.250"))) == "101.25"


# -- Instrument rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "price", "expected"),
    [
        (CENT, 100.004, "100"),
        (CENT, 100.006, "100.01"),
        (CENT, 100.005, "100"),  # half-even: 10000.5 ticks -> 10000
        (CENT, 100.015, "100.02"),  # half-even: 10001.5 ticks -> 10002
        (CENT, D("99.999"), "100"),
        (CENT, 0.001, "0.01"),  # never zero for a positive price
        (NICKEL, 10.02, "10"),
        (NICKEL, 10.03, "10.05"),
        (NICKEL, 10.075, "10.1"),  # 201.5 ticks -> 202
        (NICKEL, 0.01, "0.05"),
        (MILLI, 64_000.26, "64000.5"),
    ],
)
def test_round_price_to_nearest_tick(instrument: Instrument, price: object, expected: str) -> None:
    result = instrument.round_price(price)  # type: ignore[arg-type]
    assert result == D(expected)
    assert str(result) == expected  # no exponent notation ("1E+2") reaches a venue


@pytest.mark.parametrize(
    ("instrument", "qty", "expected"),
    [
        (CENT, 10.9, "10"),
        (CENT, -10.9, "-10"),
        (CENT, 0.99, "0"),
        (CENT, -0.99, "0"),
        (CENT, D("100"), "100"),
        (CENT, 1e6, "1000000"),
        (MILLI, 1.23456, "1.234"),
        (MILLI, -1.23456, "-1.234"),
        (MILLI, 0.0009, "0"),
        (MILLI, D("2.000"), "2"),
    ],
)
def test_round_qty_to_whole_lots_toward_zero(
    instrument: Instrument, qty: object, expected: str
) -> None:
    result = instrument.round_qty(qty)  # type: ignore[arg-type]
    assert result == D(expected)
    assert str(result) == expected


LOTS = st.sampled_from([D("1"), D("0.001"), D("0.5"), D("100")])
QTYS = st.decimals(
    min_value=-(10**7), max_value=10**7, allow_nan=False, allow_infinity=False, places=6
)


@settings(derandomize=True, max_examples=300)
@given(lot=LOTS, qty=QTYS)
def test_round_qty_never_increases_size_and_lands_on_a_lot(lot: Decimal, qty: Decimal) -> None:
    result = Instrument("S", "0.01", lot).round_qty(qty)
    assert abs(result) <= abs(qty)
    assert abs(qty) - abs(result) < lot
    assert result % lot == 0
    assert result == 0 or (result > 0) == (qty > 0)


TICKS = st.sampled_from([D("0.01"), D("0.05"), D("0.5"), D("0.0001")])
PRICES = st.decimals(min_value=D("0.0001"), max_value=10**6, places=4)


@settings(derandomize=True, max_examples=300)
@given(tick=TICKS, price=PRICES)
def test_round_price_is_a_positive_tick_within_half_a_tick(tick: Decimal, price: Decimal) -> None:
    result = Instrument("S", tick, "1").round_price(price)
    assert result > 0
    assert result % tick == 0
    assert abs(result - price) <= tick / 2 or result == tick


def test_instrument_rejects_non_positive_increments() -> None:
    with pytest.raises(ValueError, match="tick_size must be a positive finite Decimal"):
        Instrument("S", "0", "1")
    with pytest.raises(ValueError, match="lot_size must be a positive finite Decimal"):
        Instrument("S", "0.01", "-1")
    with pytest.raises(ValueError, match="non-finite"):
        Instrument("S", math.nan, "1")


def test_math_nan_is_refused_as_the_first_float_a_process_converts() -> None:
    # The converter caches the last float it saw; a fresh process has seen none, which is
    # where a placeholder once turned ``math.nan`` into Decimal(0).
    code = (
        "import math\n"
        "from quantbot.domain.values import to_decimal\n"
        "try:\n"
        "    print(to_decimal(math.nan))\n"
        "except ValueError as e:\n"
        "    print('refused', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused non-finite number nan"), out.stdout


# -- Position.apply_fill ------------------------------------------------------------------------

_seq = iter(range(1, 10_000))


def fill(side: Side, qty: str, price: str, fee: str = "0") -> Fill:
    n = next(_seq)
    return Fill(f"f{n}", "c1", "AAPL", side, D(qty), D(price), D(fee), ts_ns=n, seq=n)


def test_open_long_charges_the_fee() -> None:
    pos = Position("AAPL").apply_fill(fill(Side.BUY, "10", "100", fee="1.5"))
    assert (pos.qty, pos.avg_price, pos.realized_pnl) == (D(10), D(100), D("-1.5"))


def test_adding_averages_the_entry_price() -> None:
    pos = Position("AAPL").apply_fill(fill(Side.BUY, "10", "100"))
    pos = pos.apply_fill(fill(Side.BUY, "30", "120"))
    assert (pos.qty, pos.avg_price, pos.realized_pnl) == (D(40), D(115), D(0))


def test_partial_close_realises_pnl_and_keeps_the_entry_price() -> None:
    pos = Position("AAPL").apply_fill(fill(Side.BUY, "10", "100", fee="1"))
    pos = pos.apply_fill(fill(Side.SELL, "4", "110", fee="0.5"))
    assert pos.qty == D(6)
    assert pos.avg_price == D(100)
    assert pos.realized_pnl == D(4 * 10) - D("1.5")
    assert pos.unrealized_pnl(D(105)) == D(30)


def test_closing_to_zero_resets_the_entry_price() -> None:
    pos = Position("AAPL").apply_fill(fill(Side.BUY, "10", "100"))
    pos = pos.apply_fill(fill(Side.SELL, "10", "90", fee="2"))
    assert (pos.qty, pos.avg_price, pos.realized_pnl) == (D(0), D(0), D(-102))
    assert pos.unrealized_pnl(D(1)) == 0


def test_flip_through_zero_realises_the_old_side_and_opens_at_the_fill_price() -> None:
    pos = Position("AAPL").apply_fill(fill(Side.BUY, "10", "100"))
    pos = pos.apply_fill(fill(Side.SELL, "15", "90", fee="1"))
    assert pos.qty == D(-5)
    assert pos.avg_price == D(90)
    assert pos.realized_pnl == D(-100) - D(1)


def test_short_side_profits_when_price_falls() -> None:
    pos = Position("AAPL").apply_fill(fill(Side.SELL, "5", "90"))
    assert (pos.qty, pos.avg_price) == (D(-5), D(90))
    assert pos.unrealized_pnl(D(80)) == D(50)
    pos = pos.apply_fill(fill(Side.BUY, "5", "80"))
    assert (pos.qty, pos.realized_pnl) == (D(0), D(50))


# -- OrderIntent --------------------------------------------------------------------------------


def intent(**overrides: object) -> OrderIntent:
    fields: dict[str, object] = {
        "client_order_id": "qb1",
        "decision_id": "AAPL@0",
        "symbol": "AAPL",
        "side": Side.BUY,
        "qty": D(1),
    }
    fields.update(overrides)
    return OrderIntent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("qty", [D(0), D(-1), D("NaN"), 1.0, 1])
def test_intent_rejects_a_quantity_that_is_not_a_positive_decimal(qty: object) -> None:
    with pytest.raises(ValueError, match="intent qty must be a positive Decimal"):
        intent(qty=qty)


def test_limit_and_stop_intents_need_their_price() -> None:
    with pytest.raises(ValueError, match="a LIMIT intent needs limit_price"):
        intent(order_type=OrderType.LIMIT)
    with pytest.raises(ValueError, match="a STOP intent needs stop_price"):
        intent(order_type=OrderType.STOP)
    ok = intent(order_type=OrderType.LIMIT, limit_price=D("10.01"))
    assert ok.limit_price == D("10.01")


def test_side_and_status_helpers() -> None:
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert Side.BUY.opposite() is Side.SELL
    open_ = {s for s in OrderStatus if s.is_open}
    assert open_ == {
        OrderStatus.NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.UNKNOWN,
        OrderStatus.LOST,  # it may still execute: it counts until the venue proves it
    }


@pytest.mark.parametrize("price", ["0", "-1.5"])
def test_round_price_refuses_a_non_positive_price(price: str) -> None:
    with pytest.raises(ValueError, match="not positive"):
        Instrument("S", "0.01", "1").round_price(Decimal(price))


@pytest.mark.parametrize("qty", [math.nan, math.inf, -math.inf])
def test_round_qty_refuses_a_non_finite_float_size(qty: float) -> None:
    with pytest.raises(ValueError, match=r"non-finite number .* cannot cross the order boundary"):
        MILLI.round_qty(qty)


@pytest.mark.parametrize("qty", [0.1 + 0.2, 1 / 3, -2.675, 12345.6789e-3, -0.0, 5e-324])
def test_round_qty_of_a_float_is_the_round_qty_of_its_decimal(qty: float) -> None:
    assert str(MILLI.round_qty(qty)) == str(MILLI.round_qty(to_decimal(qty)))
