"""A seeded synthetic market, and a feed that paces it on a clock.

``SyntheticMarket`` is pure: no clock, no waiting, and the same seed with the same sequence of
bar times gives the same bars, so tests, examples and the embedded paper venue can all share
one reproducible price history. Each symbol has its own ``random.Random`` seeded from
sha256(seed, symbol) (never ``hash()``, which is salted per process), so adding a symbol does
not change the others' paths.

Each symbol switches at random between two regimes:

- ``trending``: a drift of random sign plus momentum (AR(1) on the intrabar returns);
- ``mean_reverting``: an Ornstein-Uhlenbeck pull of log price toward an anchor that itself
  drifts slowly.

Prices move in log space over a few intrabar steps, so every bar has open = previous close,
high >= max(open, close), low <= min(open, close) and all prices > 0.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import AsyncIterator

import attrs

from quantbot.clock import NS_PER_S, Clock
from quantbot.domain.values import Bar, Quote
from quantbot.portfolio.annualise import SECONDS_PER_YEAR

TRENDING = "trending"
MEAN_REVERTING = "mean_reverting"

_INTRABAR_STEPS = 4
_MOMENTUM = 0.25  # AR(1) coefficient on intrabar returns in the trending regime
_ANCHOR_VOL = 0.1  # anchor moves at this fraction of the price volatility, per bar
_DAY_NS = 86_400 * NS_PER_S


@attrs.define(slots=True)
class _SymbolState:
    rng: random.Random
    close: float
    anchor: float
    regime: str
    drift: float = 0.0
    last_return: float = 0.0
    last_ts_ns: int | None = None
    last_interval_s: float = 0.0


# The trending regime's drift per bar, as a fraction of the volatility per bar.
DRIFT_PER_VOL = 0.2


def calibrated(annual_vol: float, bar_represents_s: float) -> dict[str, float]:
    """``SyntheticMarket`` keyword arguments for a market of ``annual_vol`` whose bars each
    stand for ``bar_represents_s`` seconds of market time: the volatility per bar
    (``annual_vol x sqrt(bar_represents_s / one year)``) and the trending drift that goes
    with it. An hour of a 19%-a-year market is the class's defaults (0.2% a bar)."""
    volatility = annual_vol * math.sqrt(bar_represents_s / SECONDS_PER_YEAR)
    return {"volatility": volatility, "trend_drift": DRIFT_PER_VOL * volatility}


