"""The external sleeve: TradeIntents from the inbox, as one more sleeve in the netting.

An intent is live for ``ttl_s`` seconds from the moment it is offered (read off the injected
clock), and the newest intent for a symbol replaces the older one. While one is live the sleeve
is ready with ``target`` = the intent's direction (+1 buy, -1 sell, 0 flat: the model wants the
symbol flat) and the intent's confidence. Otherwise it is not ready, which the netting ignores,
so a quiet model does not dilute the built-in sleeves toward zero.
"""

from __future__ import annotations

import math

from quantbot.clock import NS_PER_S, Clock
from quantbot.domain.values import Bar
from quantbot.signals.base import SleeveSignal, warming_up
from quantbot.signals.intents import TradeIntent


class ExternalSleeve:
    """Follows the live TradeIntent of each symbol; not ready when there is none."""

    __slots__ = ("_clock", "_intents", "_ttl_ns", "name", "ttl_s", "warmup_bars")

    def __init__(self, name: str = "external", *, ttl_s: float, clock: Clock) -> None:
        if not (math.isfinite(ttl_s) and ttl_s > 0.0):
            raise ValueError(f"external sleeve {name!r}: ttl_s must be finite and > 0, got {ttl_s}")
        self.name = name
        self.warmup_bars = 0
        self.ttl_s = ttl_s
        self._ttl_ns = round(ttl_s * NS_PER_S)
        self._clock = clock
        self._intents: dict[str, tuple[TradeIntent, int]] = {}  # symbol -> (intent, offered_ns)

    def offer(self, intent: TradeIntent) -> None:
        """Make ``intent`` its symbol's live intent from now, replacing any older one."""
        self._intents[intent.symbol] = (intent, self._clock.now_ns())

    def live(self, symbol: str) -> TradeIntent | None:
        """The symbol's live intent (for its size, leverage, harvest and risk-budget hints)."""
        entry = self._entry(symbol)
        return None if entry is None else entry[0]

    def update(self, bar: Bar) -> SleeveSignal:
        entry = self._entry(bar.symbol)
        if entry is None:
            return warming_up({})
        intent, age_ns = entry
        detail = {"age_s": age_ns / NS_PER_S}
        return SleeveSignal(float(intent.direction), intent.confidence, True, detail)

    def reset(self, symbol: str) -> None:
        self._intents.pop(symbol, None)

    def _entry(self, symbol: str) -> tuple[TradeIntent, int] | None:
        """(live intent, its age in ns), dropping an expired one."""
        entry = self._intents.get(symbol)
        if entry is None:
            return None
        intent, offered_ns = entry
        # A wall clock stepped backwards would give a negative age: count it as just offered.
        age_ns = max(0, self._clock.now_ns() - offered_ns)
        if age_ns >= self._ttl_ns:
            del self._intents[symbol]
            return None
        return intent, age_ns
