"""``[liquidity.<profile>]``: the bar-volume floor, the participation cap and the liquidity
regime (``quantbot.risk.liquidity``), one table per trading profile.

What the regime measures, over the last ``liq_lookback_bars`` bars the data contract took:

- volume: the mean bar volume (base units), and the mean bar value (volume x close);
- spread proxy: the mean of ``(high - low) / close`` in bps (bars carry no bid/ask: a wide
  bar range is what a wide spread and a thin book look like in OHLC data);
- volatility proxy: the standard deviation of the close-to-close log returns, in bps.

The score is the weakest of the three against the reference market of the table:
``min(value / ref_bar_notional, ref_spread_bps / spread, ref_vol_bps / vol)`` (1 = exactly
the reference market, 0.5 = half its traded value or twice its spread or volatility). Below
``thin_score`` the regime is THIN, at or above ``thick_score`` THICK, else NORMAL; WARMUP
until ``liq_lookback_bars`` bars have been seen. The references are per bar, so they belong
to a bar interval, as ``min_bar_notional`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

PARTICIPATION_MODES = ("scale", "block")


@attrs.frozen
class LiquidityThresholds:
    # A bar trading less than this VALUE (volume x close, in the quote currency) is thin:
    # the same threshold means the same market on a $5 stock and on BTC.
    min_bar_notional: float = setting(50_000.0, ge=0)
    # The participation cap: an order is at most this share of the rolling mean bar volume.
    max_participation: float = setting(0.05, gt=0, le=1)
    # Base units (shares, coins): 0 = off. Kept for configs that set it.
    min_bar_volume: float = setting(0.0, ge=0)
    # The liquidity regime (module docstring).
    liq_lookback_bars: int = setting(20, ge=2)
    ref_bar_notional: float = setting(100_000.0, gt=0)
    ref_spread_bps: float = setting(300.0, gt=0)
    ref_vol_bps: float = setting(300.0, gt=0)
    thin_score: float = setting(0.5, ge=0)
    thick_score: float = setting(2.0, gt=0)
    # In THIN: cost assumptions x thin_cost_mult, price collars x thin_collar_mult, and an
    # entry order is worth at most thin_max_order_usd.
    thin_cost_mult: float = setting(2.0, ge=1)
    thin_collar_mult: float = setting(0.5, gt=0, le=1)
    thin_max_order_usd: float = setting(2_500.0, gt=0)
    # An entry above the participation cap: "scale" cuts it to the cap (but a cut below
    # min_scale of the order blocks it), "block" blocks it.
    participation_mode: str = setting("scale", choices=PARTICIPATION_MODES)
    min_scale: float = setting(0.1, ge=0, le=1)


@attrs.frozen
class Liquidity:
    """Keyed by profile name; the middle one is ``balanced``, never ``moderate``."""

    conservative: LiquidityThresholds = setting(LiquidityThresholds(50_000.0, 0.02))
    balanced: LiquidityThresholds = setting(
        LiquidityThresholds(20_000.0, 0.05, thin_max_order_usd=7_500.0)
    )
    aggressive: LiquidityThresholds = setting(
        LiquidityThresholds(5_000.0, 0.10, thin_max_order_usd=20_000.0)
    )


Problem = tuple[tuple[str, ...], Any, str]


def liquidity_problems(liquidity: Liquidity, profiles: tuple[str, ...]) -> Iterator[Problem]:
    """Cross-key rules: THIN must lie below THICK."""
    for name in profiles:
        table = getattr(liquidity, name)
        if table.thin_score >= table.thick_score:
            yield (
                ("liquidity", name, "thin_score"),
                table.thin_score,
                f"must be below liquidity.{name}.thick_score ({table.thick_score})",
            )
