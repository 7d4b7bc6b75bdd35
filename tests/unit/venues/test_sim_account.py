"""The paper venue's account read every batch (issue 23): equity and gross exposure worked out
in one pass on the bars with nothing working, to the same Decimal digits as each alone (the
account feeds the sizing, the buying-power check and the drawdown breaker)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantbot.domain.values import Order, OrderStatus, OrderType, Position, Side
from quantbot.venues.sim.state import SimBook

D = Decimal


def book() -> SimBook:
    """Positions entered out of symbol order: a long, a short, a flat one, one never marked."""
    b = SimBook(cash=D("100000.125"))
    b.positions["ZZZ"] = Position("ZZZ", qty=D("3"), avg_price=D("10.5"))
    b.positions["AAA"] = Position("AAA", qty=D("-2.5"), avg_price=D("40"))
    b.positions["MMM"] = Position("MMM", qty=D("0"), avg_price=D("0"))
    b.positions["NOM"] = Position("NOM", qty=D("1"), avg_price=D("7.25"))  # no bar yet
    b.set_mark("ZZZ", D("11.10"))
    b.set_mark("AAA", D("39.975"))
    b.set_mark("MMM", D("5"))
    return b


def test_equity_and_gross_of_a_book_with_nothing_working_to_the_digit() -> None:
    equity, gross = book().equity_and_gross()
    # cash + 3 x 11.10 - 2.5 x 39.975 + 1 x 7.25 (an unmarked position at its entry price)
    assert str(equity) == "99940.7375"
    assert str(gross) == "140.4875"  # 99.9375 + 7.25 + 33.30, summed in symbol order


def test_equity_and_gross_are_what_equity_and_gross_exposure_say_alone() -> None:
    b = book()
    assert tuple(map(str, b.equity_and_gross())) == (str(b.equity()), str(b.gross_exposure()))
    b.set_mark("AAA", D("0.00"))  # a zero mark: the same zero, to the same digits
    assert tuple(map(str, b.equity_and_gross())) == (str(b.equity()), str(b.gross_exposure()))


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_working_order_counts_in_the_gross_exposure_as_before(side: Side) -> None:
    b = book()
    b.put_order(
        Order(
            client_order_id="c1", venue_order_id="v1", symbol="ZZZ", side=side,
            order_type=OrderType.LIMIT, qty=D("4"), limit_price=D("11"),
            status=OrderStatus.ACCEPTED,
        )
    )  # fmt: skip
    equity, gross = b.equity_and_gross()
    assert (equity, gross) == (b.equity(), b.gross_exposure())
    # ZZZ: the larger of |33.30 + 44| (every buy fills) and |33.30 - 44| (every sell fills)
    assert gross == D("140.4875") - D("33.30") + (D("77.30") if side is Side.BUY else D("33.30"))
