"""The one ``ReasonCode`` enum: every block, clamp, scale-down or halt names one of these.

Names are ``CATEGORY_CONDITION``. The README's table of codes is generated from this enum
(``python -m quantbot.domain.reasons``), so the docstring of each member is what users read.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs


class ReasonCode(enum.StrEnum):
    # market data contract
    DATA_NON_FINITE = "DATA_NON_FINITE"
    DATA_NON_POSITIVE = "DATA_NON_POSITIVE"
    DATA_OHLC_INCONSISTENT = "DATA_OHLC_INCONSISTENT"
    DATA_TIMESTAMP_NOT_INCREASING = "DATA_TIMESTAMP_NOT_INCREASING"
    DATA_STALE = "DATA_STALE"
    DATA_PRICE_JUMP = "DATA_PRICE_JUMP"
    # decision step
    SIGNAL_WARMUP = "SIGNAL_WARMUP"
    NETTING_DEADBAND = "NETTING_DEADBAND"
    SIZE_BELOW_LOT = "SIZE_BELOW_LOT"
    SIZE_BELOW_MIN_NOTIONAL = "SIZE_BELOW_MIN_NOTIONAL"
    ORDER_WORKING_BLOCK = "ORDER_WORKING_BLOCK"
    EXEC_SHADOW_NOT_SENT = "EXEC_SHADOW_NOT_SENT"
    # halts and control
    HALT_ACTIVE = "HALT_ACTIVE"
    HALT_TASK_CRASHED = "HALT_TASK_CRASHED"
    HALT_INVARIANT_VIOLATION = "HALT_INVARIANT_VIOLATION"
    HALT_PROGRAMMING_ERROR = "HALT_PROGRAMMING_ERROR"
    KILL_SWITCH_ACTIVE = "KILL_SWITCH_ACTIVE"
    SHUTDOWN_IN_PROGRESS = "SHUTDOWN_IN_PROGRESS"
    # venue outcomes
    VENUE_REJECTED = "VENUE_REJECTED"
    VENUE_DUPLICATE_CLIENT_ID = "VENUE_DUPLICATE_CLIENT_ID"
    VENUE_INSUFFICIENT_FUNDS = "VENUE_INSUFFICIENT_FUNDS"
    VENUE_UNKNOWN_SYMBOL = "VENUE_UNKNOWN_SYMBOL"
    RECONCILE_ADOPTED = "RECONCILE_ADOPTED"
    RECONCILE_NOT_FOUND = "RECONCILE_NOT_FOUND"
    RECONCILE_POSITION_MISMATCH = "RECONCILE_POSITION_MISMATCH"
    # liquidity (per trading profile)
    LIQUIDITY_THIN_BLOCK = "LIQUIDITY_THIN_BLOCK"
    LIQUIDITY_PARTICIPATION_CLAMP = "LIQUIDITY_PARTICIPATION_CLAMP"
    SIZER_POSITION_CAP = "SIZER_POSITION_CAP"
    # error taxonomy (ops/errors): what the classifier decided
    AUTH_HALT = "AUTH_HALT"
    RATE_LIMIT_RETRY = "RATE_LIMIT_RETRY"
    NET_RETRY = "NET_RETRY"
    DATA_BAD_PAYLOAD = "DATA_BAD_PAYLOAD"
    PROVIDER_SCHEMA_DISABLE = "PROVIDER_SCHEMA_DISABLE"
    BROKER_STATE_SKIP = "BROKER_STATE_SKIP"
    ERROR_UNKNOWN_HALT = "ERROR_UNKNOWN_HALT"
    # dependency breakers (ops/breakers): CIRCUIT_OPEN_<dependency>
    CIRCUIT_OPEN_broker_submit = "CIRCUIT_OPEN_broker_submit"
    CIRCUIT_OPEN_broker_positions = "CIRCUIT_OPEN_broker_positions"
    CIRCUIT_OPEN_broker_open_orders = "CIRCUIT_OPEN_broker_open_orders"
    CIRCUIT_OPEN_data_primary = "CIRCUIT_OPEN_data_primary"
    CIRCUIT_OPEN_data_fallback = "CIRCUIT_OPEN_data_fallback"
    CIRCUIT_OPEN_quotes_primary = "CIRCUIT_OPEN_quotes_primary"
    CIRCUIT_OPEN_calendar_market_clock = "CIRCUIT_OPEN_calendar_market_clock"
    # pre-trade gates (oms/pretrade)
    ORDER_SIZE_BLOCK = "ORDER_SIZE_BLOCK"
    PRICE_COLLAR_BLOCK = "PRICE_COLLAR_BLOCK"
    DUPLICATE_ORDER_BLOCK = "DUPLICATE_ORDER_BLOCK"
    RATE_THROTTLE_BLOCK = "RATE_THROTTLE_BLOCK"
    CANCEL_LOOP_BLOCK = "CANCEL_LOOP_BLOCK"
    EXECUTION_THROTTLE_DISABLE = "EXECUTION_THROTTLE_DISABLE"
    SYMBOL_DISABLED_BLOCK = "SYMBOL_DISABLED_BLOCK"
    SYMBOL_NOT_ALLOWED_BLOCK = "SYMBOL_NOT_ALLOWED_BLOCK"
    STALE_DATA_BLOCK = "STALE_DATA_BLOCK"
    MARKET_CLOSED_BLOCK = "MARKET_CLOSED_BLOCK"
    CANARY_MODE_ACTIVE = "CANARY_MODE_ACTIVE"
    # submit outcomes and order hygiene
    ORDER_UNKNOWN_PENDING = "ORDER_UNKNOWN_PENDING"
    ORDER_LOST = "ORDER_LOST"
    JOURNAL_WRITE_FAILED = "JOURNAL_WRITE_FAILED"
    CANCEL_ALL_TRIGGERED = "CANCEL_ALL_TRIGGERED"
    STARTUP_CLEANUP = "STARTUP_CLEANUP"
    SESSION_CLOSE_CLEANUP = "SESSION_CLOSE_CLEANUP"
    REDUCE_ONLY_ACTIVE = "REDUCE_ONLY_ACTIVE"
    GO_LIVE_NOT_ENABLED = "GO_LIVE_NOT_ENABLED"
    # alerts (ops/alerts)
    ALERT_BREAKER_OPEN = "ALERT_BREAKER_OPEN"
    ALERT_REPEATED_REJECTS = "ALERT_REPEATED_REJECTS"
    ALERT_STALE_DATA = "ALERT_STALE_DATA"
    ALERT_RECONCILE_MISMATCH = "ALERT_RECONCILE_MISMATCH"
    ALERT_HALT_TRADING = "ALERT_HALT_TRADING"


@attrs.frozen(slots=True)
class Reason:
    """A reason code with key=value context, as it lands in a record."""

    code: ReasonCode
    context: dict[str, Any] = attrs.field(factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"code": self.code.value, **self.context}

    def __str__(self) -> str:
        ctx = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.code.value}: {ctx}" if ctx else self.code.value


def reason(code: ReasonCode, **context: Any) -> Reason:
    return Reason(code, context)
