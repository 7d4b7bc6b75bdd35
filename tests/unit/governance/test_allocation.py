"""Allocation: the weights move at the trading-day roll (once a day, at the first bar after
it), each move a version with its reason and metrics and an ALLOCATION line; the state in
state/allocation.json survives a restart (the weights, the day judged, the outcomes and an
open round trip); changed base weights start over."""

from __future__ import annotations

import os
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.config.allocation import AllocationConfig
from quantbot.domain.values import Fill, Position, Side
from quantbot.governance.allocation import FILE, Allocation, current

H = 3_600 * 10**9
DAY = 24 * H
CONFIG = AllocationConfig(min_trades=2, window_trades=5, min_weight=0.2, max_weight=0.8,
                          max_daily_change=0.1)  # fmt: skip
BASE = {"win": 1.0, "lose": 1.0}


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def write_event(self, event: str, why: Any, **extra: Any) -> None:
        self.events.append((event, {**why.to_record(), **extra}))


class Book:
    """Positions by symbol, and the fills that move them, told to the allocation."""

    def __init__(self, allocation: Allocation) -> None:
        self.a = allocation
        self.positions: dict[str, Position] = {}
        self.n = 0

    def fill(self, sleeve: str, symbol: str, side: Side, price: str) -> None:
        self.n += 1
        cid = f"c{self.n}"
        self.a.on_order(cid, sleeve)
        before = self.positions.get(symbol, Position(symbol))
        fill = Fill(f"f{self.n}", cid, symbol, side, Decimal(10), Decimal(price), Decimal(1), 0)
        after = before.apply_fill(fill)
        self.positions[symbol] = after
        self.a.on_fill(fill, before, after)

    def trip(self, sleeve: str, symbol: str, entry: str, exit_: str) -> None:
        self.fill(sleeve, symbol, Side.BUY, entry)
        self.fill(sleeve, symbol, Side.SELL, exit_)


def open_(state_dir: Path, sink: Sink, base: dict[str, float] = BASE) -> Allocation:
    a = Allocation.open(CONFIG, state_dir, roll_minute=0, write_event=sink.write_event,
                        durable=False)  # fmt: skip
    a.start(base)
    return a


def test_weights_move_once_a_trading_day_with_a_version_and_a_line(tmp_path: Path) -> None:
    sink = Sink()
    a = open_(tmp_path, sink)
    book = Book(a)
    # Netted with the shares x the base weights' sum: as configured until something moves.
    assert a.weights_at(10 * DAY + 14 * H) == {"win": 1.0, "lose": 1.0}
    assert a.shares == {"win": 0.5, "lose": 0.5}
    assert sink.events == []  # the base: version 1, nothing changed
    for _ in range(2):
        book.trip("win", "AAA", "100", "110")
        book.trip("lose", "BBB", "100", "90")
    assert a.weights_at(10 * DAY + 20 * H) == {"win": 1.0, "lose": 1.0}  # same day: no move
    moved = a.weights_at(11 * DAY + 1)  # the first bar after the roll
    assert moved == pytest.approx({"win": 1.2, "lose": 0.8})
    assert a.shares == pytest.approx({"win": 0.6, "lose": 0.4})
    event, update = sink.events[-1]
    assert event == "ALLOCATION"
    assert update["code"] == "ALLOCATION_UPDATED"
    assert update["day"] == "1970-01-12" and update["version"] == 2
    assert update["previous"] == {"win": 0.5, "lose": 0.5}
    assert update["weights"] == {"win": 0.6, "lose": 0.4}
    assert update["metrics"]["lose"]["trades"] == 2
    assert update["metrics"]["lose"]["expectancy_usd"] == -102.0  # 10 x -10, 2 fees of 1
    assert update["metrics"]["win"]["stability"] == 1.0
    a.weights_at(11 * DAY + 5 * H)
    assert len(sink.events) == 1  # once a day
    a.weights_at(15 * DAY)  # days without bars: one update at the first bar after them
    assert len(sink.events) == 2 and sink.events[-1][1]["weights"] == {"win": 0.7, "lose": 0.3}


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    sink = Sink()
    a = open_(tmp_path, sink)
    book = Book(a)
    a.weights_at(10 * DAY)
    for _ in range(2):
        book.trip("win", "AAA", "100", "110")
        book.trip("lose", "BBB", "100", "90")
    a.weights_at(11 * DAY)
    book.fill("lose", "BBB", Side.BUY, "100")  # a trip left open across the restart
    a.close()
    path = tmp_path / FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert current(tmp_path) == {"version": 2, "day": "1970-01-12", "reason": "ALLOCATION_UPDATED",
                                 "weights": {"win": 0.6, "lose": 0.4},
                                 "base": {"win": 0.5, "lose": 0.5}}  # fmt: skip

    again = Sink()
    b = open_(tmp_path, again)
    b.weights_at(11 * DAY + 3 * H)
    assert b.shares == pytest.approx({"win": 0.6, "lose": 0.4})
    assert again.events == []  # the same day, judged already: no second move
    book.a = b
    book.fill("lose", "BBB", Side.SELL, "80")  # closes the trip opened before the restart
    b.weights_at(12 * DAY)
    update = again.events[-1][1]
    assert update["version"] == 3 and update["previous"] == {"win": 0.6, "lose": 0.4}
    assert update["metrics"]["lose"]["trades"] == 3
    assert update["metrics"]["lose"]["pnl_usd"] == pytest.approx(-204.0 - 202.0)
    assert [v["version"] for v in orjson.loads(path.read_bytes())["versions"]] == [1, 2, 3]


