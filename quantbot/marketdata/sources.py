"""The market-data stream the config asks for: the synthetic live market or bar files (CSV or
ccxt OHLCV JSON, whatever ``market.csv_paths`` names)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal

from quantbot.clock import Clock
from quantbot.config.schema import MarketConfig
from quantbot.domain.values import Bar
from quantbot.marketdata.csv_bars import CsvFeed
from quantbot.marketdata.loaders import load_series
from quantbot.marketdata.synthetic import SyntheticFeed, SyntheticMarket, calibrated


def open_stream(
    market: MarketConfig, clock: Clock, marks: Mapping[str, Decimal]
) -> AsyncIterator[list[Bar]]:
    """Batches of bars (one per symbol per time). The synthetic market resumes from the
    paper venue's last ``marks`` so a restart does not jump prices."""
    if market.source == "csv":
        groups = load_series(market.csv_paths, symbols=market.symbols)
        return CsvFeed(groups, clock, pace=market.csv_pace, speed=market.csv_speed).stream()
    synthetic = SyntheticMarket(
        symbols=market.symbols,
        seed=market.seed,
        interval_s=market.bar_interval_s,
        start_prices={s: float(p) for s, p in marks.items()} or None,
        spread_bps=market.spread_bps,
        **calibrated(market.annual_vol, market.bar_represents_s),
    )
    return SyntheticFeed(synthetic, clock).stream()
