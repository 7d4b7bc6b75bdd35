"""The error taxonomy: every exception maps to what the operator would expect, and the one
handler applies and records it."""

from __future__ import annotations

import asyncio
import decimal
import errno
import json
import socket
from typing import Any

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.ops import BreakerConfig
from quantbot.domain.errors import (
    ConfigError,
    DataError,
    InvariantViolation,
    VenueAuthError,
    VenueBrokerState,
    VenueClockSkew,
    VenueClockSkewPersistent,
    VenueConnectFailed,
    VenueConnectionError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueSchemaError,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.ops.breakers import BreakerBoard, BreakerState, CircuitOpenError
from quantbot.ops.errors import (
    ErrorAction,
    ErrorCategory,
    ErrorHandler,
    ErrorScope,
    classify_exception,
    counts_against_breaker,
    mark_breaker_recorded,
)

C, S, A, R = ErrorCategory, ErrorScope, ErrorAction, ReasonCode
NET = (C.TRANSIENT_NETWORK, S.PROVIDER, A.RETRY, True, R.NET_RETRY)
RATE = (C.RATE_LIMIT, S.PROVIDER, A.RETRY, True, R.RATE_LIMIT_RETRY)
AUTH = (C.AUTH, S.GLOBAL, A.HALT_TRADING, False, R.AUTH_HALT)
SCHEMA = (C.PROVIDER_SCHEMA, S.PROVIDER, A.DISABLE_PROVIDER, False, R.PROVIDER_SCHEMA_DISABLE)
INVARIANT = (C.INVARIANT_VIOLATION, S.GLOBAL, A.HALT_TRADING, False, R.HALT_INVARIANT_VIOLATION)
BUG = (C.PROGRAMMING_ERROR, S.GLOBAL, A.HALT_TRADING, False, R.HALT_PROGRAMMING_ERROR)
UNKNOWN = (C.UNKNOWN, S.GLOBAL, A.HALT_TRADING, False, R.ERROR_UNKNOWN_HALT)
SKEW = (C.CLOCK_SKEW, S.PROVIDER, A.RETRY, True, R.VENUE_CLOCK_SKEW)
SKEW_HALT = (C.CLOCK_SKEW_PERSISTENT, S.GLOBAL, A.HALT_TRADING, False, R.HALT_CLOCK_SKEW)


def _json_error() -> Exception:
    try:
        json.loads("{")
    except json.JSONDecodeError as e:
        return e
    raise AssertionError("unreachable")


def _orjson_error() -> Exception:
    try:
        orjson.loads(b'{"a": ')
    except orjson.JSONDecodeError as e:
        return e
    raise AssertionError("unreachable")


ROWS: list[tuple[str, Exception, tuple[Any, ...]]] = [
    ("auth", VenueAuthError("key revoked", venue="binance"), AUTH),
    ("status 401", VenueError("unauthorized", status=401), AUTH),
    ("status 403", VenueError("forbidden", status=403), AUTH),
    ("403 wins over rejected", VenueRejected("forbidden", status=403), AUTH),
    ("rate limited", VenueRateLimited("slow down", retry_after_s=2.0), RATE),
    ("status 429", VenueError("too many", status=429), RATE),
    ("status 418", VenueError("banned for now", status=418), RATE),
    ("venue timeout", VenueTimeout("no reply"), NET),
    ("venue connection", VenueConnectionError("reset"), NET),
    ("venue connect failed", VenueConnectFailed("refused"), NET),
    ("clock skew", VenueClockSkew("-1021", status=400, venue_ahead_ms=30_000), SKEW),
    ("clock skew persistent", VenueClockSkewPersistent("-1021 again", status=400), SKEW_HALT),
    ("venue unavailable", VenueUnavailable("maintenance"), NET),
    ("status 500", VenueError("internal", status=500), NET),
    ("status 503", VenueError("unavailable", status=503), NET),
    ("builtin timeout", TimeoutError(), NET),
    ("asyncio timeout", TimeoutError(), NET),
    ("connection reset", ConnectionResetError(errno.ECONNRESET, "reset by peer"), NET),
    ("connection refused", ConnectionRefusedError(errno.ECONNREFUSED, "refused"), NET),
    ("oserror net errno", OSError(errno.ENETUNREACH, "network is unreachable"), NET),
    ("dns failure", socket.gaierror(-2, "Name or service not known"), NET),
    (
        "rejected",
        VenueRejected("price outside band"),
        (C.ORDER_REJECTED, S.SYMBOL, A.SKIP_SYMBOL, False, R.VENUE_REJECTED),
    ),
    (
        "broker state",
        VenueBrokerState("insufficient buying power"),
        (C.BROKER_STATE, S.SYMBOL, A.SKIP_SYMBOL, False, R.BROKER_STATE_SKIP),
    ),
    (
        "bad data",
        DataError("bars.csv line 7: high < low"),
        (C.BAD_DATA, S.SYMBOL, A.SKIP_SYMBOL, False, R.DATA_BAD_PAYLOAD),
    ),
    ("venue schema", VenueSchemaError("missing field 'qty'"), SCHEMA),
    ("json decode", _json_error(), SCHEMA),
    ("orjson decode", _orjson_error(), SCHEMA),
    ("invariant", InvariantViolation("overfill: filled 11 of 10"), INVARIANT),
    ("decimal invalid", decimal.InvalidOperation(), INVARIANT),
    ("zero division", ZeroDivisionError("division by zero"), INVARIANT),
    ("nan to int", ValueError("cannot convert float NaN to integer"), INVARIANT),
    ("non-finite", ValueError("weight is non-finite: inf"), INVARIANT),
    ("type error", TypeError("unsupported operand"), BUG),
    ("key error", KeyError("AAPL"), BUG),
    ("attribute error", AttributeError("'NoneType' object has no attribute 'qty'"), BUG),
    ("index error", IndexError("list index out of range"), BUG),
    ("name error", NameError("name 'qty' is not defined"), BUG),
    ("assertion", AssertionError("unreachable"), BUG),
    ("plain value error", ValueError("bad literal"), UNKNOWN),
    ("runtime error", RuntimeError("session closed"), UNKNOWN),
    ("disk full", OSError(errno.ENOSPC, "No space left on device"), UNKNOWN),
    ("config error", ConfigError("bad key"), UNKNOWN),
    ("venue 400", VenueError("bad request", status=400), UNKNOWN),
    ("venue no status", VenueError("something"), UNKNOWN),
]


@pytest.mark.parametrize(
    ("exc", "expected"), [(e, x) for _, e, x in ROWS], ids=[n for n, *_ in ROWS]
)
def test_every_mapping_row(exc: Exception, expected: tuple[Any, ...]) -> None:
    info = classify_exception(exc, dependency="broker_positions", symbol="AAPL")
    assert (info.category, info.scope, info.action, info.retryable, info.reason_code) == expected
    assert info.dependency == "broker_positions"
    assert info.reason().code is expected[4]


@pytest.mark.parametrize(
    "exc", [asyncio.CancelledError(), KeyboardInterrupt(), SystemExit(1)], ids=type
)
def test_cancellation_and_exit_are_refused_not_classified(exc: BaseException) -> None:
    with pytest.raises(TypeError, match="must propagate"):
        classify_exception(exc, dependency="broker_positions")


def test_reason_carries_dependency_symbol_sleeve_type_message_and_retry_after() -> None:
    exc = VenueRateLimited("429 Too Many Requests", venue="binance", status=429, retry_after_s=3.5)
    info = classify_exception(exc, dependency="data_primary", symbol="BTC/USDT", sleeve="trend")
    assert info.reason().to_record() == {
        "code": "RATE_LIMIT_RETRY",
        "dependency": "data_primary",
        "symbol": "BTC/USDT",
        "sleeve": "trend",
        "error_type": "VenueRateLimited",
        "error": "429 Too Many Requests",
        "venue": "binance",
        "status": 429,
        "retry_after_s": 3.5,
    }


def test_reason_never_carries_secrets_and_is_cut_to_300_chars() -> None:
    message = (
        "binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=abcdef "
        "401 headers={'X-MBX-APIKEY': 'KEY123'} Authorization: Bearer tok456 apiKey=KEY789 "
        "https://user:pw@host.example/path " + "x" * 400
    )
    info = classify_exception(VenueAuthError(message), dependency="broker_positions")
    text = info.details["error"]
    assert len(text) == 300
    assert text.endswith("...")
    for secret in ("signature=abcdef", "timestamp=1", "KEY123", "tok456", "KEY789", "user:pw"):
        assert secret not in text
    assert "https://api.binance.com/api/v3/account?<redacted>" in text
    assert "401" in text


def test_circuit_open_error_is_neither_a_halt_nor_retried() -> None:
    exc = CircuitOpenError(
        reason(R.CIRCUIT_OPEN_broker_positions, state="OPEN"), "broker_positions"
    )
    info = classify_exception(exc, dependency="broker_positions")
    assert info.action is A.RETRY
    assert info.retryable is False
    assert info.reason_code is R.CIRCUIT_OPEN_broker_positions


# -- the handler -------------------------------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.halts: list[Reason] = []
        self.skips: list[tuple[str, Reason]] = []
        self.disables: list[tuple[str, Reason]] = []
        self.records: list[dict[str, Any]] = []
        self.board = BreakerBoard(BreakerConfig(), SimClock(10**18))

    def handler(self, *, breakers: bool = True) -> ErrorHandler:
        return ErrorHandler(
            on_halt=self.halts.append,
            on_skip_symbol=lambda sym, why: self.skips.append((sym, why)),
            on_disable_provider=lambda dep, why: self.disables.append((dep, why)),
            record=self.records.append,
            breakers=self.board if breakers else None,
        )

    def failures(self, dep: str) -> int:
        return self.board.snapshot()[dep]["failures_in_window"]


@pytest.fixture
def calls() -> Calls:
    return Calls()


def test_auth_halts_records_and_counts_against_the_breaker(calls: Calls) -> None:
    info = calls.handler().handle(
        VenueAuthError("revoked", status=401), dependency="broker_submit", symbol="AAPL"
    )
    assert info.action is A.HALT_TRADING
    assert [h.code for h in calls.halts] == [R.AUTH_HALT]
    assert calls.halts[0].context["dependency"] == "broker_submit"
    assert calls.skips == [] and calls.disables == []
    assert calls.records == [
        {
            "event": "ERROR",
            "category": "AUTH",
            "scope": "GLOBAL",
            "action": "HALT_TRADING",
            "applied": "HALT_TRADING",
            "dependency": "broker_submit",
            "reason": {
                "code": "AUTH_HALT",
                "dependency": "broker_submit",
                "symbol": "AAPL",
                "error_type": "VenueAuthError",
                "error": "revoked",
                "status": 401,
            },
        }
    ]
    assert calls.failures("broker_submit") == 1


def test_bad_data_skips_only_the_symbol(calls: Calls) -> None:
    calls.handler().handle(DataError("NaN close"), dependency="data_primary", symbol="MSFT")
    assert [(sym, why.code) for sym, why in calls.skips] == [("MSFT", R.DATA_BAD_PAYLOAD)]
    assert calls.halts == [] and calls.disables == []
    assert calls.failures("data_primary") == 0  # the provider answered


def test_schema_disables_the_provider_and_counts_against_its_breaker(calls: Calls) -> None:
    calls.handler().handle(VenueSchemaError("no 'bars' key"), dependency="data_primary")
    assert [(dep, why.code) for dep, why in calls.disables] == [
        ("data_primary", R.PROVIDER_SCHEMA_DISABLE)
    ]
    assert calls.halts == [] and calls.skips == []
    assert calls.failures("data_primary") == 1


def test_transient_network_only_records_and_feeds_the_breaker(calls: Calls) -> None:
    handler = calls.handler()
    for _ in range(3):
        info = handler.handle(VenueTimeout("no reply"), dependency="broker_positions")
        assert info.action is A.RETRY
    assert calls.halts == calls.skips == calls.disables == []
    assert [r["reason"]["code"] for r in calls.records] == ["NET_RETRY"] * 3
    assert calls.board.snapshot()["broker_positions"]["state"] == BreakerState.OPEN


def test_programming_error_halts_without_blaming_the_dependency(calls: Calls) -> None:
    calls.handler().handle(KeyError("qty"), dependency="broker_submit", symbol="AAPL")
    assert [h.code for h in calls.halts] == [R.HALT_PROGRAMMING_ERROR]
    assert calls.failures("broker_submit") == 0


def test_unknown_dependency_is_recorded_without_a_breaker(calls: Calls) -> None:
    calls.handler().handle(VenueTimeout("slow"), dependency="webhook")
    assert calls.records[0]["dependency"] == "webhook"
    assert all(s["failures_in_window"] == 0 for s in calls.board.snapshot().values())


def test_handler_without_breakers_still_applies_the_action(calls: Calls) -> None:
    calls.handler(breakers=False).handle(InvariantViolation("price -1"), dependency="decision")
    assert [h.code for h in calls.halts] == [R.HALT_INVARIANT_VIOLATION]


def test_a_failure_retry_read_already_counted_is_not_counted_twice(calls: Calls) -> None:
    exc = VenueTimeout("no reply")
    mark_breaker_recorded(exc)
    calls.handler().handle(exc, dependency="broker_positions")
    assert calls.failures("broker_positions") == 0
    assert len(calls.records) == 1


def test_circuit_open_error_neither_halts_nor_feeds_its_own_breaker(calls: Calls) -> None:
    exc = CircuitOpenError(reason(R.CIRCUIT_OPEN_broker_submit), "broker_submit")
    calls.handler().handle(exc, dependency="broker_submit", symbol="AAPL")
    assert calls.halts == calls.skips == calls.disables == []
    assert calls.records[0]["reason"]["code"] == "CIRCUIT_OPEN_broker_submit"
    assert calls.failures("broker_submit") == 0


def test_skip_symbol_without_a_symbol_widens_to_disable_provider(calls: Calls) -> None:
    calls.handler().handle(VenueRejected("unknown symbol"), dependency="broker_open_orders")
    assert [dep for dep, _ in calls.disables] == ["broker_open_orders"]
    assert calls.records[0]["action"] == "SKIP_SYMBOL"
    assert calls.records[0]["applied"] == "DISABLE_PROVIDER"


def test_a_failing_record_does_not_stop_the_halt(calls: Calls) -> None:
    def broken_record(_: dict[str, Any]) -> None:
        raise OSError(errno.ENOSPC, "disk full")

    handler = ErrorHandler(
        on_halt=calls.halts.append,
        on_skip_symbol=lambda *_: None,
        on_disable_provider=lambda *_: None,
        record=broken_record,
    )
    with pytest.raises(OSError, match="disk full"):
        handler.handle(VenueAuthError("revoked"), dependency="broker_submit")
    assert [h.code for h in calls.halts] == [R.AUTH_HALT]


def test_handler_refuses_cancellation_too(calls: Calls) -> None:
    with pytest.raises(TypeError, match="must propagate"):
        calls.handler().handle(asyncio.CancelledError(), dependency="broker_submit")
    assert calls.records == []


def test_clock_skew_carries_the_measured_offset_and_does_not_blame_the_venue() -> None:
    exc = VenueClockSkew("outside recvWindow", venue="binance", status=400, venue_ahead_ms=-30_000)

    info = classify_exception(exc, dependency="broker_positions")

    assert info.reason().code is R.VENUE_CLOCK_SKEW
    assert info.details["venue_ahead_ms"] == -30_000
    assert not counts_against_breaker(exc, info)  # the venue answered; our clock is off
