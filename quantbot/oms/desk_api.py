"""The order side's face to the batch pipeline (``Desk``) and what a send returns (``Sent``):
``desk.OrderDesk`` (paper, live) and ``shadow_desk.ShadowDesk`` both show it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import attrs

from quantbot.decision.step import Decision, Outcome
from quantbot.domain.values import Bar, Fill

T = TypeVar("T")
EMPTY: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen(slots=True)
class Sent:
    """What became of one decision's intent: the step's ``Outcome``, and the record's
    ``order`` and ``daily_risk`` parts."""

    outcome: Outcome
    order: dict[str, Any]
    daily: dict[str, Any]
    submit: str  # the SubmitOutcome value (NOT_SENT when nothing was submitted)


class Desk(Protocol):
    """What the pipeline asks of the order side."""

    # What ``on_bar`` calls, in order: the pipeline calls them itself (one frame less a bar).
    bar_observers: tuple[Callable[[Bar], None], ...]

    def on_bar(self, bar: Bar) -> None: ...

    def view(
        self,
    ) -> tuple[dict[str, Decimal], dict[str, Decimal], Mapping[str, Any], Mapping[str, int]]:
        """``holdings()`` and ``exit_view()`` in one call, as each decision asks them."""
        ...

    def quiet_equity(self) -> Decimal | None:
        """The account's equity, when this batch has nothing else to begin with (no fill to
        read, nothing working or unresolved, exits in line): the work of ``begin_batch``
        without its coroutine. None: await ``begin_batch``."""
        ...

    async def begin_batch(self, market_open: bool | None = None) -> tuple[int, Decimal | None]:
        """New fills booked, exits brought in line with positions, and the account's equity
        (None: keep the last known)."""
        ...

    def exit_view(self) -> tuple[Mapping[str, Any], Mapping[str, int]]:
        """Stop locks by symbol, and the direction of each position carrying its exits."""
        ...

    async def read(self, dependency: str, fn: Callable[[], Awaitable[T]]) -> T | None:
        """An idempotent venue read; a failure is classified and recorded: None."""
        ...

    def holdings(self) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        """Positions the sleeves trade, and orders still working, by symbol."""
        ...

    def last_fills(self) -> Mapping[str, Fill]:
        """The newest fill of an own order, by symbol (a sleeve's context)."""
        ...

    async def send(self, decision: Decision, market_open: bool | None) -> Sent: ...

    def end_batch(self) -> None: ...
