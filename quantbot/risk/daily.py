"""Daily risk guard: today's realised loss, exposure and open risk, GLOBAL and per sleeve.

An order reserves its notional and open risk before it is sent, and both the GLOBAL policy
(``DailyProfile.total``) and its sleeve's (``DailyProfile.per_sleeve``) must allow it. Fills
turn the reserve into held notional, fills that shrink a position scale what is held, and
realised pnl is booked to GLOBAL and the sleeves. The trading day starts ``roll_minute``
minutes after 00:00 UTC and is named by the UTC date on which it starts; at the roll,
realised pnl starts again from 0 while reserves and held exposure carry over.

Every change is an event: written to the ledger first, then applied by the same code that
replays the ledger at start, so a restart rebuilds exactly the state the guard had.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from quantbot.clock import NS_PER_S, Clock, iso_utc, utc_date
from quantbot.config.risk import DailyPolicy, DailyProfile
from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.risk.daily_ledger import (
    GLOBAL,
    DailyBook,
    DailyLedger,
    EventType,
    ReservedOrder,
    read_events,
)

MINUTES_PER_DAY = 24 * 60


def trading_day(now_ns: int, roll_minute: int) -> str:
    """The trading day containing ``now_ns``: the UTC date on which that day started."""
    # Whole seconds in integers, so the day never turns a few nanoseconds early.
    start_s = (now_ns - roll_minute * 60 * NS_PER_S) // NS_PER_S
    return utc_date(start_s * NS_PER_S)


class DailyRiskGuard:
    """Reserve-before-send limits per trading day. Not thread-safe: one event loop owns it."""

    def __init__(
        self,
        params: DailyProfile,
        *,
        roll_minute: int,
        clock: Clock,
        ledger: DailyLedger | None = None,
    ) -> None:
        if not 0 <= roll_minute < MINUTES_PER_DAY:
            raise ValueError(f"roll_minute must be 0..{MINUTES_PER_DAY - 1}, got {roll_minute}")
        self._params = params
        self._roll_minute = roll_minute
        self._clock = clock
        self._ledger = ledger
        # Told of each ledger write that failed (DISK_WRITE_FAILED naming the file): the daemon
        # halts on it. None: the write's OSError is raised.
        self.on_write_failure: Callable[[Reason], None] | None = None
        # Told of each fill's realised pnl as booked to sleeves (the drawdown breaker).
        self.on_pnl: Callable[[dict[str, float]], None] | None = None
        self._book = DailyBook(trading_day(clock.now_ns(), roll_minute))
        self.torn_tail_saved_to: Path | None = None  # set by open() when the tail was torn

    @classmethod
    def open(
        cls,
        path: Path,
        params: DailyProfile,
        *,
        roll_minute: int,
        clock: Clock,
        sync_durable: bool = True,
    ) -> DailyRiskGuard:
        """Rebuild the guard from the ledger at ``path`` (created 0o600 if missing) and keep
        appending to it. Writes nothing unless the trading day has rolled since (one ROLL).
        ``sync_durable=False`` (a replay) buffers the ledger until close."""
        replay = read_events(path)
        guard = cls(params, roll_minute=roll_minute, clock=clock)
        guard.torn_tail_saved_to = replay.torn_saved_to
        if replay.events:
            guard._book.day = replay.events[0]["day"]
        for number, event in zip(replay.line_numbers, replay.events, strict=True):
            try:
                guard._book.apply(event)
            except (KeyError, TypeError, ValueError, InvariantViolation) as e:
                raise StartupError(
                    f"{path}:{number}: daily risk ledger event cannot be replayed ({e!r}); "
                    "refusing to start on limits that cannot be rebuilt."
                ) from e
        # Only now: a refused start leaves no file open.
        guard._ledger = DailyLedger(path, sync_durable=sync_durable)
        guard._roll_if_due()
        return guard

    def close(self) -> None:
        """Make every ledger line durable and close the file."""
        if self._ledger is None:
            return
        try:
            self._ledger.close()
        except OSError as e:
            self._write_failed("close", e)

    # -- decisions --------------------------------------------------------------------------

    def check(self, *, sleeve: str, notional_usd: float, risk_usd: float) -> Reason | None:
        """Would a reservation be allowed? ``None`` if so, else the first limit it breaks:
        GLOBAL before the sleeve; per scope loss, then exposure, then open risk. Pure."""
        _check_sleeve(sleeve)
        notional_usd = _amount("notional_usd", notional_usd)
        risk_usd = _amount("risk_usd", risk_usd)
        day, pnl = self._today()
        for scope, policy in ((GLOBAL, self._params.total), (sleeve, self._params.per_sleeve)):
            denial = self._check_scope(
                scope, policy, day=day, pnl=pnl, notional_usd=notional_usd, risk_usd=risk_usd
            )
            if denial is not None:
                return denial
        return None

    def _check_scope(
        self,
        scope: str,
        policy: DailyPolicy,
        *,
        day: str,
        pnl: dict[str, float],
        notional_usd: float,
        risk_usd: float,
    ) -> Reason | None:
        loss = max(0.0, -pnl.get(scope, 0.0))
        if loss >= policy.max_daily_loss_usd:
            return reason(
                ReasonCode.DAILY_LOSS_LIMIT,
                scope=scope, current=loss, adding=0.0, limit=policy.max_daily_loss_usd, day=day,
            )  # fmt: skip
        notionals, risks = self._book.terms(scope)
        # Sum with the addition included, exactly as the exposure will be summed once it is
        # reserved, so an accepted reservation can never read back above its limit.
        if math.fsum([*notionals, notional_usd]) > policy.max_daily_exposure_usd:
            return reason(
                ReasonCode.DAILY_EXPOSURE_LIMIT,
                scope=scope, current=math.fsum(notionals), adding=notional_usd,
                limit=policy.max_daily_exposure_usd, day=day,
            )  # fmt: skip
        if math.fsum([*risks, risk_usd]) > policy.max_open_risk_usd:
            return reason(
                ReasonCode.DAILY_OPEN_RISK_LIMIT,
                scope=scope, current=math.fsum(risks), adding=risk_usd,
                limit=policy.max_open_risk_usd, day=day,
            )  # fmt: skip
        return None

    def reserve(
        self, *, client_order_id: str, symbol: str, sleeve: str, notional_usd: float,
        risk_usd: float,
    ) -> Reason | None:  # fmt: skip
        """Reserve before the submit: ``None`` when reserved (the RESERVE line is on disk),
        else the denial (written as DENY). A client id already reserved is a no-op."""
        _check_sleeve(sleeve)
        _amount("notional_usd", notional_usd)
        _amount("risk_usd", risk_usd)
        self._roll_if_due()  # first: a roll forgets finished orders
        if client_order_id in self._book.orders:
            return None
        denial = self.check(sleeve=sleeve, notional_usd=notional_usd, risk_usd=risk_usd)
        fields = {
            "client_order_id": client_order_id, "symbol": symbol, "sleeve": sleeve,
            "notional_usd": float(notional_usd), "risk_usd": float(risk_usd),
        }  # fmt: skip
        if denial is not None:
            self._emit(EventType.DENY, **fields, reason=denial.to_record())
            return denial
        # A reserve that is not on disk is no reserve: the order is not sent.
        return self._emit(EventType.RESERVE, **fields)

    def on_fill(
        self, *, client_order_id: str, symbol: str, notional_usd: float, realized_pnl_usd: float,
        position_before: float, position_after: float,
    ) -> None:  # fmt: skip
        """Account for one fill.

        For a reserved order, the fill uses up to ``notional_usd`` of its reserve; a fill that
        does not shrink |position| adds its notional (and the order's share of risk) to what
        the sleeve holds in ``symbol`` (SETTLE). A fill that shrinks |position| adds nothing
        held and scales every sleeve's held notional and risk in ``symbol`` by
        |after|/|before| (REDUCE). Realised pnl is booked (PNL) to GLOBAL and the order's
        sleeve, or for an order the guard never reserved, split across the sleeves holding
        the symbol by held notional (GLOBAL only if none holds it).
        """
        notional_usd = _amount("notional_usd", notional_usd)
        pnl = _finite("realized_pnl_usd", realized_pnl_usd)
        before = abs(_finite("position_before", position_before))
        after = abs(_finite("position_after", position_after))
        self._roll_if_due()  # first: a roll forgets finished orders
        order = self._book.orders.get(client_order_id)
        if order is not None and order.symbol != symbol:
            raise InvariantViolation(
                f"fill of {client_order_id} is for {symbol}, its reservation for {order.symbol}"
            )
        shrinks = after < before
        if order is not None:
            self._settle(client_order_id, order, notional_usd, shrinks)
        if pnl != 0.0:
            by_sleeve = self._book.pnl_split(order, symbol, pnl)
            self._emit(
                EventType.PNL, client_order_id=client_order_id, symbol=symbol, pnl_usd=pnl,
                by_sleeve=by_sleeve,
            )  # fmt: skip
            if self.on_pnl is not None:
                self.on_pnl(by_sleeve)
        if shrinks and any(sym == symbol for _, sym in self._book.held):
            self._emit(
                EventType.REDUCE, client_order_id=client_order_id, symbol=symbol,
                factor=after / before, position_before=position_before,
                position_after=position_after,
            )  # fmt: skip

    def _settle(
        self, client_order_id: str, order: ReservedOrder, notional_usd: float, shrinks: bool
    ) -> None:
        used = min(notional_usd, order.remaining_usd)
        # A closing fill takes exposure away rather than adding it; its reserve is used up
        # all the same, since that part of the order can no longer fill.
        held = 0.0 if shrinks else notional_usd
        if used == 0.0 and held == 0.0:
            return
        self._emit(
            EventType.SETTLE, client_order_id=client_order_id, symbol=order.symbol,
            sleeve=order.sleeve, reserve_used_usd=used, held_usd=held,
            held_risk_usd=order.risk_of(held),
        )  # fmt: skip

    def release(self, client_order_id: str) -> None:
        """The order ended (canceled, rejected, not sent, expired): free its unfilled reserve.
        An unknown client id, or one with nothing left reserved, is a no-op."""
        self._roll_if_due()
        order = self._book.orders.get(client_order_id)
        if order is None or order.remaining_usd == 0.0:
            return
        self._emit(
            EventType.RELEASE, client_order_id=client_order_id, symbol=order.symbol,
            sleeve=order.sleeve, notional_usd=order.remaining_usd,
            risk_usd=order.risk_of(order.remaining_usd),
        )  # fmt: skip

    # -- reading ----------------------------------------------------------------------------

    def open_reservations(self) -> list[str]:
        """Client ids with part of their reservation still unfilled (for the sweep that frees
        what ended orders no longer need)."""
        return [cid for cid, o in self._book.orders.items() if o.remaining_usd > 0.0]

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state as of now: the trading day, every scope's loss, realised pnl,
        exposure (reserved + held), open risk and limits, and the open reservations."""
        day, pnl = self._today()
        scopes = {GLOBAL: self._scope_view(GLOBAL, self._params.total, pnl)}
        for sleeve in self._book.sleeves(pnl):
            scopes[sleeve] = self._scope_view(sleeve, self._params.per_sleeve, pnl)
        reserved = {
            cid: {"symbol": o.symbol, "sleeve": o.sleeve, "reserved_usd": o.remaining_usd,
                  "reserved_risk_usd": o.risk_of(o.remaining_usd)}
            for cid, o in self._book.orders.items() if o.remaining_usd > 0.0
        }  # fmt: skip
        return {"day": day, "roll_minute": self._roll_minute, "scopes": scopes,
                "reservations": reserved}  # fmt: skip

    def turnover(self, symbol: str) -> tuple[str, float, float]:
        """What the turnover caps count (``risk/turnover``), now: the trading day, and the
        notional of today's entries in ``symbol``, then in every symbol. Pure."""
        day = trading_day(self._clock.now_ns(), self._roll_minute)
        if day != self._book.day:  # a roll not yet written: nothing entered today yet
            return day, 0.0, 0.0
        count = self._book.turnover
        return day, count.of(symbol), count.total()

    def _scope_view(self, scope: str, policy: DailyPolicy, pnl: dict[str, float]) -> dict[str, Any]:
        notionals, risks = self._book.terms(scope)
        realised = pnl.get(scope, 0.0)
        return {
            "loss": max(0.0, -realised),
            "realised_pnl": realised,
            "exposure": math.fsum(notionals),
            "open_risk": math.fsum(risks),
            "limits": attrs.asdict(policy),
        }

    def _today(self) -> tuple[str, dict[str, float]]:
        """The current day and its realised pnl, without writing the ROLL a read may see due."""
        day = trading_day(self._clock.now_ns(), self._roll_minute)
        if day > self._book.day:
            return day, {}
        return self._book.day, self._book.pnl

    # -- events -----------------------------------------------------------------------------

    def _roll_if_due(self) -> None:
        day = trading_day(self._clock.now_ns(), self._roll_minute)
        # ISO dates order as strings; a wall clock stepping back never un-rolls a day.
        if day > self._book.day:
            self._emit(
                EventType.ROLL,
                day=day,
                previous_day=self._book.day,
                realised_pnl=dict(self._book.pnl),
            )

    def _emit(self, event_type: str, **fields: Any) -> Reason | None:
        """Write the event, then apply it. A write that fails is reported (DISK_WRITE_FAILED)
        and returned; the event is applied all the same (a fill or a realised loss happened,
        and the limits must count it) except a RESERVE: it is not reserved unless on disk."""
        event = {"ts": iso_utc(self._clock.now_ns()), "day": self._book.day, "type": event_type}
        event.update(fields)
        failed = None
        if self._ledger is not None:
            try:
                self._ledger.append(event)
            except OSError as e:
                failed = self._write_failed(event_type, e)
                if event_type == EventType.RESERVE:
                    return failed
        self._book.apply(event)
        return failed

    def _write_failed(self, what: str, exc: OSError) -> Reason:
        assert self._ledger is not None
        why = reason(
            ReasonCode.DISK_WRITE_FAILED,
            file=str(self._ledger.path),
            event=what,
            error=f"[Errno {exc.errno}] {exc.strerror or exc}",
        )
        if self.on_write_failure is None:
            raise exc
        self.on_write_failure(why)
        return why


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvariantViolation(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _amount(name: str, value: float) -> float:
    amount = _finite(name, value)
    if amount < 0.0:
        raise InvariantViolation(f"{name} must not be negative, got {value!r}")
    return amount


def _check_sleeve(sleeve: str) -> None:
    if not sleeve or sleeve == GLOBAL:
        raise ValueError(f"sleeve must be a sleeve name other than {GLOBAL!r}, got {sleeve!r}")
