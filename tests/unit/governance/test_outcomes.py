"""Sleeve outcomes: round trips after costs booked to the sleeve that opened them, stop-outs,
orders and rejects, breaker opens and cancel-loop blocks, per sleeve and per symbol; the same
numbers after a save and a load."""

from __future__ import annotations

from decimal import Decimal

import attrs

from quantbot.config.quarantine import QuarantineConfig
from quantbot.domain.values import Side
from quantbot.governance.outcomes import SLEEVE, SYMBOL, SleeveOutcomes
from quantbot.governance.quarantine import Quarantine
from tests.unit.governance.feed import Book

OFF = QuarantineConfig(enabled=True, min_trades=0, max_stop_outs=0, max_reject_rate=0.0,
                       max_breaker_opens=0, max_cancel_loop_blocks=0)  # fmt: skip


def book(config: QuarantineConfig = OFF) -> Book:
    return Book(Quarantine(config, path=None, write_event=lambda *a, **k: None))


def metrics(b: Book, kind: str, name: str) -> dict:
    return b.q.outcomes.metrics((kind, name))


def test_a_round_trip_is_booked_after_fees_to_the_sleeve_that_opened_it() -> None:
    b = book()
    b.fill(b.order("trend", "AAA"), "AAA", Side.BUY, "10", "100")
    # closed by an order another sleeve was booked to: still trend's trip
    b.fill(b.order("mean_reversion", "AAA"), "AAA", Side.SELL, "10", "103")
    trend = metrics(b, SLEEVE, "trend")
    assert (trend["trips"], trend["expectancy_usd"], trend["pnl_total_usd"]) == (1, 28.0, 28.0)
    assert metrics(b, SLEEVE, "mean_reversion")["trips"] == 0
    assert metrics(b, SYMBOL, "AAA")["expectancy_usd"] == 28.0  # 30 less two fees of 1


def test_scaling_in_and_out_is_one_trip_and_a_flip_closes_one_and_opens_the_next() -> None:
    b = book()
    b.fill(b.order("trend", "AAA"), "AAA", Side.BUY, "10", "100", fee="0")
    b.fill(b.order("trend", "AAA"), "AAA", Side.BUY, "10", "102", fee="0")
    b.fill(b.order("trend", "AAA"), "AAA", Side.SELL, "5", "103", fee="0")
    assert metrics(b, SLEEVE, "trend")["trips"] == 0
    b.fill(b.order("rev", "AAA"), "AAA", Side.SELL, "25", "99", fee="0")  # flips to short 10
    trend = metrics(b, SLEEVE, "trend")
    assert trend["trips"] == 1 and trend["expectancy_usd"] == 5 * 2 - 15 * 2  # avg 101
    trip = b.q.outcomes.open_trip("AAA")
    assert trip is not None and (trip.sign, trip.sleeve) == (-1, "rev")
    b.fill(b.order("trend", "AAA"), "AAA", Side.BUY, "10", "97", fee="0")
    assert metrics(b, SLEEVE, "rev")["expectancy_usd"] == 20.0


def test_a_trip_closed_by_a_stop_loss_leg_is_a_stop_out_of_its_sleeve_and_symbol() -> None:
    b = book()
    b.trip("trend", "AAA", "100", "98", stop=True)
    b.trip("trend", "AAA", "100", "101")
    assert metrics(b, SLEEVE, "trend")["stop_outs"] == 1
    assert metrics(b, SYMBOL, "AAA")["stop_outs"] == 1


def test_orders_rejects_breaker_opens_and_cancel_loop_blocks_are_counted() -> None:
    b = book()
    b.order("trend", "AAA")
    b.order("trend", "AAA", outcome="REJECTED", code="VENUE_REJECTED")
    b.order("trend", "BBB", outcome="NOT_SENT", code="CANCEL_LOOP_BLOCK")
    b.order("trend", "BBB", outcome="UNKNOWN", breaker_opened=True)
    b.order("trend", "BBB", outcome="NOT_SENT", code="PRICE_COLLAR_BLOCK")  # not counted
    trend = metrics(b, SLEEVE, "trend")
    assert (trend["orders"], trend["rejects"], trend["reject_rate"]) == (3, 1, round(1 / 3, 6))
    assert (trend["cancel_loop_blocks"], trend["breaker_opens"]) == (1, 1)
    assert metrics(b, SYMBOL, "AAA")["orders"] == 2
    assert metrics(b, SYMBOL, "BBB")["cancel_loop_blocks"] == 1


def test_event_windows_count_bars_of_the_market_clock() -> None:
    outcomes = SleeveOutcomes(trip_window=5, order_window=5)
    for n in range(10):
        outcomes.on_bar_time(1_000 + n)
        outcomes.on_bar_time(1_000 + n)  # a second symbol's bar at the same time
        if n in (1, 8):
            outcomes.on_submit(sleeve="trend", symbol="AAA", outcome="NOT_SENT",
                               code="CANCEL_LOOP_BLOCK", breaker_opened=False)  # fmt: skip
    assert outcomes.bar == 10
    scope = (SLEEVE, "trend")
    assert outcomes.metrics(scope, windows={"cancel_loop_blocks": 3})["cancel_loop_blocks"] == 1
    assert outcomes.metrics(scope, windows={"cancel_loop_blocks": 9})["cancel_loop_blocks"] == 2


def test_the_windows_keep_only_the_last_trips_and_orders() -> None:
    b = book(attrs.evolve(OFF, expectancy_window_trades=3, reject_window_orders=4))
    for exit_ in ("90", "110", "110", "110"):
        b.trip("trend", "AAA", "100", exit_)
    trend = metrics(b, SLEEVE, "trend")
    assert (trend["trips"], trend["trips_total"], trend["expectancy_usd"]) == (3, 4, 98.0)
    assert trend["orders"] == 4 and trend["pnl_total_usd"] == 192.0  # -102 + 3 x 98


def test_the_outcomes_after_a_save_and_load_are_the_same() -> None:
    b = book()
    b.trip("trend", "AAA", "100", "98", stop=True)
    b.order("trend", "AAA", outcome="REJECTED")
    b.fill(b.order("trend", "BBB"), "BBB", Side.BUY, "10", "50")  # open at the save
    state = b.q.outcomes.to_state()
    again = SleeveOutcomes(trip_window=30, order_window=20)
    again.load(state)
    assert again.to_state() == state
    for scope in b.q.outcomes.scopes():
        assert again.metrics(scope) == b.q.outcomes.metrics(scope)
    # the open trip is still trend's when it closes after the load
    closed = again.on_fill(client_order_id="x", symbol="BBB", before=Decimal(10),
                           after=Decimal(0), realized=Decimal(5), exit_role=None)  # fmt: skip
    assert closed is not None and closed.sleeve == "trend"
