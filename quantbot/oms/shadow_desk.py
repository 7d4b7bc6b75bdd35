"""Shadow mode's order side: every stage runs and is recorded, nothing is sent or written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from quantbot.decision.step import Decision, Outcome
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import Bar, Fill, SubmitOutcome
from quantbot.oms.desk_api import EMPTY as _EMPTY
from quantbot.oms.desk_api import Sent
from quantbot.oms.manager import VENUE_FAILURES
from quantbot.oms.reservation import DailyReservation
from quantbot.venues.base import OrderVenue

T = TypeVar("T")


class ShadowDesk:
    """Shadow mode: every stage runs and is recorded, nothing is sent or written."""

    def __init__(self, *, venue: OrderVenue, reservation: DailyReservation, mode: str) -> None:
        self._venue = venue
        self._reservation = reservation
        self._not_sent = {
            "outcome": SubmitOutcome.NOT_SENT.value,
            "reason": reason(ReasonCode.EXEC_SHADOW_NOT_SENT, execution_mode=mode).to_record(),
        }

    bar_observers: tuple[Callable[[Bar], None], ...] = ()

    def on_bar(self, bar: Bar) -> None:
        return None

    def view(
        self,
    ) -> tuple[dict[str, Decimal], dict[str, Decimal], Mapping[str, Any], Mapping[str, int]]:
        return {}, {}, _EMPTY, _EMPTY

    def quiet_equity(self) -> Decimal | None:
        return None  # the account is read every batch

    async def begin_batch(self, market_open: bool | None = None) -> tuple[int, Decimal | None]:
        return 0, (await self._venue.account()).equity

    def exit_view(self) -> tuple[Mapping[str, Any], Mapping[str, int]]:
        return _EMPTY, _EMPTY

    async def read(self, dependency: str, fn: Callable[[], Awaitable[T]]) -> T | None:
        try:
            return await fn()
        except VENUE_FAILURES:
            return None

    def holdings(self) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
        return {}, {}

    def last_fills(self) -> Mapping[str, Fill]:
        return {}

    async def send(self, decision: Decision, market_open: bool | None) -> Sent:
        daily = self._reservation.ask(decision.entry)
        return Sent(Outcome.SHADOW, dict(self._not_sent), daily, SubmitOutcome.NOT_SENT.value)

    def end_batch(self) -> None:
        return None
