"""Fault injection for the embedded paper venue: a test double, reachable only under
``QUANTBOT_TESTING=1`` (see ``quantbot.ops.runtime_contract``). The venue's builder
(``venues/sim/build.py``) imports this module only when ``QUANTBOT_SIM_FAULTS`` is set and
testing is on; a paper or live run never loads it.

``FaultyVenue`` wraps a venue and, per endpoint, injects what real brokers do on a bad day:
a delay, a timeout after the venue accepted, a reject, 429, 5xx (before or after accepting),
revoked credentials, a NaN equity, and — for restart tests — a SIGKILL of the whole process
just before the venue sees a submit or just after it accepted one. A plan is JSON so a test
can hand it to a daemon subprocess in ``QUANTBOT_SIM_FAULTS``::

    {"submit": [{"fault": "rate_limit", "after_calls": 3, "times": 5}]}

``after_calls`` lets that many calls through first; ``times`` faults that many (-1: forever).

``late_visibility`` (on ``order_by_client_id``, ``open_orders`` and ``fills_since``) is a
venue that does not show what it did yet, as real ones do for a moment: the read answers as
if it had nothing (no such order, no open orders, no new trades); it loses nothing, the next
read that is not faulted shows it all.

A submit rule may pick its calls by what the order is, not only by their count: ``when`` maps
``OrderIntent`` fields (``exit_role``, ``order_type``, ``side``, ``symbol``, ``reduce_only`` ...)
to the value they must have, e.g. SIGKILL the daemon right before the venue sees the first
stop-loss exit it sends (after that exit's INTENT is durable)::

    {"submit": [{"fault": "crash_before", "when": {"exit_role": "stop_loss"}}]}

Such a rule counts only the submits that match (``after_calls`` and ``times`` then count
matching orders, other submits pass untouched); an OCO pair sent in one call matches when
either leg does. Enum fields are written as their values (``"stop_loss"``, ``"STOP"``,
``"SELL"``); a field or value that no order could have is an error naming it.
"""

from __future__ import annotations

import enum
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import orjson
from loguru import logger

