"""The step's sleeves: each one's signal by name, in declaration order, and a read-only
context (position, pending, last fill) built only for a sleeve that asks for one."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from quantbot.domain.values import Bar, Fill, Side
from quantbot.signals.base import SleeveSignal
from quantbot.signals.sleeve_set import SleeveContext, SleeveSet

D = Decimal


def bar(symbol: str) -> Bar:
    return Bar(symbol, 60_000_000_000, 100.0, 101.0, 99.0, 100.5, 1000.0, 60)


class Plain:
    warmup_bars = 0

    def __init__(self, name: str, target: float) -> None:
        self.name = name
        self.target = target
        self.seen: list[tuple] = []

    def update(self, bar: Bar) -> SleeveSignal:
        self.seen.append((bar.symbol,))
        return SleeveSignal(self.target, 1.0, True, {})

    def reset(self, symbol: str) -> None:
        pass


class Asking(Plain):
    wants_context = True

    def update(self, bar: Bar, context: SleeveContext) -> SleeveSignal:  # type: ignore[override]
        self.seen.append((bar.symbol, context))
        return SleeveSignal(self.target, 1.0, True, {})


class Unread:
    """An account view whose every attribute read fails: proof nobody built a context."""

    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"the view's {name} was read, though no sleeve asks")


@attrs.frozen
class View:
    positions: dict[str, Decimal]
    pending: dict[str, Decimal]
    last_fills: dict[str, Fill]


FILL = Fill("f-1", "qb-1", "SIMA", Side.BUY, D("3"), D("100.25"), D("0.01"), 42)


def test_sleeves_that_do_not_ask_are_called_with_the_bar_alone() -> None:
    one, two = Plain("one", 0.5), Plain("two", -1.0)
    sleeves = SleeveSet([one, two])

    signals = sleeves.update(bar("SIMA"), Unread())  # type: ignore[arg-type]
    assert list(signals) == ["one", "two"]
    assert (signals["one"].target, signals["two"].target) == (0.5, -1.0)
    assert one.seen == two.seen == [("SIMA",)]
    assert [s.name for s in sleeves] == ["one", "two"] and len(sleeves) == 2
    assert sleeves.asks is False  # the step may call update(bar) on each itself


def test_a_sleeve_that_asks_gets_its_symbols_position_pending_and_last_fill() -> None:
    first, asking, last = Plain("first", 1.0), Asking("asking", 0.0), Plain("last", 0.0)
    sleeves = SleeveSet([first, asking, last])
    view = View({"SIMA": D("5"), "SIMB": D("-2")}, {"SIMA": D("-3")}, {"SIMA": FILL})

    assert sleeves.asks is True
    signals = sleeves.update(bar("SIMA"), view)
    assert list(signals) == ["first", "asking", "last"]  # the records' order is kept
    assert asking.seen == [("SIMA", SleeveContext(D("5"), D("-3"), FILL))]
    assert first.seen == last.seen == [("SIMA",)]

    sleeves.update(bar("SIMC"), view)  # nothing held, working or filled there yet
    assert asking.seen[-1] == ("SIMC", SleeveContext(D("0"), D("0"), None))


def test_the_context_is_read_only() -> None:
    context = SleeveContext(D("1"), D("0"), None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        context.position = D("2")  # type: ignore[misc]
