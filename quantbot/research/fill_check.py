"""A replay's promise that its fills are prices the bars allowed: every fill lies within its
bar's low-high range, widened by the fill model's own costs (slippage plus half the proxy
spread) and half of the data's own tick (its finest price step: the rounding of a price
that a correct instrument tick can add, and no more). A fill outside it
means the replay is reporting prices that never traded, almost always an instrument wrong
for the data (a 0.01 tick on 5-decimal FX prices): the replay stops, loudly, naming the
fill, the bar and the instrument, rather than report a PnL nobody could have made."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar, Fill, Instrument, to_decimal

_BPS = Decimal(10_000)


class FillRangeCheck:
    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        cost_bps: Callable[[Bar, Decimal], Decimal],
        data_ticks: Mapping[str, Decimal],
    ) -> None:
        """``cost_bps(bar, qty)``: the fill model's cost for a fill of ``qty`` on ``bar``."""
        self._instruments = instruments
        self._half_ticks = {s: t / 2 for s, t in data_ticks.items()}
        self._cost = cost_bps
        self.cursor = 0  # the venue's fill seq checked so far
        self.checked = 0

    def check(self, fills: Sequence[Fill], bars: Sequence[Bar]) -> None:
        """``fills``: the venue's new fills of one batch; ``bars``: that batch's bars."""
        by_symbol = {b.symbol: b for b in bars}
        for fill in fills:
            self.cursor = max(self.cursor, fill.seq)
            bar = by_symbol.get(fill.symbol)
            if bar is None:
                continue  # filled at submit on the decision bar of a batch without it
            self.checked += 1
            # Rounding to a tick as fine as the data's own moves a price by half of it at
            # most; a coarser instrument tick moves it further: that is what this catches.
            half = self._half_ticks.get(fill.symbol, Decimal(0))
            cost = self._cost(bar, fill.qty) / _BPS
            low = to_decimal(bar.low) * (1 - cost) - half
            high = to_decimal(bar.high) * (1 + cost) + half
            if not low <= fill.price <= high:
                raise DataError(self._message(fill, bar, low, high))

    def _message(self, fill: Fill, bar: Bar, low: Decimal, high: Decimal) -> str:
        instrument = self._instruments.get(fill.symbol)
        tick = "unknown" if instrument is None else f"{instrument.tick_size:f}"
        return (
            f"replay: fill {fill.fill_id} of {fill.symbol} at {fill.price} lies outside its "
            f"bar (low {bar.low}, high {bar.high}; with the fill model's costs "
            f"{low:.8f}..{high:.8f}): a price that never traded. The instrument's tick is "
            f'{tick}: declare the symbol\'s real tick and lot in [instruments."{fill.symbol}"] '
            "or an instruments.json beside the data (see README, Market data)"
        )
