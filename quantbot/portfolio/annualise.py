"""How many bars make a year: the factor realised volatility is annualised by.

The rule, in order (README "Volatility and the bar interval"):

1. ``limits.periods_per_year`` when it is set (> 0): the user said so.
2. The synthetic market: one year of market time over what one of its bars stands for
   (``market.bar_represents_s``), NOT over how often it prints one (``market.bar_interval_s``,
   the wall-clock pace). Its bars are generated for that length of market time
   (``marketdata.synthetic.calibrated``), so a faster or slower pace changes how quickly a run
   goes, never the volatility it sees.
3. Any other source (bar files, a replay, a real venue's bars): 0, inferred from the spacing
   of the bars by ``MarketStats`` (daily bars: 252 trading days; shorter bars: calendar time).
   There the spacing of the bars is their interval in market time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantbot.config.schema import Config

SECONDS_PER_YEAR = 365.25 * 86400.0


def periods_per_year(config: Config) -> float:
    """Bars per year for ``config``'s market; 0 means "infer it from the bars' spacing"."""
    if config.limits.periods_per_year:
        return config.limits.periods_per_year
    if config.market.source == "synthetic":
        return SECONDS_PER_YEAR / config.market.bar_represents_s
    return 0.0


def run_periods_per_year(plain: dict[str, Any]) -> float:
    """The same rule on a run manifest's resolved config (a plain dict): what the run's
    volatility was annualised by, for a replay of its bars (which reads them as files)."""
    limits = plain.get("limits", {})
    market = plain.get("market", {})
    explicit = float(limits.get("periods_per_year", 0.0) or 0.0)
    if explicit:
        return explicit
    if market.get("source", "synthetic") == "synthetic" and "bar_represents_s" in market:
        return SECONDS_PER_YEAR / float(market["bar_represents_s"])
    # A run from before bar_represents_s existed annualised by the spacing of its bars, as a
    # replay of them does.
    return 0.0
