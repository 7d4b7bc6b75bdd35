"""The error taxonomy: what quantbot does about an exception, decided in one place.

``classify_exception`` maps an exception to a category, the scope it affects, the action to
take and a reason code. It classifies the exception it is given: vendor exceptions are
translated into ``quantbot.domain.errors`` at the venue boundary, not unwrapped here. Anything
it does not recognise halts trading (fail closed), in paper too.

``ErrorHandler`` is the one place that applies the action and records it. This module and the
daemon's supervisor are the only places allowed a broad ``except``.
"""

from __future__ import annotations

import enum
import errno
import json
import re
import socket
from collections.abc import Callable
from typing import Any

import attrs
import orjson

from quantbot.domain.errors import (
    DataError,
    InvariantViolation,
    VenueAuthError,
    VenueBrokerState,
    VenueClockSkew,
    VenueClockSkewPersistent,
    VenueConnectionError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueSchemaError,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.ops.breakers import BreakerBoard, CircuitOpenError
from quantbot.records.redact import redact_text


class ErrorCategory(enum.StrEnum):
    TRANSIENT_NETWORK = "TRANSIENT_NETWORK"
    RATE_LIMIT = "RATE_LIMIT"
    AUTH = "AUTH"
    BAD_DATA = "BAD_DATA"
    PROVIDER_SCHEMA = "PROVIDER_SCHEMA"
    ORDER_REJECTED = "ORDER_REJECTED"
    BROKER_STATE = "BROKER_STATE"
    CLOCK_SKEW = "CLOCK_SKEW"
    CLOCK_SKEW_PERSISTENT = "CLOCK_SKEW_PERSISTENT"
    INVARIANT_VIOLATION = "INVARIANT_VIOLATION"
    PROGRAMMING_ERROR = "PROGRAMMING_ERROR"
    UNKNOWN = "UNKNOWN"


class ErrorScope(enum.StrEnum):
    SYMBOL = "SYMBOL"
    PROVIDER = "PROVIDER"
    GLOBAL = "GLOBAL"


class ErrorAction(enum.StrEnum):
    RETRY = "RETRY"
    SKIP_SYMBOL = "SKIP_SYMBOL"
    DISABLE_PROVIDER = "DISABLE_PROVIDER"
    HALT_TRADING = "HALT_TRADING"


C, S, A, R = ErrorCategory, ErrorScope, ErrorAction, ReasonCode
# category -> (scope, action, retryable, reason code)
_POLICY: dict[ErrorCategory, tuple[ErrorScope, ErrorAction, bool, ReasonCode]] = {
    C.TRANSIENT_NETWORK: (S.PROVIDER, A.RETRY, True, R.NET_RETRY),
    C.RATE_LIMIT: (S.PROVIDER, A.RETRY, True, R.RATE_LIMIT_RETRY),
    C.AUTH: (S.GLOBAL, A.HALT_TRADING, False, R.AUTH_HALT),
    C.BAD_DATA: (S.SYMBOL, A.SKIP_SYMBOL, False, R.DATA_BAD_PAYLOAD),
    C.PROVIDER_SCHEMA: (S.PROVIDER, A.DISABLE_PROVIDER, False, R.PROVIDER_SCHEMA_DISABLE),
    C.ORDER_REJECTED: (S.SYMBOL, A.SKIP_SYMBOL, False, R.VENUE_REJECTED),
    C.BROKER_STATE: (S.SYMBOL, A.SKIP_SYMBOL, False, R.BROKER_STATE_SKIP),
    # The adapter re-measured the venue's clock before raising: a read may go again at once.
    C.CLOCK_SKEW: (S.PROVIDER, A.RETRY, True, R.VENUE_CLOCK_SKEW),
    C.CLOCK_SKEW_PERSISTENT: (S.GLOBAL, A.HALT_TRADING, False, R.HALT_CLOCK_SKEW),
    C.INVARIANT_VIOLATION: (S.GLOBAL, A.HALT_TRADING, False, R.HALT_INVARIANT_VIOLATION),
    C.PROGRAMMING_ERROR: (S.GLOBAL, A.HALT_TRADING, False, R.HALT_PROGRAMMING_ERROR),
    C.UNKNOWN: (S.GLOBAL, A.HALT_TRADING, False, R.ERROR_UNKNOWN_HALT),
}

# Failures that say the dependency itself is unhealthy (as opposed to the request or our code).
BREAKER_CATEGORIES = frozenset({C.TRANSIENT_NETWORK, C.RATE_LIMIT, C.AUTH, C.PROVIDER_SCHEMA})

_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT}
    | {errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETUNREACH, errno.ENETDOWN}
    | {errno.ENETRESET, errno.EPIPE, errno.ENOTCONN}
)
_PROGRAMMING = (TypeError, KeyError, AttributeError, IndexError, NameError, AssertionError)
_NON_FINITE = re.compile(r"\bnan\b|non-finite|not finite|\binf\b|infinit", re.IGNORECASE)

