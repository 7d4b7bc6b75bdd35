"""The liquidity regime: per symbol, THIN / NORMAL / THICK (or WARMUP) from rolling volume, a
spread proxy and a volatility proxy over the last ``liq_lookback_bars`` bars.

Definitions (``quantbot.config.liquidity`` has them with the settings):

- volume: mean bar volume (base units; the participation cap is a share of it) and mean bar
  value (volume x close, the quote currency);
- spread: mean ``(high - low) / close`` in bps;
- vol: sample standard deviation of the close-to-close log returns, in bps (0 with fewer than
  two returns);
- score: ``min(value / ref_bar_notional, ref_spread_bps / spread, ref_vol_bps / vol)``, a
  ratio whose inputs are 0 counting as perfect; THIN below ``thin_score``, THICK at or above
  ``thick_score``, NORMAL between. WARMUP until ``liq_lookback_bars`` bars were seen: the
  inputs and score are those of the bars seen so far, and nothing THIN applies.

It runs on every bar the data contract takes, so the state is O(1) per bar: ring buffers of
floats and running sums, no Decimal, no list rebuilt. The sums are recomputed from the rings
once per ``liq_lookback_bars`` bars, so their floating-point drift never builds up. A bar's
reading (the record's ``liquidity`` key) is built once when the bar arrives and shared by
every record until the next bar; it is never mutated. Per bar that is one log, at most one
square root and float arithmetic: no ``min``, ``abs``, ``int`` or ``round`` calls.
"""

from __future__ import annotations

import math
from typing import Any

from quantbot.config.liquidity import LiquidityThresholds
from quantbot.domain.values import Bar

THIN, NORMAL, THICK, WARMUP = "THIN", "NORMAL", "THICK", "WARMUP"
_log, _sqrt = math.log, math.sqrt
_BPS = 10_000.0
SCORE_CAP = 1_000.0  # a market with no spread and no movement: "very thick", finite in JSON
# Before a symbol's first bar: no inputs at all. Shared by records, like every reading: a
# plain dict (orjson writes it as it is), which nothing mutates.
UNSEEN: dict[str, Any] = {
    "regime": WARMUP, "score": None, "volume": None, "spread": None, "vol": None,
}  # fmt: skip


class _Rolling:
    """One symbol's last ``n`` bars: volume, value, spread and the return into each bar (the
    first bar's slot holds 0.0 and does not count: ``min(bars - 1, n)`` returns)."""

    __slots__ = (
        "bars", "i", "last_close", "n", "notional", "reading", "rets", "spread",
        "sum_notional", "sum_ret", "sum_ret2", "sum_spread", "sum_volume", "thin", "volume",
    )  # fmt: skip

    def __init__(self, n: int) -> None:
        self.n = n
        self.bars = 0  # bars seen (the rings hold min(bars, n))
        self.i = 0  # the rings' next slot
        self.volume = [0.0] * n
        self.notional = [0.0] * n
        self.spread = [0.0] * n
        self.rets = [0.0] * n
        self.sum_volume = self.sum_notional = self.sum_spread = 0.0
        self.sum_ret = self.sum_ret2 = 0.0
        self.last_close = 0.0
        self.thin = False
        self.reading: Any = UNSEEN


