"""Config section ``[orders]``: which order types entries use, and the protective exits every
position carries (``oms/exits``). Part of the one tree in ``quantbot.config.schema``.

Entry types are chosen per trading profile and volatility regime, and per sleeve where a
sleeve overrides it; the exit legs come from the AI sizer's harvest preset (stop-loss,
take-profit, trailing distance, max hold), ATR-scaled where a profile says so. Start-up checks
every configured type against the venue (``oms/capability``): native, emulated by the daemon
(``allow_emulation``), or refused with the type and venue named.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

ENTRY_TYPES = ("MARKET", "LIMIT")
STOP_TYPES = ("auto", "STOP", "STOP_LIMIT")
EXIT_LEGS = ("stop_loss", "take_profit", "trailing_stop", "max_hold")
HARVEST_NAMES = ("SCALPER", "SWING", "TREND_RUNNER")

Problem = tuple[tuple[str, ...], Any, str]


@attrs.frozen
class OrderParams:
    """One trading profile's order choices."""

    # Entry order type by volatility regime (low / normal / high, as the execution policy
    # names them): e.g. LIMIT in calm markets, MARKET in fast ones.
    entry_type: dict[str, str] = setting({"low": "MARKET", "normal": "MARKET", "high": "MARKET"})
    # A LIMIT entry is priced this far inside the decision bar's close (a buy below it).
    limit_offset_bps: float = setting(5.0, ge=0)
    # A LIMIT entry still working this many bars after it was sent is cancelled
    # (ENTRY_LIMIT_TIMEOUT), counted by TCA and the cancel-loop guard.
    limit_entry_timeout_bars: int = setting(5, ge=1)
    # After a stop-out the symbol cannot be re-entered on that side for this many bars
    # (EXIT_STOP_LOCK): a stop-out re-entry loop is impossible.
    stop_lock_bars: int = setting(10, ge=0)
    # 0: the harvest preset's fraction of the entry price; > 0: this many ATRs instead.
    stop_loss_atr_mult: float = setting(0.0, ge=0)
    take_profit_atr_mult: float = setting(0.0, ge=0)
    trailing_stop_atr_mult: float = setting(0.0, ge=0)


@attrs.frozen
class OrdersConfig:
    # Place protective exits for every position an entry of ours opens (DESIGN.md section 2).
    exits: bool = setting(True)
    # Which legs: any of stop_loss, take_profit, trailing_stop, max_hold. The stop-loss is
    # what the governor's risk budget assumes: without it, risk is the whole notional.
    exit_legs: list[str] = setting(list(EXIT_LEGS))
    # "native": each leg at the venue where the venue takes its type; "emulated": the
    # daemon watches every trigger itself (nothing rests at the venue; nothing survives the
    # daemon dying).
    prefer: str = setting("native", choices=("native", "emulated"))
    # A configured type the venue cannot take natively is emulated by the daemon when true;
    # when false, start-up refuses (ORDER_TYPE_UNSUPPORTED) naming the type and the venue.
    allow_emulation: bool = setting(True)
    # The stop-loss leg's type: "auto" rests a STOP where the venue takes one, else a
    # STOP_LIMIT (Binance spot); STOP_LIMIT sends its limit this far beyond the stop.
    stop_type: str = setting("auto", choices=STOP_TYPES)
    stop_limit_offset_bps: float = setting(50.0, gt=0)
    # "partial": legs as soon as any of the entry filled, sized to what filled (and grown as
    # more fills); "full": only once the entry order is done.
    partial_fills: str = setting("partial", choices=("partial", "full"))
    # A held position found without its working leg (start-up or periodic check): re-place
    # it ("replace") or halt trading ("halt"). Both are recorded as EXIT_LEG_MISSING.
    missing_leg: str = setting("replace", choices=("replace", "halt"))
    # The harvest policy for a position whose entry carried none (the AI sizer fell back,
    # a position adopted at start-up).
    default_harvest: str = setting("SWING", choices=HARVEST_NAMES)
    # Bars in the average true range the ATR multiples scale.
    atr_bars: int = setting(14, ge=1)
    # The execution policy may send MARKET orders (entries and emulated exits). False:
    # MARKET entry types are refused at start-up.
    allow_market: bool = setting(True)
    # Entry type per sleeve, overriding the profile's regime choice: {trend = "LIMIT"}.
    sleeve_entry_type: dict[str, str] = setting({})
    conservative: OrderParams = setting(OrderParams())
    balanced: OrderParams = setting(OrderParams())
    aggressive: OrderParams = setting(OrderParams())


def orders_problems(
    orders: OrdersConfig, sleeves: list[str], profiles: tuple[str, ...]
) -> Iterator[Problem]:
    """Cross-key rules of ``[orders]`` (second pass of ``quantbot.config.schema``)."""
    stray = [leg for leg in orders.exit_legs if leg not in EXIT_LEGS]
    if stray:
        yield ("orders", "exit_legs"), orders.exit_legs, f"unknown legs {stray} (use {EXIT_LEGS})"
    for name, kind in orders.sleeve_entry_type.items():
        if name not in sleeves:
            yield ("orders", "sleeve_entry_type", name), kind, f"no sleeve named {name!r}"
        if kind not in ENTRY_TYPES:
            yield ("orders", "sleeve_entry_type", name), kind, f"must be one of {ENTRY_TYPES}"
    for profile in profiles:
        params: OrderParams = getattr(orders, profile)
        for regime, kind in params.entry_type.items():
            where = ("orders", profile, "entry_type", regime)
            if regime not in ("low", "normal", "high"):
                yield where, kind, "regime must be one of low, normal, high"
            if kind not in ENTRY_TYPES:
                yield where, kind, f"must be one of {ENTRY_TYPES}"
            if kind == "MARKET" and not orders.allow_market:
                yield where, kind, "MARKET entries while orders.allow_market = false"


def entry_types(orders: OrdersConfig, profile: str) -> set[str]:
    """Every entry type the active profile and the sleeves can choose."""
    params: OrderParams = getattr(orders, profile)
    return set(params.entry_type.values()) | set(orders.sleeve_entry_type.values())