_MESSAGE_MAX = 300


def safe_message(exc: BaseException) -> str:
    """The exception's message with URL query strings, credentials and tokens redacted
    (``records.redact``), cut to 300 characters: what may land in records and alerts."""
    text = redact_text(str(exc))
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 3] + "..."


@attrs.frozen(slots=True)
class ErrorInfo:
    category: ErrorCategory
    scope: ErrorScope
    action: ErrorAction
    retryable: bool
    dependency: str
    reason_code: ReasonCode
    details: dict[str, Any] = attrs.field(factory=dict)

    def reason(self) -> Reason:
        return Reason(self.reason_code, dict(self.details))


def _venue_category(exc: VenueError) -> ErrorCategory:
    status = exc.status
    # Status first for auth and rate limits: a 401/403 halts whatever class carried it.
    if isinstance(exc, VenueAuthError) or status in (401, 403):
        return C.AUTH
    if isinstance(exc, VenueRateLimited) or status in (429, 418):
        return C.RATE_LIMIT
    for cls, category in (
        (VenueClockSkewPersistent, C.CLOCK_SKEW_PERSISTENT),
        (VenueClockSkew, C.CLOCK_SKEW),
        (VenueRejected, C.ORDER_REJECTED),
        (VenueBrokerState, C.BROKER_STATE),
        (VenueSchemaError, C.PROVIDER_SCHEMA),
        ((VenueTimeout, VenueConnectionError, VenueUnavailable), C.TRANSIENT_NETWORK),
    ):
        if isinstance(exc, cls):
            return category
    if status is not None and 500 <= status <= 599:
        return C.TRANSIENT_NETWORK
    return C.UNKNOWN


def _is_network_oserror(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError | ConnectionError | socket.gaierror | socket.herror):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def _is_non_finite(exc: BaseException) -> bool:
    return isinstance(exc, ArithmeticError) or (
        isinstance(exc, ValueError) and _NON_FINITE.search(str(exc)) is not None
    )


# First match wins; the order matters (a JSONDecodeError is a ValueError, a TimeoutError an
# OSError).
_RULES: tuple[tuple[Callable[[BaseException], bool], ErrorCategory], ...] = (
    (lambda e: isinstance(e, InvariantViolation), C.INVARIANT_VIOLATION),
    (lambda e: isinstance(e, DataError), C.BAD_DATA),
    (lambda e: isinstance(e, json.JSONDecodeError | orjson.JSONDecodeError), C.PROVIDER_SCHEMA),
    (_is_network_oserror, C.TRANSIENT_NETWORK),
    (_is_non_finite, C.INVARIANT_VIOLATION),
    (lambda e: isinstance(e, _PROGRAMMING), C.PROGRAMMING_ERROR),
)


def _category(exc: Exception) -> ErrorCategory:
    if isinstance(exc, VenueError):
        return _venue_category(exc)
    for matches, category in _RULES:
        if matches(exc):
            return category
    return C.UNKNOWN


def _details(
    exc: Exception, dependency: str, symbol: str | None, sleeve: str | None
) -> dict[str, Any]:
    details: dict[str, Any] = {"dependency": dependency}
    if symbol is not None:
        details["symbol"] = symbol
    if sleeve is not None:
        details["sleeve"] = sleeve
    details["error_type"] = type(exc).__name__
    details["error"] = safe_message(exc)
    if isinstance(exc, VenueError):
        if exc.venue:
            details["venue"] = exc.venue
        if exc.status is not None:
            details["status"] = exc.status
        if exc.retry_after_s is not None:
            details["retry_after_s"] = exc.retry_after_s
        if isinstance(exc, VenueClockSkew):
            details["venue_ahead_ms"] = exc.venue_ahead_ms
    return details


