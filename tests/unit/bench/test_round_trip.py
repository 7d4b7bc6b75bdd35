"""Pairing a batch that sent an order with the batch that filled it."""

from __future__ import annotations

from array import array

from bench.round_trip import FILL_WINDOW, round_trips


def test_a_send_is_paired_with_the_next_batch_that_fills() -> None:
    wall = array("q", [9_000, 1_000, 50_000, 2_000, 1_000, 40_000, 1_000, 30_000, 3_000, 1_000])
    cpu = array("q", [9_000, 900, 20_000, 1_500, 900, 10_000, 900, 15_000, 2_500, 900])
    sent = array("q", [1, 0, 1, 0, 0, 1, 0, 1, 0, 0])
    filled = array("q", [0, 1, 0, 1, 0, 0, 1, 0, 0, 1])
    got = round_trips(wall, cpu, sent, filled, warmup=1)  # batch 0 is warm-up
    # sends at 2, 5, 7 fill at 3, 6, 9: 52, 41, 31 µs wall; 21.5, 10.9, 15.9 µs CPU
    assert got["round_trips"] == 3 and got["round_trips_unfilled"] == 0
    assert (got["round_trip_p50_us"], got["round_trip_p99_us"]) == (41.0, 52.0)
    assert got["round_trip_mean_us"] == round((52 + 41 + 31) / 3, 2)
    assert (got["round_trip_cpu_p50_us"], got["round_trip_cpu_p99_9_us"]) == (15.9, 21.5)
    # plain: neither sent nor filled (batches 4 and 8; 1, 3, 6, 9 filled)
    assert got["plain_batches"] == 2
    assert (got["plain_p50_us"], got["plain_cpu_p50_us"]) == (1.0, 0.9)


def test_a_send_never_filled_is_counted_and_left_out() -> None:
    count = FILL_WINDOW + 3
    wall = array("q", [1_000] * count)
    sent = array("q", [1] + [0] * (count - 1))
    filled = array("q", [0] * (FILL_WINDOW + 1) + [1, 0])  # too late to be this send's fill
    got = round_trips(wall, wall, sent, filled, warmup=0)
    assert got["round_trips"] == 0 and got["round_trips_unfilled"] == 1
    assert got["round_trip_p50_us"] == 0.0 and got["plain_batches"] == count - 2
