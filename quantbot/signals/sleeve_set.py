"""The decision step's sleeves, and the read-only context a sleeve may ask for.

A sleeve asks by setting the class attribute ``wants_context = True``; its ``update`` then
takes ``(bar, context)``, a ``SleeveContext`` for the bar's symbol:

- ``position``: the signed quantity held, as the decision step sees it (all sleeves together:
  a sleeve never owns a position, their netting does);
- ``pending``: the signed quantity of working orders not yet filled;
- ``last_fill``: the newest fill of the symbol (``domain.values.Fill``: side, qty, price,
  fee, ts_ns ...), ``None`` before the first.

It is a frozen value built once per bar, and only when some sleeve asks: a step whose sleeves
do not ask calls ``update(bar)`` on each, as it always did. A sleeve must not keep the context
past the call, nor let it change what it returns for a replay of the same bars (a replay plays
the fills of its own orders, so position and fills replay too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

import attrs

from quantbot.domain.values import ZERO, Bar, Fill
from quantbot.signals.base import Sleeve, SleeveSignal
from quantbot.signals.timeframe import TimeframeSleeve, note_timeframes


@attrs.frozen(slots=True)
class SleeveContext:
    position: Decimal
    pending: Decimal
    last_fill: Fill | None


class AccountView(Protocol):
    """What the step knows of the account (``decision.step.PortfolioView``)."""

    @property
    def positions(self) -> Mapping[str, Decimal]: ...

    @property
    def pending(self) -> Mapping[str, Decimal]: ...

    @property
    def last_fills(self) -> Mapping[str, Fill]: ...


def wants_context(sleeve: object) -> bool:
    return getattr(sleeve, "wants_context", False) is True


class SleeveSet(tuple[Sleeve, ...]):
    """The sleeves in the order they were declared (the records' order): a tuple, so that
    iterating it costs what iterating a tuple does."""

    _asks: tuple[bool, ...] | None
    asks: bool  # some sleeve wants a context: the step calls ``update``, else it need not
    # Sleeves that read a higher timeframe (``signals.timeframe``): their record says which bar
    timeframed: tuple[TimeframeSleeve, ...]

    def __new__(cls, sleeves: Iterable[Sleeve]) -> SleeveSet:
        self = super().__new__(cls, sleeves)
        asks = tuple(wants_context(s) for s in self)
        self._asks = asks if any(asks) else None  # None: nobody asks, nothing to build
        self.asks = self._asks is not None
        self.timeframed = tuple(s for s in self if isinstance(s, TimeframeSleeve))
        return self

    def note_timeframes(self, symbol: str, record: dict[str, dict[str, Any]]) -> None:
        """The record's ``sleeves`` part: which bar a higher-timeframe sleeve's signal comes
        from (``signals.timeframe``); nothing for the sleeves on the data's own bars."""
        if self.timeframed:
            note_timeframes(self.timeframed, symbol, record)

    def update(self, bar: Bar, view: AccountView) -> dict[str, SleeveSignal]:
        """Each sleeve's signal for ``bar``, by name; a context only for those that ask."""
        if self._asks is None:
            return {s.name: s.update(bar) for s in self}
        symbol = bar.symbol
        context = SleeveContext(
            view.positions.get(symbol, ZERO),
            view.pending.get(symbol, ZERO),
            view.last_fills.get(symbol),
        )
        return {
            s.name: s.update(bar, context) if asks else s.update(bar)  # type: ignore[call-arg]
            for s, asks in zip(self, self._asks, strict=True)
        }
