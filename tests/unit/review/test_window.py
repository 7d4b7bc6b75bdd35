"""``--since``: the durations a person writes, and the window they make on the clock."""

from __future__ import annotations

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.review.window import Window, parse_span


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 604_800), ("24h", 86_400), ("1d12h", 129_600), ("90m", 5_400), ("30s", 30),
     ("1.5d", 129_600), (" 7D ", 604_800)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_span(text) == seconds


@pytest.mark.parametrize("text", ["7x", "", "d", "7", "7 d", "-1d", "7d7d", "1w"])
def test_what_is_not_a_duration_is_refused_saying_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="use a duration such as 7d, 24h, 1d12h or 90m"):
        parse_span(text)


def test_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="must be more than zero"):
        parse_span("0d")


def test_the_window_ends_at_the_clocks_now() -> None:
    window = Window.back_from_now("24h", SimClock(1_796_644_800 * NS_PER_S))
    assert (window.since, window.until) == (
        "2026-12-06T12:00:00.000000Z",
        "2026-12-07T12:00:00.000000Z",
    )
    assert window.first_day == "2026-12-06"
    assert window.holds("2026-12-06T12:00:00.000000Z")
    assert not window.holds("2026-12-06T11:59:59.999999Z")
    assert not window.holds("2026-12-07T12:00:00.000001Z")
    assert not window.holds(None)
