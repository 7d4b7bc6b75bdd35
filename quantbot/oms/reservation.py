"""The daily risk guard as an order-side gate: before an order that adds exposure is sent,
it reserves that exposure (GLOBAL and its sleeve must both allow it); an order that does not
go frees it; fills settle it; orders that end without filling in full free the rest.

Shadow mode sends nothing, so it only asks and records the answer (``would_reserve`` /
``would_block``); nothing is written. The record's ``daily_risk`` names the limits a notify
policy let the entry pass (``notices``, ``DAILY_RISK_NOTIFY`` each).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from quantbot.domain.reasons import Reason
from quantbot.domain.values import Fill, OrderIntent, OrderStatus, Position, SubmitOutcome
from quantbot.oms.ledger import Ledger
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.daily_policy import DailyVerdict

if TYPE_CHECKING:
    from quantbot.decision.risk_stages import Entry

# Order states after which a reservation's unfilled rest is freed.
ENDED = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.NOT_SENT}
)
_REDUCING = {"verdict": "skipped", "why": "reducing"}
_NO_GUARD = {"verdict": "skipped", "why": "no_guard"}


def _rec(why: Reason | None) -> dict[str, Any] | None:
    return None if why is None else why.to_record()


def _detail(entry: Entry, verdict: DailyVerdict) -> dict[str, Any]:
    return {
        "sleeve": entry.sleeve,
        "notional_usd": round(entry.notional_usd, 6),
        "risk_usd": round(entry.risk_usd, 6),
        "denial": _rec(verdict.denial),
        "notices": verdict.notice_records(),
    }


# The submit outcomes that free a reservation: nothing is working at the venue.
_RELEASED = frozenset({SubmitOutcome.REJECTED.value, SubmitOutcome.NOT_SENT.value})


class DailyReservation:
    """Reserve, release and sweep against one ``DailyRiskGuard`` (or none)."""

    def __init__(self, daily: DailyRiskGuard | None) -> None:
        self._daily = daily
        self._swept_at_seq: int | None = None  # ledger event seq at the last sweep

    def reserve(self, entry: Entry | None, intent: OrderIntent) -> tuple[dict, Reason | None]:
        """The record's ``daily_risk`` verdict, and the denial if the guard refused."""
        if entry is None:
            return _REDUCING, None
        if self._daily is None:
            return _NO_GUARD, None
        verdict = self._daily.reserve_entry(
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            sleeve=entry.sleeve,
            notional_usd=entry.notional_usd,
            risk_usd=entry.risk_usd,
        )
        denial = verdict.denial
        said = "block" if denial else "reserved"
        return {"verdict": said, **_detail(entry, verdict)}, denial

    def ask(self, entry: Entry | None) -> dict:
        """Shadow: what the guard would say, writing nothing."""
        if entry is None:
            return _REDUCING
        if self._daily is None:
            return _NO_GUARD
        would = self._daily.judge(
            sleeve=entry.sleeve, notional_usd=entry.notional_usd, risk_usd=entry.risk_usd
        )
        said = "would_block" if would.denial else "would_reserve"
        return {"verdict": said, **_detail(entry, would)}

    def release_unsent(self, entry: Entry | None, intent: OrderIntent, outcome: str) -> None:
        """A rejected or unsent order frees its reservation; an UNKNOWN one keeps it (it may be
        working at the venue, so it counts against the limits until it is resolved)."""
        if self._daily is None or entry is None:
            return
        if outcome in _RELEASED:
            self._daily.release(intent.client_order_id)

    def release_ended(self, ledger: Ledger) -> None:
        """Orders that ended without filling in full (canceled, expired, rejected later) free
        the rest of their reservation. So does one the journal never saw: its INTENT is
        durable before any submit, so it was never sent (a crash between the two writes)."""
        if self._daily is None:
            return
        # Orders end only by journal events, so nothing can have ended since the last sweep
        # when the journal has not moved (the first sweep, at start, always runs).
        seq = ledger.last_event_seq
        if seq == self._swept_at_seq:
            return
        self._swept_at_seq = seq
        orders = ledger.orders
        for cid in self._daily.open_reservations():
            order = orders.get(cid)
            if order is None or order.status in ENDED:
                self._daily.release(cid)


def fill_listener(daily: DailyRiskGuard) -> Callable[[Fill, Position, Position], None]:
    """What the OMS calls for each new fill: settle its reservation, book realised PnL.

    Wired into the OMS before start-up reconciliation, so fills that happened while the
    daemon was down settle too.
    """

    def on_fill(fill: Fill, before: Position, after: Position) -> None:
        daily.on_fill(
            client_order_id=fill.client_order_id,
            symbol=fill.symbol,
            notional_usd=float(fill.qty * fill.price),
            realized_pnl_usd=float(after.realized_pnl - before.realized_pnl),
            position_before=float(before.qty),
            position_after=float(after.qty),
        )

    return on_fill
