"""The bookkeeping behind the pre-trade gates: rolling windows, the duplicate index and the
cancel-loop streaks. Pure, synchronous, bounded in memory; time always comes in as an
argument so the gates stay deterministic under the injected clock.

One window convention everywhere: an event at ``t`` counts in a window of ``W`` seconds while
``now - t < W``. At exactly ``W`` seconds it has left the window ("after 60 s it passes again").
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from quantbot.clock import NS_PER_S


def seconds_to_ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


class RollingCount:
    """Timestamps of events in the last ``window_s`` seconds (appended in time order)."""

    __slots__ = ("_times", "_window_ns")

    def __init__(self, window_s: float, window_ns: int | None = None) -> None:
        """``window_ns``: ``window_s`` already in nanoseconds (a keyed count's new key)."""
        self._window_ns = seconds_to_ns(window_s) if window_ns is None else window_ns
        self._times: deque[int] = deque()

    def add(self, ts_ns: int) -> None:
        self._times.append(ts_ns)

    def count(self, now_ns: int) -> int:
        cutoff = now_ns - self._window_ns
        times = self._times
        while times and times[0] <= cutoff:
            times.popleft()
        return len(times)

    def clear(self) -> None:
        self._times.clear()


class KeyedRollingCount:
    """One ``RollingCount`` per key (symbol); a key whose window empties is dropped."""

    __slots__ = ("_counts", "_window_ns", "_window_s")

    def __init__(self, window_s: float) -> None:
        self._window_s = window_s
        self._window_ns = seconds_to_ns(window_s)
        self._counts: dict[str, RollingCount] = {}

    def add(self, key: str, ts_ns: int) -> None:
        counter = self._counts.get(key)
        if counter is None:
            counter = self._counts[key] = RollingCount(self._window_s, self._window_ns)
        counter.add(ts_ns)

    def count(self, key: str, now_ns: int) -> int:
        counter = self._counts.get(key)
        if counter is None:
            return 0
        n = counter.count(now_ns)
        if n == 0:
            del self._counts[key]
        return n

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def keys(self) -> list[str]:
        return list(self._counts)


ContentKey = tuple[str, str, Decimal, int, object]  # (symbol, side, qty, bar_ts_ns, exit role)


class DuplicateIndex:
    """Order contents submitted within ``window_s`` (a client order id used before is the
    order manager's check, from its ledger)."""

    __slots__ = ("_by_content", "_order", "_window_ns")

    def __init__(self, window_s: float) -> None:
        self._window_ns = seconds_to_ns(window_s)
        self._by_content: dict[ContentKey, tuple[int, str]] = {}
        self._order: deque[tuple[int, ContentKey]] = deque()

    def content(self, key: ContentKey, now_ns: int) -> tuple[int, str] | None:
        """``(submitted_ns, client_order_id)`` of the same content inside the window, if any."""
        self._prune(now_ns)
        return self._by_content.get(key)

    def add(self, client_order_id: str, key: ContentKey, ts_ns: int) -> None:
        self._by_content[key] = (ts_ns, client_order_id)
        self._order.append((ts_ns, key))

    def _prune(self, now_ns: int) -> None:
        cutoff = now_ns - self._window_ns
        order = self._order
        while order and order[0][0] <= cutoff:
            ts, key = order.popleft()
            # Only drop the map entry if a later submit of the same content did not renew it.
            if self._by_content.get(key, (None,))[0] == ts:
                del self._by_content[key]

    def __len__(self) -> int:
        return len(self._by_content)


class CancelLoop:
    """Cancels since the last fill per symbol; ``max_cancels`` of them in a row block the
    symbol until ``block_bars`` more of its bars have arrived. The streak restarts from zero
    when a block starts, so the next block needs another ``max_cancels`` cancels."""

    __slots__ = ("_block_bars", "_max_cancels", "_streak", "_until_bar")

    def __init__(self, max_cancels: int, block_bars: int) -> None:
        self._max_cancels = max_cancels
        self._block_bars = block_bars
        self._streak: dict[str, int] = {}
        self._until_bar: dict[str, int] = {}

    def on_cancel(self, symbol: str, bars_seen: int) -> bool:
        """Count one cancel; True when it starts a block."""
        streak = self._streak.get(symbol, 0) + 1
        if streak < self._max_cancels:
            self._streak[symbol] = streak
            return False
        self._streak.pop(symbol, None)
        self._until_bar[symbol] = bars_seen + self._block_bars
        return True

    def on_fill(self, symbol: str) -> None:
        """A fill ends the streak (an active block still runs its bars out)."""
        self._streak.pop(symbol, None)

    def streak(self, symbol: str) -> int:
        return self._streak.get(symbol, 0)

    def bars_left(self, symbol: str, bars_seen: int) -> int:
        until = self._until_bar.get(symbol)
        if until is None:
            return 0
        left = until - bars_seen
        if left <= 0:
            del self._until_bar[symbol]
            return 0
        return left