def classify_exception(
    exc: BaseException, *, dependency: str, symbol: str | None = None, sleeve: str | None = None
) -> ErrorInfo:
    """What to do about ``exc`` raised while using ``dependency`` (for ``symbol``/``sleeve``).

    ``asyncio.CancelledError``, ``KeyboardInterrupt`` and ``SystemExit`` are not errors to
    handle: passing one (any ``BaseException`` that is not an ``Exception``) raises TypeError.
    """
    if not isinstance(exc, Exception):
        raise TypeError(
            f"{type(exc).__name__} is not classified: cancellation and interpreter exit "
            "must propagate"
        )
    details = _details(exc, dependency, symbol, sleeve)
    if isinstance(exc, CircuitOpenError):
        # Already blocked by its breaker: try later; never feeds a breaker, never halts.
        dep = details["dependency"] = exc.dependency or dependency
        return ErrorInfo(
            C.TRANSIENT_NETWORK, S.PROVIDER, A.RETRY, False, dep, exc.reason.code, details
        )
    category = _category(exc)
    scope, action, retryable, code = _POLICY[category]
    return ErrorInfo(category, scope, action, retryable, dependency, code, details)


_RECORDED_ATTR = "_quantbot_breaker_recorded"


def mark_breaker_recorded(exc: BaseException) -> None:
    """Note that ``exc`` already counted against its breaker (retry_read does this), so the
    handler does not count it twice."""
    setattr(exc, _RECORDED_ATTR, True)


def counts_against_breaker(exc: BaseException, info: ErrorInfo) -> bool:
    return (
        info.category in BREAKER_CATEGORIES
        and not isinstance(exc, CircuitOpenError)
        and not getattr(exc, _RECORDED_ATTR, False)
    )


class ErrorHandler:
    """Classifies, records, feeds the breaker and applies the action: the one handler.

    A SKIP_SYMBOL without a symbol widens to DISABLE_PROVIDER (the next scope up) rather than
    being dropped. Callbacks must not raise; if one does, the ERROR event is already recorded.
    """

    def __init__(
        self,
        *,
        on_halt: Callable[[Reason], None],
        on_skip_symbol: Callable[[str, Reason], None],
        on_disable_provider: Callable[[str, Reason], None],
        record: Callable[[dict[str, Any]], None],
        breakers: BreakerBoard | None = None,
    ) -> None:
        self._on_halt = on_halt
        self._on_skip_symbol = on_skip_symbol
        self._on_disable_provider = on_disable_provider
        self._record = record
        self._breakers = breakers

    def handle(
        self,
        exc: BaseException,
        *,
        dependency: str,
        symbol: str | None = None,
        sleeve: str | None = None,
    ) -> ErrorInfo:
        info = classify_exception(exc, dependency=dependency, symbol=symbol, sleeve=sleeve)
        applied = info.action
        if applied is A.SKIP_SYMBOL and symbol is None:
            applied = A.DISABLE_PROVIDER
        why = info.reason()
        try:
            self._record(
                {
                    "event": "ERROR",
                    "category": info.category.value,
                    "scope": info.scope.value,
                    "action": info.action.value,
                    "applied": applied.value,
                    "dependency": info.dependency,
                    "reason": why.to_record(),
                }
            )
            if (
                self._breakers is not None
                and dependency in self._breakers
                and counts_against_breaker(exc, info)
            ):
                self._breakers.record_failure(dependency, reason=f"{info.category}: {why}")
        finally:
            # Applied even if recording failed: a halt must not depend on the disk.
            self._apply(applied, dependency, symbol, why)
        return info

    def _apply(self, action: ErrorAction, dependency: str, symbol: str | None, why: Reason) -> None:
        if action is A.HALT_TRADING:
            self._on_halt(why)
        elif action is A.DISABLE_PROVIDER:
            self._on_disable_provider(dependency, why)
        elif action is A.SKIP_SYMBOL and symbol is not None:
            self._on_skip_symbol(symbol, why)
        # RETRY: recorded; the caller's retry loop decides when.
