"""The pre-trade gates that read market prices: stale data, order size and the price collars,
with each symbol's tape (last close, close time, recent closes, bar count) they read from.

Prices cross the order boundary here, so the arithmetic is exact ``Decimal``: an order at
exactly ``max_order_usd`` passes and one cent above blocks. The tape keeps each bar's close as
the float it came as (every bar passes through it) and turns it into that same ``Decimal``
(``to_decimal``) only when a gate reads it, at an order. Definitions are in the
``quantbot.oms.pretrade`` module docstring.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from quantbot.clock import NS_PER_S
from quantbot.config.ops import PretradeConfig
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, OrderIntent, OrderType, to_decimal
from quantbot.oms.pretrade_state import seconds_to_ns

_BPS = Decimal(10_000)
_INF = float("inf")


def _bps(fraction: Decimal) -> float:
    return float(round(fraction * _BPS, 4))


class Tape:
    """One symbol's market state: the last close and when it closed, the closes of the last
    ``window_s`` seconds (for the window collar) and how many bars have been seen, as
    ``PriceGates.on_bar`` records them. Closes are kept as floats; ``last_close`` and
    ``window`` answer in ``Decimal``."""

    __slots__ = ("bars", "close", "closes", "interval", "last_close_ns", "window_ns")

    def __init__(self, window_s: float) -> None:
        self.window_ns = seconds_to_ns(window_s)
        self.interval: tuple[float, int] = (0.0, 0)  # the bar interval (s) last seen, in ns
        self.bars = 0
        self.close: float | None = None  # the last close, as the bar had it
        self.last_close_ns: int | None = None
        self.closes: deque[tuple[int, float]] = deque()  # (close time, close) in the window

    @property
    def last_close(self) -> Decimal | None:
        return None if self.close is None else to_decimal(self.close)

    def window(self, now_ns: int) -> tuple[Decimal, Decimal] | None:
        """``(min, max)`` of the closes still inside the window at ``now_ns``."""
        self._prune(now_ns)
        if not self.closes:
            return None
        # Converting preserves order (distinct floats, distinct decimals): the same answer as
        # the min and max of the converted closes.
        prices = [price for _, price in self.closes]
        return to_decimal(min(prices)), to_decimal(max(prices))

    def _prune(self, now_ns: int) -> None:
        cutoff = now_ns - self.window_ns
        closes = self.closes
        while closes and closes[0][0] <= cutoff:
            closes.popleft()


class PriceGates:
    """Stale data, order size and collars, over the tapes fed by ``on_bar``."""

    def __init__(self, config: PretradeConfig) -> None:
        self._config = config
        self._max_age_ns = seconds_to_ns(config.max_data_age_s)
        self._collar_bps = to_decimal(config.collar_bps)
        self._window_bps = to_decimal(config.collar_window_bps)
        self._tapes: dict[str, Tape] = {}

    def on_bar(self, bar: Bar) -> None:
        """Record ``bar`` in its symbol's tape (nothing for a bar not newer than the last).

        A non-finite or non-positive close is an invariant violation here: the data contract
        drops such bars long before they reach the OMS, so one arriving means a bug upstream.
        Every bar comes here: a subscript, compares, one append (and a pop per bar that
        leaves the window), no Decimal.
        """
        try:  # a subscript, not .get(): every symbol but a new one is there
            tape = self._tapes[bar.symbol]
        except KeyError:
            tape = self._tapes[bar.symbol] = Tape(self._config.collar_window_s)
        interval = tape.interval
        if interval[0] != bar.interval_s:  # a symbol's bars keep one interval: once, not per bar
            interval = tape.interval = (bar.interval_s, seconds_to_ns(bar.interval_s))
        close_ns = bar.ts_ns + interval[1]
        if tape.last_close_ns is not None and close_ns <= tape.last_close_ns:
            return
        close = bar.close
        if not 0.0 < close < _INF:  # NaN fails the compare too
            raise InvariantViolation(f"{bar.symbol}: close {bar.close!r} reached the OMS")
        tape.bars += 1
        tape.close, tape.last_close_ns = close, close_ns
        closes = tape.closes
        closes.append((close_ns, close))
        cutoff = close_ns - tape.window_ns
        while closes and closes[0][0] <= cutoff:
            closes.popleft()

    def bars(self, symbol: str) -> int:
        tape = self._tapes.get(symbol)
        return 0 if tape is None else tape.bars

    def symbols(self) -> list[str]:
        return list(self._tapes)

    def stale(self, intent: OrderIntent, now_ns: int) -> Reason | None:
        tape = self._tapes.get(intent.symbol)
        limit = self._config.max_data_age_s
        if tape is None or tape.last_close_ns is None:
            return reason(
                ReasonCode.STALE_DATA_BLOCK, symbol=intent.symbol, age_s=None, limit=limit
            )
        age_ns = now_ns - tape.last_close_ns
        if age_ns > self._max_age_ns:
            return reason(
                ReasonCode.STALE_DATA_BLOCK,
                symbol=intent.symbol,
                age_s=age_ns / NS_PER_S,
                limit=limit,
            )
        return None

    def size(self, intent: OrderIntent) -> Reason | None:
        cfg = self._config
        if intent.qty > cfg.max_order_qty:
            return reason(
                ReasonCode.ORDER_SIZE_BLOCK,
                symbol=intent.symbol,
                check="qty",
                value=str(intent.qty),
                limit=str(cfg.max_order_qty),
            )
        ref = self.reference_price(intent)
        notional = intent.qty * ref
        if notional > cfg.max_order_usd:
            return reason(
                ReasonCode.ORDER_SIZE_BLOCK,
                symbol=intent.symbol,
                check="usd",
                value=str(notional),
                limit=str(cfg.max_order_usd),
                ref_price=str(ref),
            )
        return None

    def collar(self, intent: OrderIntent, now_ns: int, mult: float = 1.0) -> Reason | None:
        """The order and window collars, both multiplied by ``mult`` (below 1 for an entry in
        a THIN liquidity regime; the reason then says ``collar_mult``)."""
        tape, last = self._last_close(intent.symbol)
        ref = self.reference_price(intent)
        collar_bps, window_bps = self._collar_bps, self._window_bps
        tightened: dict[str, Any] = {}
        if mult != 1.0:
            factor = to_decimal(mult)
            collar_bps, window_bps = collar_bps * factor, window_bps * factor
            tightened = {"collar_mult": mult}
        deviation = abs(ref / last - 1)
        if deviation * _BPS > collar_bps:
            return reason(
                ReasonCode.PRICE_COLLAR_BLOCK,
                symbol=intent.symbol,
                check="order",
                value_bps=_bps(deviation),
                limit_bps=float(collar_bps),
                ref_price=str(ref),
                last=str(last),
                **tightened,
            )
        lo, hi = tape.window(now_ns) or (last, last)
        lo, hi = min(lo, last), max(hi, last)
        move = max(last / lo - 1, 1 - last / hi)
        if move * _BPS > window_bps:
            return reason(
                ReasonCode.PRICE_COLLAR_BLOCK,
                symbol=intent.symbol,
                check="window",
                value_bps=_bps(move),
                limit_bps=float(window_bps),
                window_s=self._config.collar_window_s,
                last=str(last),
                window_min=str(lo),
                window_max=str(hi),
                **tightened,
            )
        return None

    def reference_price(self, intent: OrderIntent) -> Decimal:
        """``limit_price``, else ``arrival_price``, else the last close; always positive.
        A resting exit leg (a take-profit LIMIT, a STOP_LIMIT) is placed away from the market
        on purpose: its reference is the market it was placed in, not its trigger."""
        resting_leg = intent.exit_role is not None and intent.order_type is not OrderType.MARKET
        if intent.limit_price is not None and not resting_leg:
            ref = intent.limit_price
        elif intent.arrival_price is not None:
            ref = intent.arrival_price
        else:
            ref = self._last_close(intent.symbol)[1]
        if not ref.is_finite() or ref <= 0:
            raise InvariantViolation(
                f"{intent.client_order_id}: reference price {ref!r} for {intent.symbol} "
                "is not a positive finite number"
            )
        return ref

    def _last_close(self, symbol: str) -> tuple[Tape, Decimal]:
        tape = self._tapes.get(symbol)
        last = None if tape is None else tape.last_close
        if tape is None or last is None:
            # The stale-data gate runs first and blocks a symbol without bars.
            raise InvariantViolation(f"pretrade: no last close for {symbol} past the data gate")
        return tape, last

    def symbol_snapshot(self, symbol: str, now_ns: int) -> dict[str, Any]:
        tape = self._tapes.get(symbol)
        if tape is None or tape.last_close_ns is None:
            return {"last_close": None, "data_age_s": None}
        return {
            "last_close": str(tape.last_close),
            "data_age_s": (now_ns - tape.last_close_ns) / NS_PER_S,
        }