from quantbot.clock import Clock
from quantbot.domain.errors import (
    VenueAuthError,
    VenueRateLimited,
    VenueRejected,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import ExitRole, OrderIntent, OrderType, Side, SubmitOutcome
from quantbot.ops.runtime_contract import require_testing
from quantbot.venues.base import CancelFailure, SubmitResult
from quantbot.venues.sim.build import FAULTS_ENV
from quantbot.venues.sim.venue import SimVenue

ENDPOINTS = frozenset(
    {
        "submit",
        "cancel",
        "cancel_all",
        "order_by_client_id",
        "open_orders",
        "positions",
        "account",
        "fills_since",
    }
)
_BEFORE = frozenset(
    {"delay", "reject", "rate_limit", "server_error", "auth_revoked", "crash_before"}
)
_AFTER = frozenset(
    {"timeout_after_accept", "server_error_after_accept", "crash_after_accept", "nan_equity"}
)
# Reads that can answer as if the venue held nothing (yet), and that answer.
_NOTHING_YET: dict[str, Callable[[], Any]] = {
    "order_by_client_id": lambda: None,
    "open_orders": list,
    "fills_since": list,
}
KINDS = _BEFORE | _AFTER | {"late_visibility"}
# The intent fields a submit rule's ``when`` may name; enum fields take their values.
WHEN_FIELDS = frozenset(f.name for f in attrs.fields(OrderIntent))
_WHEN_ENUMS: dict[str, type[enum.Enum]] = {
    "side": Side,
    "order_type": OrderType,
    "exit_role": ExitRole,
}


def _check_when(_rule: Any, _attribute: Any, when: Mapping[str, Any] | None) -> None:
    if when is None:
        return
    if not isinstance(when, Mapping) or not when:
        raise ValueError(f"{FAULTS_ENV}: 'when' must be an object of intent field -> value")
    for name, value in when.items():
        if name not in WHEN_FIELDS:
            raise ValueError(
                f"{FAULTS_ENV}: 'when' names {name!r}, not an order intent field "
                f"({sorted(WHEN_FIELDS)})"
            )
        kind = _WHEN_ENUMS.get(name)
        if kind is not None and value is not None and value not in {m.value for m in kind}:
            raise ValueError(
                f"{FAULTS_ENV}: 'when' {name}={value!r} is no {kind.__name__} "
                f"({sorted(m.value for m in kind)})"
            )


@attrs.define
class FaultRule:
    fault: str = attrs.field(validator=attrs.validators.in_(KINDS))
    after_calls: int = 0
    times: int = 1  # -1: every call from after_calls on
    delay_s: float = 0.0
    retry_after_s: float | None = None
    # Submit only: fault only orders whose intent has these field values (module docstring).
    when: dict[str, Any] | None = attrs.field(default=None, validator=_check_when)

    def fires(self, call: int) -> bool:
        if call <= self.after_calls:
            return False
        return self.times < 0 or call <= self.after_calls + self.times

    def matches(self, intents: Sequence[OrderIntent]) -> bool:
        """Whether a call carrying ``intents`` is one this rule counts (no ``when``: all)."""
        if self.when is None:
            return True
        return any(
            all(_same(getattr(i, name), value) for name, value in self.when.items())
            for i in intents
        )


def _same(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is expected
    if isinstance(actual, enum.Enum):
        return actual.value == expected
    if isinstance(actual, Decimal):
        return actual == Decimal(str(expected))
    return actual == expected


def parse_plan(text: str) -> dict[str, list[FaultRule]]:
    """Read a JSON plan; an unknown endpoint, fault or field is an error naming it."""
    raw = orjson.loads(text)
    if not isinstance(raw, dict):
        raise ValueError(f"{FAULTS_ENV}: the plan must be a JSON object of endpoint -> rules")
    plan: dict[str, list[FaultRule]] = {}
    for endpoint, rules in raw.items():
        if endpoint not in ENDPOINTS:
            raise ValueError(f"{FAULTS_ENV}: unknown endpoint {endpoint!r} ({sorted(ENDPOINTS)})")
        plan[endpoint] = [FaultRule(**rule) for rule in rules]
        if endpoint != "submit" and any(r.when is not None for r in plan[endpoint]):
            raise ValueError(f"{FAULTS_ENV}: 'when' picks orders: only submit rules take it")
        if endpoint not in _NOTHING_YET and any(
            r.fault == "late_visibility" for r in plan[endpoint]
        ):
            raise ValueError(
                f"{FAULTS_ENV}: late_visibility is a read's fault ({sorted(_NOTHING_YET)}), "
                f"not {endpoint}'s"
            )
    return plan


def with_faults(venue: SimVenue, text: str, clock: Clock) -> FaultyVenue:
    """``venue`` behind the plan in ``text`` (the value of ``QUANTBOT_SIM_FAULTS``)."""
    plan = parse_plan(text)
    logger.warning("TEST DOUBLE: paper venue fault injection is on ({})", sorted(plan))
    return FaultyVenue(venue, plan, clock)


class FaultyVenue:
    """Wraps a venue; every protocol call passes through the fault plan first."""

    def __init__(self, inner: SimVenue, plan: Mapping[str, list[FaultRule]], clock: Clock) -> None:
        require_testing("FaultyVenue (paper venue fault injection)")
        self.inner = inner
        self.name = inner.name
        # Its faults stand in for a network venue's: reads go through retries and breakers.
        self.capabilities = attrs.evolve(inner.capabilities, in_process=False)
        # Bars, marks and equity are the inner paper venue's own: no fault reaches them.
        self.embedded = inner.embedded
        self._plan = {k: list(v) for k, v in plan.items()}
        self._calls: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        self._matched: dict[int, int] = {}  # id(rule) -> matching calls (rules with ``when``)
        self._clock = clock
        self._auth_revoked = False

    def arm(self, endpoint: str, rule: FaultRule) -> None:
        """Add ``rule`` for ``endpoint``, counting calls from now (for tests in-process)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r} ({sorted(ENDPOINTS)})")
        if rule.when is not None and endpoint != "submit":
            raise ValueError("'when' picks orders: only submit rules take it")
        if rule.fault == "late_visibility" and endpoint not in _NOTHING_YET:
            raise ValueError(f"late_visibility is a read's fault ({sorted(_NOTHING_YET)})")
        if rule.when is None:  # a rule with ``when`` counts its own matches from zero
            rule = attrs.evolve(rule, after_calls=rule.after_calls + self._calls[endpoint])
        self._plan.setdefault(endpoint, []).append(rule)

    @property
    def cancel_failures(self) -> tuple[CancelFailure, ...]:
        return self.inner.cancel_failures

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def instruments(self) -> Any:
        return await self.inner.instruments()

    async def market_clock(self) -> Any:
        return await self.inner.market_clock()

    @property
    def bar_interval_s(self) -> float:
        return self.inner.bar_interval_s

    async def bars(self, symbol: str, *, since_ns: int | None = None, limit: int = 500) -> Any:
        return await self.inner.bars(symbol, since_ns=since_ns, limit=limit)

    async def quote(self, symbol: str) -> Any:
        return await self.inner.quote(symbol)

    def _firing(self, endpoint: str, intents: Sequence[OrderIntent] = ()) -> list[FaultRule]:
        """Count this call and return the rules that fault it."""
        self._calls[endpoint] += 1
        firing = []
        for rule in self._plan.get(endpoint, ()):
            if rule.when is None:
                call = self._calls[endpoint]
            elif rule.matches(intents):
                call = self._matched[id(rule)] = self._matched.get(id(rule), 0) + 1
            else:
                continue
            if rule.fires(call):
                firing.append(rule)
        return firing

    async def _call(
        self,
        endpoint: str,
        act: Callable[[], Awaitable[Any]],
        rules: list[FaultRule] | None = None,
    ) -> Any:
        if rules is None:
            rules = self._firing(endpoint)
        if self._auth_revoked:
            raise VenueAuthError(
                "401 Unauthorized: credentials revoked", venue=self.name, status=401
            )
        for rule in rules:
            await self._before(endpoint, rule)
        if any(r.fault == "late_visibility" for r in rules):
            return _NOTHING_YET[endpoint]()
        result = await act()
        for rule in rules:
            self._after(endpoint, rule)
            if rule.fault == "nan_equity":  # garbage that parses: the venue says equity NaN
                result = attrs.evolve(result, equity=Decimal("NaN"))
        return result

    async def _before(self, endpoint: str, rule: FaultRule) -> None:
        kind = rule.fault
        if kind == "delay":
            await self._clock.sleep(rule.delay_s)
        elif kind == "rate_limit":
            raise VenueRateLimited(
                f"429 Too Many Requests on {endpoint}",
                venue=self.name,
                status=429,
                retry_after_s=rule.retry_after_s,
            )
        elif kind == "server_error":
            raise VenueUnavailable(
                f"503 Service Unavailable on {endpoint}", venue=self.name, status=503
            )
        elif kind == "auth_revoked":
            self._auth_revoked = True
            raise VenueAuthError(
                "401 Unauthorized: credentials revoked", venue=self.name, status=401
            )
        elif kind == "reject":
            raise VenueRejected(
                f"400 rejected by fault plan on {endpoint}", venue=self.name, status=400
            )
        elif kind == "crash_before":
            os.kill(os.getpid(), signal.SIGKILL)

    def _after(self, endpoint: str, rule: FaultRule) -> None:
        kind = rule.fault
        if kind == "timeout_after_accept":
            raise VenueTimeout(f"{endpoint}: no reply in time (the venue did act)", venue=self.name)
        if kind == "server_error_after_accept":
            raise VenueUnavailable(
                f"500 on {endpoint} after the venue acted", venue=self.name, status=500
            )
        if kind == "crash_after_accept":
            os.kill(os.getpid(), signal.SIGKILL)

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        rules = self._firing("submit", (intent,))
        if any(r.fault == "reject" for r in rules):
            # A venue reject is an answer, not an exception: REJECTED with the reason.
            why = reason(ReasonCode.VENUE_REJECTED, detail="rejected by fault plan")
            return SubmitResult(SubmitOutcome.REJECTED, None, why)
        return await self._call("submit", lambda: self.inner.submit(intent), rules)

    async def submit_oco(self, take_profit: OrderIntent, stop_loss: OrderIntent) -> Any:
        """The paper venue's OCO order list, through the submit endpoint's faults."""
        rules = self._firing("submit", (take_profit, stop_loss))
        return await self._call(
            "submit", lambda: self.inner.submit_oco(take_profit, stop_loss), rules
        )

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> Any:
        return await self._call("cancel", lambda: self.inner.cancel(client_order_id, symbol=symbol))

    async def cancel_all(self, symbol: str | None = None) -> Any:
        return await self._call("cancel_all", lambda: self.inner.cancel_all(symbol))

    async def order_by_client_id(self, client_order_id: str) -> Any:
        return await self._call(
            "order_by_client_id", lambda: self.inner.order_by_client_id(client_order_id)
        )

    async def open_orders(self) -> Any:
        return await self._call("open_orders", self.inner.open_orders)

    async def positions(self) -> Any:
        return await self._call("positions", self.inner.positions)

    async def account(self) -> Any:
        return await self._call("account", self.inner.account)

    def may_hold_fills_after(self, seq: int) -> bool:
        return True  # its faults must reach the fills read: always asked (venues/base.py)

    def known_equity(self) -> Decimal | None:
        return None  # its faults must reach the account read: account() (venues/base.py)

    async def fills_since(self, seq: int) -> Any:
        return await self._call("fills_since", lambda: self.inner.fills_since(seq))