class LiquidityRegimes:
    """Every symbol's rolling liquidity state and regime; see the module docstring."""

    def __init__(self, params: LiquidityThresholds) -> None:
        self._params = params
        self._n = params.liq_lookback_bars
        self._symbols: dict[str, _Rolling] = {}

    @property
    def params(self) -> LiquidityThresholds:
        return self._params

    def update(self, bar: Bar) -> None:  # noqa: PLR0915 (one frame per bar, on purpose)
        """Take ``bar`` (one the data contract admitted) and compute the symbol's reading."""
        try:  # a subscript, not .get(): every symbol but a new one is there
            roll = self._symbols[bar.symbol]
        except KeyError:
            roll = self._symbols[bar.symbol] = _Rolling(self._n)
        # The bar into the rolling window, inline rather than a method: every bar.
        close = bar.close
        volume = bar.volume
        notional = volume * close
        spread = (bar.high - bar.low) / close * _BPS
        last = roll.last_close
        ret = _log(close / last) * _BPS if last > 0.0 else 0.0
        i = roll.i
        old = roll.rets[i]
        roll.sum_volume += volume - roll.volume[i]
        roll.sum_notional += notional - roll.notional[i]
        roll.sum_spread += spread - roll.spread[i]
        roll.sum_ret += ret - old
        roll.sum_ret2 += ret * ret - old * old
        roll.volume[i] = volume
        roll.notional[i] = notional
        roll.spread[i] = spread
        roll.rets[i] = ret
        roll.last_close = close
        roll.bars += 1
        i += 1
        if i == roll.n:  # once per n bars: exact sums again (no drift)
            i = 0
            fsum = math.fsum
            roll.sum_volume, roll.sum_notional = fsum(roll.volume), fsum(roll.notional)
            roll.sum_spread, roll.sum_ret = fsum(roll.spread), fsum(roll.rets)
            roll.sum_ret2 = fsum([r * r for r in roll.rets])
        roll.i = i
        # The reading, computed here rather than in a helper: this runs on every bar.
        p = self._params
        n, bars = roll.n, roll.bars
        k = bars if bars < n else n
        value = roll.sum_notional / k
        spread = roll.sum_spread / k
        m = bars - 1 if bars <= n else n  # returns in the window
        vol = 0.0
        if m >= 2:
            var = (roll.sum_ret2 - roll.sum_ret * roll.sum_ret / m) / (m - 1)
            if var > 0.0:
                vol = _sqrt(var)
        score = value / p.ref_bar_notional
        if spread > 0.0 and p.ref_spread_bps / spread < score:
            score = p.ref_spread_bps / spread
        if vol > 0.0 and p.ref_vol_bps / vol < score:
            score = p.ref_vol_bps / vol
        if score > SCORE_CAP:  # noqa: PLR1730 (min(score, SCORE_CAP) without the call)
            score = SCORE_CAP
        if bars < n:
            regime = WARMUP
        elif score < p.thin_score:
            regime = THIN
        elif score >= p.thick_score:
            regime = THICK
        else:
            regime = NORMAL
        roll.thin = regime is THIN
        # Rounded half up by hand: round(x, n) costs four times as much, on every bar. Every
        # value is finite and >= 0 (the data contract's bars; a float drift below 0 is 0),
        # so ``(x + 0.5) // 1.0`` is ``int(x + 0.5)`` as a float, without the call.
        volume = roll.sum_volume / k
        roll.reading = {
            "regime": regime,
            "score": (score * 1e4 + 0.5) // 1.0 / 1e4 if score > 0.0 else 0.0,
            "volume": (volume * 1e4 + 0.5) // 1.0 / 1e4 if roll.sum_volume > 0.0 else 0.0,
            "spread": (spread * 100.0 + 0.5) // 1.0 / 100.0 if spread > 0.0 else 0.0,
            "vol": (vol * 100.0 + 0.5) // 1.0 / 100.0,
        }

    def reset(self, symbol: str) -> None:
        """Forget ``symbol`` (the data contract restarted it): WARMUP again."""
        self._symbols.pop(symbol, None)

    def reading(self, symbol: str) -> Any:
        """The record's ``liquidity``: regime, score, volume, spread (bps), vol (bps)."""
        symbols = self._symbols  # ``in`` and a subscript: every record asks, no call
        return symbols[symbol].reading if symbol in symbols else UNSEEN

    def thin(self, symbol: str) -> bool:
        roll = self._symbols.get(symbol)
        return roll is not None and roll.thin

    def rolling_volume(self, symbol: str) -> float | None:
        """Mean bar volume (base units) over the bars in the window; None before any bar."""
        roll = self._symbols.get(symbol)
        return None if roll is None else roll.sum_volume / min(roll.bars, roll.n)

    def collar_mult(self, symbol: str) -> float:
        """What the pre-trade price collars of an entry in ``symbol`` are multiplied by."""
        return self._params.thin_collar_mult if self.thin(symbol) else 1.0

    def cost_mult(self, symbol: str) -> float:
        """What a cost assumption for ``symbol`` is multiplied by (``thin_cost_mult`` in
        THIN, else 1): the cost gate's modelled cost (risk/cost_gate)."""
        return self._params.thin_cost_mult if self.thin(symbol) else 1.0
