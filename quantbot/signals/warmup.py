"""How many bars each sleeve still needs before it is warm (its signals ready).

A sleeve declares ``warmup_bars``: the bars of a symbol it needs before its signal is ready.
A sleeve is warm once it is ready for every symbol; until then it has
``max over symbols of (warmup_bars - bars it has seen of that symbol)`` bars to go (at least 1
while its last signal of a symbol was not ready, 0 once every symbol's was). A symbol whose
sleeves restart (a flagged price jump) starts counting again. A sleeve that needs no bars
(``warmup_bars = 0``, the inbox's ``external``) is never warming up: it is ready only while an
outside intent is live, which is not a warm-up.

``note`` runs on the hot path for every bar, but only while some sleeve is still cold: once
all are warm it is one attribute test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from quantbot.signals.base import Sleeve, SleeveSignal


class WarmUp:
    def __init__(self, sleeves: Iterable[Sleeve], symbols: Iterable[str]) -> None:
        sleeves = list(sleeves)
        self._names = [s.name for s in sleeves]
        self._need = {s.name: s.warmup_bars for s in sleeves if s.warmup_bars > 0}
        self._symbols = list(dict.fromkeys(symbols))
        self._seen: dict[str, int] = dict.fromkeys(self._symbols, 0)
        # (sleeve, symbol) pairs whose last signal was ready
        self._ready: set[tuple[str, str]] = set()
        self.cold = bool(self._need) and bool(self._symbols)

    def note(self, symbol: str, signals: Mapping[str, SleeveSignal]) -> None:
        """One bar of ``symbol`` went through the sleeves, which answered ``signals``."""
        if symbol not in self._seen:
            self._symbols.append(symbol)
            self._seen[symbol] = 0
        self._seen[symbol] += 1
        for name in self._need:
            signal = signals.get(name)
            if signal is not None and signal.ready:
                self._ready.add((name, symbol))
            else:
                self._ready.discard((name, symbol))
        self.cold = any(self._remaining(name) for name in self._need)

    def reset(self, symbol: str) -> None:
        """``symbol``'s sleeves forgot it: it warms up again from its next bar."""
        if symbol in self._seen:
            self._seen[symbol] = 0
        self._ready = {pair for pair in self._ready if pair[1] != symbol}
        self.cold = bool(self._need)

    def remaining(self) -> dict[str, int]:
        """Sleeve name -> bars until it is warm for every symbol (0: warm), in declared order;
        sleeves that need no warm-up are 0."""
        need = self._need
        return {name: self._remaining(name) if name in need else 0 for name in self._names}

    def _remaining(self, name: str) -> int:
        need = self._need[name]
        worst = 0
        for symbol in self._symbols:
            if (name, symbol) not in self._ready:
                worst = max(worst, need - self._seen[symbol], 1)
        return worst


def describe(remaining: Mapping[str, int], bar_s: float | None = None) -> str:
    """``trend 30 bars, mean_reversion 20 bars`` (and ``, about 30 s`` at ``bar_s`` a bar)."""
    cold = {name: n for name, n in remaining.items() if n > 0}
    text = ", ".join(f"{name} {n} bar{'s' if n != 1 else ''}" for name, n in cold.items())
    if bar_s is not None and cold:
        text += f" (about {max(cold.values()) * bar_s:.0f} s at one bar every {bar_s:g} s)"
    return text
