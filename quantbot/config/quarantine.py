"""Config section ``[quarantine]``: when a sleeve (or a symbol) that misbehaves is taken out of
trading for a while, and how (``quantbot.governance.quarantine``). Part of the one tree in
``quantbot.config.schema``.

Each trigger has its own threshold and window; a threshold of 0 turns that trigger off.
Windows of events (stop-outs, breaker opens, cancel-loop blocks) are counted in bars of the
market's clock (one bar time, whatever the number of symbols); windows of outcomes in round
trips (expectancy) or orders (reject rate).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

MODES = ("block", "zero_targets")


@attrs.frozen
class QuarantineConfig:
    enabled: bool = setting(True)
    # "block": a quarantined sleeve's entries are refused (what it holds may still close);
    # "zero_targets": its targets count as 0 in netting, so what it holds is closed.
    mode: str = setting("zero_targets", choices=MODES)
    # Quarantine a symbol too (every sleeve's entries there) on the same triggers.
    symbols: bool = setting(True)
    # How long a quarantine lasts: duration_bars bars of the market clock when > 0, else
    # duration_days days of market time. Per sleeve overrides: { trend = 50 }.
    duration_bars: int = setting(0, ge=0)
    duration_days: float = setting(2.0, gt=0)
    duration_bars_by_sleeve: dict[str, int] = setting({})
    duration_days_by_sleeve: dict[str, float] = setting({})
    # Post-cost expectancy: the mean PnL (after fees) of the last expectancy_window_trades
    # round trips, once there are at least min_trades of them, below expectancy_floor_usd.
    min_trades: int = setting(20, ge=0)
    expectancy_window_trades: int = setting(30, ge=1)
    expectancy_floor_usd: float = setting(0.0)
    # Stop-outs: this many stop-loss exits within stop_outs_window_bars bars.
    max_stop_outs: int = setting(8, ge=0)
    stop_outs_window_bars: int = setting(100, ge=1)
    # Reject rate: of the last reject_window_orders orders sent, once at least
    # reject_min_orders were, the share the venue rejected at or above max_reject_rate.
    max_reject_rate: float = setting(0.5, ge=0, le=1)
    reject_min_orders: int = setting(10, ge=1)
    reject_window_orders: int = setting(20, ge=1)
    # Breaker opens during the scope's order submits, within breaker_window_bars bars.
    max_breaker_opens: int = setting(3, ge=0)
    breaker_window_bars: int = setting(500, ge=1)
    # CANCEL_LOOP_BLOCK refusals of the scope's orders, within cancel_loop_window_bars bars.
    max_cancel_loop_blocks: int = setting(5, ge=0)
    cancel_loop_window_bars: int = setting(500, ge=1)


def quarantine_problems(
    config: QuarantineConfig, sleeves: Iterable[str]
) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """Cross-key rules of [quarantine] (second pass of ``quantbot.config.schema``)."""
    known = set(sleeves) | {"external"}
    for key, table in (
        ("duration_bars_by_sleeve", config.duration_bars_by_sleeve),
        ("duration_days_by_sleeve", config.duration_days_by_sleeve),
    ):
        for sleeve, value in table.items():
            where = ("quarantine", key, sleeve)
            if sleeve not in known:
                yield where, value, f"no sleeve named {sleeve!r} (sleeves: {sorted(known)})"
            elif not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                yield where, value, "must be a number > 0"
    if config.min_trades > config.expectancy_window_trades:
        yield (
            ("quarantine", "min_trades"),
            config.min_trades,
            f"must be at most expectancy_window_trades ({config.expectancy_window_trades})",
        )
    if config.reject_min_orders > config.reject_window_orders:
        yield (
            ("quarantine", "reject_min_orders"),
            config.reject_min_orders,
            f"must be at most reject_window_orders ({config.reject_window_orders})",
        )