def test_changed_base_weights_start_over(tmp_path: Path) -> None:
    sink = Sink()
    a = open_(tmp_path, sink)
    book = Book(a)
    a.weights_at(10 * DAY)
    for _ in range(2):
        book.trip("win", "AAA", "100", "110")
        book.trip("lose", "BBB", "100", "90")
    a.weights_at(11 * DAY)
    a.close()
    again = Sink()
    b = open_(tmp_path, again, {"win": 0.7, "lose": 0.3})
    assert b.shares == {"win": 0.7, "lose": 0.3}  # never the old base's weights
    b.weights_at(12 * DAY)
    [(_, reset)] = again.events
    assert reset["code"] == "ALLOCATION_RESET" and reset["why"] == "base_changed"
    assert reset["version"] == 3


def test_versions_kept_are_bounded(tmp_path: Path) -> None:
    sink = Sink()
    a = Allocation.open(
        AllocationConfig(min_trades=1, window_trades=5, keep_versions=2, max_daily_change=0.01),
        tmp_path, roll_minute=0, write_event=sink.write_event, durable=False,
    )  # fmt: skip
    a.start(BASE)
    book = Book(a)
    book.trip("win", "AAA", "100", "110")
    book.trip("lose", "BBB", "100", "90")
    for day in range(10, 15):
        a.weights_at(day * DAY)
    data = orjson.loads((tmp_path / FILE).read_bytes())
    assert [v["version"] for v in data["versions"]] == [4, 5]
    assert data["current"] == 5


def test_an_unreadable_state_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / FILE).write_text("{not json", encoding="utf-8")
    from quantbot.domain.errors import StartupError

    with pytest.raises(StartupError, match="allocation state cannot be read"):
        open_(tmp_path, Sink())
    assert "error" in current(tmp_path)


def test_the_inbox_sleeve_keeps_its_configured_weight_and_is_not_allocated(
    tmp_path: Path,
) -> None:
    sink = Sink()
    a = Allocation.open(CONFIG, tmp_path, roll_minute=0, write_event=sink.write_event,
                        durable=False)  # fmt: skip
    a.start({"win": 0.7, "lose": 0.3, "external": 1.0})
    book = Book(a)
    a.weights_at(10 * DAY)
    for _ in range(2):
        book.trip("win", "AAA", "100", "110")
        book.trip("lose", "BBB", "100", "90")
    assert a.weights_at(11 * DAY) == pytest.approx({"win": 0.8, "lose": 0.2, "external": 1.0})
    assert sink.events[-1][1]["weights"] == {"win": 0.8, "lose": 0.2}  # the shares


def tca_sample(sleeve: str) -> dict[str, Any]:
    """A filled order's final TCA line (analytics.tca), as the allocation is told it."""
    return {"status": "filled", "sleeve": sleeve, "is_bps": 3.0}


def test_require_tca_keeps_a_sleeve_without_tca_samples_at_its_static_weight(
    tmp_path: Path,
) -> None:
    """tca.require_tca_for_allocation: the round trips of the first test, with TCA samples
    for "win" only, move nothing and an ALLOCATION line names the sleeve kept; once "lose"
    has one too, the weights move as they would without the switch."""
    sink = Sink()
    a = Allocation.open(CONFIG, tmp_path, roll_minute=0, write_event=sink.write_event,
                        durable=False, require_tca=True)  # fmt: skip
    a.start(BASE)
    book = Book(a)
    a.weights_at(10 * DAY)
    for _ in range(2):
        book.trip("win", "AAA", "100", "110")
        book.trip("lose", "BBB", "100", "90")
        a.on_tca(tca_sample("win"))
    a.weights_at(11 * DAY + 1)
    assert a.shares == {"win": 0.5, "lose": 0.5}  # static: "lose" has no TCA sample
    [(event, kept)] = sink.events
    assert event == "ALLOCATION" and kept["code"] == "ALLOCATION_TCA_MISSING"
    assert kept["sleeves"] == {"lose": 2} and kept["day"] == "1970-01-12"

    a.on_tca(tca_sample("lose"))
    a.weights_at(12 * DAY + 1)
    assert a.shares == pytest.approx({"win": 0.6, "lose": 0.4})
    event, update = sink.events[-1]
    assert update["code"] == "ALLOCATION_UPDATED"
    assert update["metrics"]["lose"]["tca_samples"] == 1
    assert update["metrics"]["win"]["tca_samples"] == 2
    a.close()
    assert orjson.loads((tmp_path / FILE).read_bytes())["tca_samples"] == {"lose": 1, "win": 2}
