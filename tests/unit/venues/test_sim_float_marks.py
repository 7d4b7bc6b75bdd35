"""The paper venue's marks kept as the bar's float close until a Decimal is read (issue 23):
the equity, the account, the marks and the book on disk say what they said when every close
was made a Decimal on arrival: ``Decimal(repr(close))``, to the digit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from quantbot.clock import SimClock
from quantbot.domain.values import Bar, Position, Side
from quantbot.venues.sim.state import SimBook
from tests.unit.venues.test_sim_venue import CASH, T0, intent, make_venue

D = Decimal
CLOSES = [101.0, 0.1 + 0.2, 123.456789012345, 99.99, 1e-7, 2.5e15]


async def test_a_held_position_is_valued_at_each_bar_close_to_the_digit() -> None:
    clock = SimClock(T0)
    venue = make_venue(clock)
    await venue.submit(intent("c1", Side.BUY, "10"))
    clock.advance(60)
    venue.on_bar(Bar("AAPL", T0, 100.0, 101.0, 100.0, 101.0, 1_000_000.0))
    cash = (await venue.account()).cash
    assert cash < CASH  # bought 10
    for n, close in enumerate(CLOSES, start=2):
        venue.on_bar(Bar("AAPL", T0 + n * 60 * 10**9, close, close, close, close, 1e6))
        mark = D(repr(close))
        assert venue.known_equity() == cash + 10 * mark
        assert str(venue.known_equity()) == str(cash + 10 * mark)  # the same digits too
        assert (await venue.account()).equity == cash + 10 * mark
        assert venue.marks() == {"AAPL": mark}


@pytest.mark.parametrize("close", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_close_is_refused_when_the_bar_arrives(close: float) -> None:
    venue = make_venue()
    with pytest.raises(ValueError, match="non-finite"):
        venue.on_bar(Bar("AAPL", T0, 100.0, 100.0, 100.0, close, 1e6))


async def test_the_book_on_disk_holds_each_symbols_last_close_in_first_seen_order(
    tmp_path: Path,
) -> None:
    clock = SimClock(T0)
    path = tmp_path / "sim.json"
    venue = make_venue(clock, state_path=path)
    venue.on_bar(Bar("BTC", T0, 50000.0, 50000.0, 50000.0, 50000.5, 10.0))
    venue.on_bar(Bar("AAPL", T0, 100.0, 100.0, 100.0, 0.1 + 0.2, 1e6))
    venue.on_bar(Bar("BTC", T0 + 60 * 10**9, 50000.0, 50000.0, 50000.0, 49999.25, 10.0))
    await venue.submit(intent("c1", Side.BUY, "1"))  # a change: the book is written
    want = {"BTC": D("49999.25"), "AAPL": D("0.30000000000000004")}
    assert list(venue.marks().items()) == list(want.items())
    reopened = make_venue(SimClock(T0), state_path=path)
    assert list(reopened.marks().items()) == list(want.items())


def test_equity_reads_the_pending_closes_and_the_marks_keep_their_arrival_order() -> None:
    b = SimBook(cash=D(1000))
    b.positions["AAA"] = Position("AAA", qty=D(1), avg_price=D(3))
    b.positions["NOM"] = Position("NOM", qty=D(2), avg_price=D(5))  # held, never marked
    b.set_mark("AAA", D("3.5"))
    assert b.equity() == D(1000) + D("3.5") + 2 * D(5)  # unmarked: at its entry price
    b.set_close("ZZZ", 1.1)  # not held
    b.set_close("NOM", 0.1 + 0.2)
    b.set_close("AAA", 4.25)
    assert b.equity() == D(1000) + D("4.25") + 2 * D("0.30000000000000004")
    assert list(b.marks.items()) == [
        ("AAA", D("4.25")),
        ("ZZZ", D("1.1")),
        ("NOM", D("0.30000000000000004")),
    ]
