"""Config sections for the fail-closed OMS and operations (breakers, retries, pre-trade
gates, reconciliation, alerts, control plane). Part of the one tree in ``quantbot.config.schema``;
kept in their own module so that one stays readable."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import attrs

from quantbot.config.loader import setting

BREAKER_KEYS = (
    "broker_submit",
    "broker_positions",
    "broker_open_orders",
    "data_primary",
    "data_fallback",
    "quotes_primary",
    "calendar_market_clock",
)


@attrs.frozen
class BreakerConfig:
    """Two escalation levels per dependency; the longer one wins when both trip."""

    short_failures: int = setting(3, ge=1)
    short_window_s: float = setting(60.0, gt=0)
    short_open_s: float = setting(60.0, gt=0)
    long_failures: int = setting(10, ge=1)
    long_window_s: float = setting(600.0, gt=0)
    long_open_s: float = setting(900.0, gt=0)


@attrs.frozen
class RetryConfig:
    """Bounded retries for idempotent reads only (bars, positions, order status)."""

    max_attempts: int = setting(3, ge=1, le=20)
    max_total_s: float = setting(10.0, gt=0)
    initial_backoff_s: float = setting(0.2, ge=0)
    max_backoff_s: float = setting(2.0, ge=0)
    jitter_s: float = setting(0.1, ge=0)


@attrs.frozen
class PretradeConfig:
    max_order_usd: Decimal = setting(Decimal("25000"), gt=0)
    max_order_qty: Decimal = setting(Decimal("10000"), gt=0)
    collar_bps: float = setting(200.0, gt=0)
    collar_window_bps: float = setting(500.0, gt=0)
    collar_window_s: float = setting(300.0, gt=0)
    duplicate_window_s: float = setting(3600.0, gt=0)
    max_orders_per_min: int = setting(60, ge=1)
    max_orders_per_symbol_per_min: int = setting(10, ge=1)
    max_cancels_per_min: int = setting(60, ge=1)
    cancel_loop_max_cancels: int = setting(5, ge=1)
    cancel_loop_block_bars: int = setting(10, ge=1)
    max_executions: int = setting(30, ge=1)
    executions_window_s: float = setting(600.0, gt=0)
    allowed_symbols: list[str] = setting([])
    max_data_age_s: float = setting(10.0, gt=0)
    canary_symbols: list[str] = setting([])
    # More than this many PRICE_COLLAR_BLOCKs of one symbol within collar_block_window_s
    # disable it until `quantbot resume --symbol` (PRICE_COLLAR_DISABLE).
    max_collar_blocks: int = setting(10, ge=1)
    collar_block_window_s: float = setting(600.0, gt=0)
    # Quote gate (oms/pretrade_quotes): a venue's top of book older than this blocks new risk.
    max_quote_age_s: float = setting(10.0, gt=0)


@attrs.frozen
class OmsConfig:
    unknown_grace_s: float = setting(30.0, gt=0)
    lost_check_interval_s: float = setting(60.0, gt=0)
    # How long after its submit an order the venue does not show may still appear there
    # (its eventual consistency). Only after it does a venue's "unknown order" answer to a
    # cancel prove the order dead. Not applied to the embedded venue, which is consistent.
    visibility_window_s: float = setting(60.0, ge=0)


@attrs.frozen
class ReconcileConfig:
    interval_s: float = setting(60.0, gt=0)
    on_mismatch: str = setting("halt", choices=("halt", "reduce_only", "cancel_all"))
    cancel_unexpected_at_start: bool = setting(False)
    # Venue inventory found when the journal begins (and fills of orders quantbot never
    # sent): "baseline" keeps it apart, untouched by the sleeves; "manage" lets them trade it.
    external_inventory: str = setting("baseline", choices=("baseline", "manage"))


@attrs.frozen
class AlertsConfig:
    repeated_rejects: int = setting(5, ge=1)
    rejects_window_s: float = setting(300.0, gt=0)
    stale_data_s: float = setting(30.0, gt=0)
    webhook_url: str = setting("")
    webhook_timeout_s: float = setting(2.0, gt=0)


@attrs.frozen
class ControlConfig:
    cancel_all_on_kill: bool = setting(True)
    cancel_all_on_mismatch: bool = setting(False)
    cancel_all_on_submit_escalation: bool = setting(False)
    poll_interval_s: float = setting(0.2, gt=0, le=1)
    socket_name: str = setting("control.sock")


@attrs.frozen
class TcaConfig:
    """Transaction cost analysis: one record per order in runtime/<file> (live and replay)."""

    file: str = setting("tca.jsonl")
    # Arrival benchmark for implementation shortfall: the decision bar's price, or the price
    # when the order was submitted.
    arrival: str = setting("decision", choices=("decision", "submit"))
    # Where no bid/ask is known, this spread (bps) stands in; every record says it is a proxy.
    proxy_spread_bps: float = setting(2.0, ge=0)
    # An order not filled this long after submit gets a "pending" record (updated on fill).
    pending_after_s: float = setting(60.0, gt=0)
    # Cancel/replace rate: cancels per submitted order over this rolling window.
    cancel_window_s: float = setting(3600.0, gt=0)
    # Quotes at arrival (analytics/arrival.py): the venue's bid/ask read for each order,
    # never holding it up, within this many seconds (a missing quote: the proxy, stated).
    quote_timeout_s: float = setting(0.5, gt=0, le=10)
    # Where no quote is known, spread paid is measured from this price (its source is in
    # every record): the venue's last trade, the decision bar's close, or the close before it.
    proxy_source: str = setting("bar_close", choices=("last_trade", "bar_close", "last_close"))
    # The daily execution report, written at each day roll of this time zone into
    # runtime/reports/ (empty: none).
    rollup_time_zone: str = setting("America/New_York")
    # Entries are blocked (TCA_STALE_BLOCK) while the newest filled order's TCA is older
    # than stale_after_s (counted from start while there is none).
    block_trading_if_tca_stale: bool = setting(False)
    stale_after_s: float = setting(86_400.0, gt=0)
    # Post-trade learning adapts nothing until the window holds this many TCA samples.
    min_tca_samples_for_adapt: int = setting(0, ge=0)
    # Allocation keeps a sleeve without TCA samples at its static (base) weight.
    require_tca_for_allocation: bool = setting(False)


@attrs.frozen
class WatchdogConfig:
    """A thread outside the event loop: it halts trading when the loop stops running (a
    blocking call, a stuck disk) and alerts when the wall clock jumps (ops/watchdog.py)."""

    # Halt (HALT_LOOP_STALLED) when the loop has not run its heartbeat for this long.
    max_loop_lag_s: float = setting(5.0, gt=0)
    # How often the loop beats and the thread looks; at most half of max_loop_lag_s.
    check_interval_s: float = setting(0.5, gt=0, le=5)
    # Alert (ALERT_CLOCK_JUMP) when the wall clock moves this much more or less than the
    # monotonic clock between two looks (a person or NTP stepping the system clock).
    max_clock_jump_s: float = setting(2.0, gt=0)


def watchdog_problems(watchdog: WatchdogConfig) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """Cross-key rule of [watchdog] (second pass of ``quantbot.config.schema``)."""
    if watchdog.check_interval_s * 2 > watchdog.max_loop_lag_s:
        yield (
            ("watchdog", "check_interval_s"),
            watchdog.check_interval_s,
            f"must be at most half of watchdog.max_loop_lag_s ({watchdog.max_loop_lag_s}), "
            "or a healthy loop's heartbeat would look late",
        )


def tca_problems(tca: TcaConfig) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """[tca] rollup_time_zone names a zone the tz database knows (second pass of
    ``quantbot.config.schema``)."""
    if tca.rollup_time_zone:
        try:
            zoneinfo.ZoneInfo(tca.rollup_time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            yield (
                ("tca", "rollup_time_zone"),
                tca.rollup_time_zone,
                "not a time zone the tz database knows (for example America/New_York, UTC)",
            )