def _symbol_seed(seed: int, symbol: str) -> int:
    digest = hashlib.sha256(f"{seed}|{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class SyntheticMarket:
    """Deterministic OHLCV bars for ``symbols``, one call to ``next_bars`` per bar."""

    def __init__(
        self,
        *,
        symbols: list[str],
        seed: int,
        interval_s: float,
        start_prices: dict[str, float] | None = None,
        spread_bps: float = 2.0,
        base_volume: float = 10_000.0,
        regime_switch_prob: float = 0.02,
        trend_drift: float = 0.0004,
        volatility: float = 0.002,
        mean_reversion_speed: float = 0.1,
    ) -> None:
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols must be non-empty and unique, got {symbols!r}")
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        if not 0.0 <= regime_switch_prob <= 1.0:
            raise ValueError(f"regime_switch_prob must be in [0, 1], got {regime_switch_prob!r}")
        if not (0.0 <= mean_reversion_speed <= 1.0):
            raise ValueError(f"mean_reversion_speed must be in [0, 1], got {mean_reversion_speed}")
        for name, value in (
            ("spread_bps", spread_bps),
            ("base_volume", base_volume),
            ("trend_drift", trend_drift),
            ("volatility", volatility),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        prices = dict.fromkeys(symbols, 100.0) | (start_prices or {})
        unknown = set(prices) - set(symbols)
        if unknown:
            raise ValueError(f"start_prices for unknown symbols: {sorted(unknown)}")
        self.symbols = list(symbols)
        self.interval_s = float(interval_s)
        self._half_spread = spread_bps / 2.0 / 10_000.0
        self._base_volume = base_volume
        self._switch_prob = regime_switch_prob
        self._trend_drift = trend_drift
        self._vol = volatility
        self._kappa = mean_reversion_speed
        self._states: dict[str, _SymbolState] = {}
        for symbol in self.symbols:
            price = prices[symbol]
            if not (math.isfinite(price) and price > 0):
                raise ValueError(f"start price for {symbol} must be > 0, got {price!r}")
            rng = random.Random(_symbol_seed(seed, symbol))
            state = _SymbolState(rng=rng, close=price, anchor=price, regime=MEAN_REVERTING)
            self._enter(state, rng.choice((TRENDING, MEAN_REVERTING)))
            self._states[symbol] = state

    def next_bars(self, ts_ns: int) -> list[Bar]:
        """One bar per symbol (in symbol order) for the bar opening at ``ts_ns``."""
        return [self._next_bar(symbol, self._states[symbol], ts_ns) for symbol in self.symbols]

    def quote(self, symbol: str) -> Quote:
        """Bid/ask around the last close, stamped at that bar's close time (0 before any bar)."""
        state = self._state(symbol)
        ts = 0 if state.last_ts_ns is None else state.last_ts_ns + _ns(state.last_interval_s)
        size = self._base_volume * 0.05
        return Quote(
            symbol=symbol,
            ts_ns=ts,
            bid=state.close * (1.0 - self._half_spread),
            ask=state.close * (1.0 + self._half_spread),
            bid_size=size,
            ask_size=size,
        )

    def regime(self, symbol: str) -> str:
        return self._state(symbol).regime

    def last_close(self, symbol: str) -> float:
        return self._state(symbol).close

    def _state(self, symbol: str) -> _SymbolState:
        try:
            return self._states[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r}; known: {self.symbols}") from None

    def _enter(self, state: _SymbolState, regime: str) -> None:
        state.regime = regime
        if regime == TRENDING:
            state.drift = self._trend_drift * state.rng.choice((-1.0, 1.0))
            state.last_return = 0.0
        else:
            state.anchor = state.close

    def _next_bar(self, symbol: str, state: _SymbolState, ts_ns: int) -> Bar:
        if state.last_ts_ns is not None and ts_ns <= state.last_ts_ns:
            raise ValueError(f"{symbol}: bar time {ts_ns} is not after {state.last_ts_ns}")
        rng = state.rng
        if rng.random() < self._switch_prob:
            self._enter(state, MEAN_REVERTING if state.regime == TRENDING else TRENDING)
        step_vol = self._vol / math.sqrt(_INTRABAR_STEPS)
        log_price = math.log(state.close)
        log_anchor = math.log(state.anchor)
        open_ = high = low = price = state.close
        for _ in range(_INTRABAR_STEPS):
            shock = step_vol * rng.gauss(0.0, 1.0)
            if state.regime == TRENDING:
                ret = state.drift / _INTRABAR_STEPS + _MOMENTUM * state.last_return + shock
                state.last_return = ret
            else:
                ret = -self._kappa / _INTRABAR_STEPS * (log_price - log_anchor) + shock
            log_price += ret
            price = math.exp(log_price)
            high = max(high, price)
            low = min(low, price)
        close = price
        # Wicks: the path above is sampled, the true extremes lie a little beyond it.
        high *= 1.0 + min(abs(rng.gauss(0.0, step_vol)), 0.5)
        low *= 1.0 - min(abs(rng.gauss(0.0, step_vol)), 0.5)
        state.anchor *= math.exp(_ANCHOR_VOL * self._vol * rng.gauss(0.0, 1.0))
        volume = self._volume(rng, ts_ns, abs(close / open_ - 1.0))
        state.close = close
        state.last_ts_ns = ts_ns
        state.last_interval_s = self.interval_s
        return Bar(symbol, ts_ns, open_, high, low, close, volume, self.interval_s)

    def _volume(self, rng: random.Random, ts_ns: int, abs_return: float) -> float:
        # U-shape over the UTC day: 3x at midnight, 1x at noon; busier on big moves.
        day_fraction = (ts_ns % _DAY_NS) / _DAY_NS
        shape = 1.0 + 2.0 * (2.0 * day_fraction - 1.0) ** 2
        activity = 1.0 + (abs_return / self._vol if self._vol > 0 else 0.0) * 0.25
        noise = math.exp(rng.gauss(-0.045, 0.3))  # lognormal with mean ~1
        return self._base_volume * shape * activity * noise


def _ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


class SyntheticFeed:
    """Paces a ``SyntheticMarket`` on a clock: one batch of bars per closed interval.

    Bars are stamped in wall time, aligned to multiples of ``interval_s`` since the epoch, and
    emitted when their interval closes. A consumer that falls behind skips the intervals it
    missed (a live feed does not replay the past); with ``SimClock`` the sleep advances time
    at once, so nothing is missed.

    Waiting is measured on the monotonic clock, so a wall clock that someone (or NTP) steps
    does not stop the feed: stepped forward, the next bar is stamped at the new time, as after
    falling behind; stepped back, bars go on one interval apart on the monotonic clock, each
    stamped one interval after the last (bar times never go backwards), instead of waiting
    for the wall clock to catch up. The watchdog alerts the jump (ALERT_CLOCK_JUMP).
    """

    def __init__(self, market: SyntheticMarket, clock: Clock) -> None:
        self._market = market
        self._clock = clock

    async def stream(self) -> AsyncIterator[list[Bar]]:
        interval_ns = _ns(self._market.interval_s)
        last_boundary: int | None = None
        last_due = 0  # when the last bar was due, on the monotonic clock
        while True:
            now = self._clock.now_ns()
            mono = self._clock.monotonic_ns()
            boundary = -(-now // interval_ns) * interval_ns
            wait = boundary - now  # less than one interval, whatever the wall clock did
            if last_boundary is not None and boundary <= last_boundary:
                # Woke early, or the wall clock was set back: the next bar is the one after
                # the last, due one interval after it on the monotonic clock.
                boundary = last_boundary + interval_ns
                wait = max(0, last_due + interval_ns - mono)
            await self._clock.sleep(wait / NS_PER_S)
            last_boundary = boundary
            last_due = mono + wait
            yield self._market.next_bars(boundary - interval_ns)
