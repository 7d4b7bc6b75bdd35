"""Sleeve outcomes: per sleeve and per symbol, rolling post-cost outcome statistics fed from
the run's own events. Quarantine reads them; so may allocation, post-trade learning and the
regression tripwire.

What is counted, per scope (a sleeve, or a symbol):

- round trips, after costs: per symbol, a trip opens when the position leaves flat (or flips)
  and closes when it is back at flat (or flips), as ``research/trades.RoundTrips`` counts
  them. Its PnL is the realised PnL of its fills with every fee paid on them (the ledger's
  ``Position.realized_pnl``; a flipping fill's fee stays with the trip it closes). A trip
  belongs to the sleeve whose order opened it, the rule ``report tca``'s attribution uses.
- stop-outs: trips closed by a protective stop-loss leg (the journal's ``exit_role``).
- orders sent and the share the venue rejected (the reject rate), per the order's sleeve
  (the sleeve the decision booked it to) and symbol.
- breaker opens during an order's submit, and ``CANCEL_LOOP_BLOCK`` refusals of an order.

Every update is O(1) (amortised: windows are bounded deques) and depends only on the events
and their order, so a replay counts the same each time. Event windows are measured in bars of
the market clock (``on_bar_time``: one bar time, whatever the number of symbols).

The statistics are persisted in ``state/quarantine.json`` by their owner (``to_state`` /
``from_state``), not rebuilt from the journal: the journal does not say which sleeve an order
was booked to.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

SLEEVE, SYMBOL = "sleeve", "symbol"
UNKNOWN = ""  # the sleeve of an order this run never booked (adopted, or forgotten)
STOP_LOSS = "stop_loss"
CANCEL_LOOP = "CANCEL_LOOP_BLOCK"
REJECTED = "REJECTED"
ORDERS_KEPT = 256  # client id -> sleeve, for orders whose fills may still come
EVENTS_KEPT = 256  # per scope and kind of event: enough for any window a trigger counts


Scope = tuple[str, str]  # (SLEEVE | SYMBOL, name)


class ScopeStats:
    """One scope's rolling outcomes. Sequences (``trips_total``, ``orders_total``) number the
    trips and orders so a reader can count only those after a point (a release)."""

    __slots__ = ("breaker_opens", "cancel_loop_blocks", "orders", "orders_total", "pnl_total",
                 "rejects_total", "stop_outs", "trips", "trips_total")  # fmt: skip

    def __init__(self, trip_window: int, order_window: int) -> None:
        self.trips: deque[tuple[int, float]] = deque(maxlen=trip_window)  # (seq, pnl)
        self.trips_total = 0
        self.pnl_total = 0.0
        self.orders: deque[tuple[int, bool]] = deque(maxlen=order_window)  # (seq, rejected)
        self.orders_total = 0
        self.rejects_total = 0
        self.stop_outs: deque[int] = deque(maxlen=EVENTS_KEPT)  # bar numbers
        self.breaker_opens: deque[int] = deque(maxlen=EVENTS_KEPT)
        self.cancel_loop_blocks: deque[int] = deque(maxlen=EVENTS_KEPT)

    # -- reading (windows) -----------------------------------------------------------------

    def recent_trips(self, after_seq: int = 0) -> list[float]:
        return [pnl for seq, pnl in self.trips if seq > after_seq]

    def recent_orders(self, after_seq: int = 0) -> tuple[int, int]:
        """(orders, rejected) in the window, numbered after ``after_seq``."""
        sent = rejected = 0
        for seq, was_rejected in self.orders:
            if seq > after_seq:
                sent += 1
                rejected += was_rejected
        return sent, rejected

    @staticmethod
    def within(events: deque[int], bar: int, window_bars: int, after_bar: int = -1) -> int:
        """How many of ``events`` happened in the last ``window_bars`` bars up to ``bar``."""
        if not events:  # the usual case: no stop-out, breaker open or cancel loop yet
            return 0
        start = max(bar - window_bars + 1, after_bar + 1)
        return sum(1 for b in events if b >= start)

    def to_state(self) -> dict[str, Any]:
        return {
            "trips": [list(t) for t in self.trips],
            "trips_total": self.trips_total,
            "pnl_total": self.pnl_total,
            "orders": [[s, int(r)] for s, r in self.orders],
            "orders_total": self.orders_total,
            "rejects_total": self.rejects_total,
            "stop_outs": list(self.stop_outs),
            "breaker_opens": list(self.breaker_opens),
            "cancel_loop_blocks": list(self.cancel_loop_blocks),
        }

    def load(self, data: dict[str, Any]) -> None:
        self.trips.extend((int(s), float(p)) for s, p in data.get("trips", []))
        self.trips_total = int(data.get("trips_total", 0))
        self.pnl_total = float(data.get("pnl_total", 0.0))
        self.orders.extend((int(s), bool(r)) for s, r in data.get("orders", []))
        self.orders_total = int(data.get("orders_total", 0))
        self.rejects_total = int(data.get("rejects_total", 0))
        self.stop_outs.extend(int(b) for b in data.get("stop_outs", []))
        self.breaker_opens.extend(int(b) for b in data.get("breaker_opens", []))
        self.cancel_loop_blocks.extend(int(b) for b in data.get("cancel_loop_blocks", []))


@attrs.define
class OpenTrip:
    sign: int  # +1 long, -1 short
    sleeve: str
    pnl: float  # realised so far, fees included


@attrs.frozen
class ClosedTrip:
    symbol: str
    sleeve: str
    side: str
    pnl: float
    exit_reason: str  # the closing order's exit_role, or "signal"


class SleeveOutcomes:
    """Fed the run's events in order; ``stats(scope)`` reads a scope's outcomes."""

    def __init__(self, *, trip_window: int, order_window: int) -> None:
        self._trip_window = trip_window
        self._order_window = order_window
        self.bar = 0  # bar times seen (the event windows' clock)
        self.bar_ts_ns = 0
        self._stats: dict[Scope, ScopeStats] = {}
        self._open: dict[str, OpenTrip] = {}
        self._sleeve_of: OrderedDict[str, str] = OrderedDict()

    # -- the clock --------------------------------------------------------------------------

    def on_bar_time(self, ts_ns: int) -> bool:
        """A bar opened at ``ts_ns``: True when it is a new bar time (the count moved)."""
        if ts_ns <= self.bar_ts_ns:
            return False
        self.bar_ts_ns = ts_ns
        self.bar += 1
        return True

    # -- events -----------------------------------------------------------------------------

    def on_order(self, client_order_id: str, sleeve: str) -> None:
        """An order of ``sleeve`` is about to be sent: its fills are booked to it."""
        self._sleeve_of[client_order_id] = sleeve
        self._sleeve_of.move_to_end(client_order_id)
        while len(self._sleeve_of) > ORDERS_KEPT:
            self._sleeve_of.popitem(last=False)

    def sleeve_of(self, client_order_id: str) -> str:
        return self._sleeve_of.get(client_order_id, UNKNOWN)

    def on_submit(
        self, *, sleeve: str, symbol: str, outcome: str, code: str | None, breaker_opened: bool
    ) -> list[Scope]:
        """An order's submit ended in ``outcome`` (``code``: its reason, if any): the scopes
        whose outcomes moved."""
        sent = outcome not in ("NOT_SENT",)
        counted = sent or code == CANCEL_LOOP or breaker_opened
        if not counted:
            return []
        touched = self._scopes(sleeve, symbol)
        for scope in touched:
            stats = self._get(scope)
            if sent:
                stats.orders_total += 1
                rejected = outcome == REJECTED
                stats.rejects_total += rejected
                stats.orders.append((stats.orders_total, rejected))
            if code == CANCEL_LOOP:
                stats.cancel_loop_blocks.append(self.bar)
            if breaker_opened:
                stats.breaker_opens.append(self.bar)
        return touched

    def on_fill(
        self,
        *,
        client_order_id: str,
        symbol: str,
        before: Decimal,
        after: Decimal,
        realized: Decimal,
        exit_role: str | None,
    ) -> ClosedTrip | None:
        """A fill took the position in ``symbol`` from ``before`` to ``after`` and realised
        ``realized`` (fees included): the trip it closed, if any."""
        pnl = float(realized)
        trip = self._open.get(symbol)
        if before == 0 or trip is None:
            if after == 0:
                return None
            self._open[symbol] = OpenTrip(
                1 if after > 0 else -1, self.sleeve_of(client_order_id), pnl
            )
            return None
        trip.pnl += pnl
        if after != 0 and (after > 0) == (before > 0):
            return None  # scaled in or out: the trip goes on
        del self._open[symbol]
        closed = ClosedTrip(
            symbol, trip.sleeve, "long" if trip.sign > 0 else "short", trip.pnl,
            exit_role or "signal",
        )  # fmt: skip
        if after != 0:  # flipped: the fill's rest opens the next trip
            self._open[symbol] = OpenTrip(
                1 if after > 0 else -1, self.sleeve_of(client_order_id), 0.0
            )
        for scope in self._scopes(closed.sleeve, symbol):
            stats = self._get(scope)
            stats.trips_total += 1
            stats.pnl_total += closed.pnl
            stats.trips.append((stats.trips_total, closed.pnl))
            if closed.exit_reason == STOP_LOSS:
                stats.stop_outs.append(self.bar)
        return closed

    # -- reading ----------------------------------------------------------------------------

    def stats(self, scope: Scope) -> ScopeStats | None:
        return self._stats.get(scope)

    def scopes(self) -> list[Scope]:
        return sorted(self._stats)

    def open_trip(self, symbol: str) -> OpenTrip | None:
        return self._open.get(symbol)

    def metrics(
        self,
        scope: Scope,
        *,
        after_trip: int = 0,
        after_order: int = 0,
        after_bar: int = -1,
        windows: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """A JSON-ready snapshot of one scope's outcomes: totals, and the windowed values
        (``windows``: bars per event kind) counted after the given points."""
        stats = self._stats.get(scope) or ScopeStats(self._trip_window, self._order_window)
        trips = stats.recent_trips(after_trip)
        sent, rejected = stats.recent_orders(after_order)
        windows = windows or {}
        bar = self.bar

        def count(name: str, events: deque[int]) -> int:
            return stats.within(events, bar, windows.get(name, EVENTS_KEPT), after_bar)

        return {
            "trips": len(trips),
            "expectancy_usd": round(sum(trips) / len(trips), 6) if trips else None,
            "losing_trips": _losing(trips),
            "trips_total": stats.trips_total,
            "pnl_total_usd": round(stats.pnl_total, 6),
            "orders": sent,
            "rejects": rejected,
            "reject_rate": round(rejected / sent, 6) if sent else None,
            "stop_outs": count("stop_outs", stats.stop_outs),
            "breaker_opens": count("breaker_opens", stats.breaker_opens),
            "cancel_loop_blocks": count("cancel_loop_blocks", stats.cancel_loop_blocks),
            "bar": bar,
        }

    # -- persistence ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "bar": self.bar,
            "bar_ts_ns": self.bar_ts_ns,
            "scopes": [[k, n, self._stats[(k, n)].to_state()] for k, n in sorted(self._stats)],
            "open_trips": {s: [t.sign, t.sleeve, t.pnl] for s, t in sorted(self._open.items())},
            "orders": [[cid, sleeve] for cid, sleeve in self._sleeve_of.items()],
        }

    def load(self, data: dict[str, Any]) -> None:
        """Take up the state ``to_state`` wrote (at start, before any event)."""
        self.bar = int(data.get("bar", 0))
        self.bar_ts_ns = int(data.get("bar_ts_ns", 0))
        for kind, name, stats in data.get("scopes", []):
            self._get((str(kind), str(name))).load(stats)
        for symbol, (sign, sleeve, pnl) in data.get("open_trips", {}).items():
            self._open[str(symbol)] = OpenTrip(int(sign), str(sleeve), float(pnl))
        for cid, sleeve in data.get("orders", []):
            self._sleeve_of[str(cid)] = str(sleeve)

    # -- internals --------------------------------------------------------------------------

    def _get(self, scope: Scope) -> ScopeStats:
        stats = self._stats.get(scope)
        if stats is None:
            stats = self._stats[scope] = ScopeStats(self._trip_window, self._order_window)
        return stats

    @staticmethod
    def _scopes(sleeve: str, symbol: str) -> list[Scope]:
        if sleeve == UNKNOWN:
            return [(SYMBOL, symbol)]
        return [(SLEEVE, sleeve), (SYMBOL, symbol)]


def trip_window_stats(trips: list[float]) -> dict[str, Any]:
    """What a window of round trips' post-cost PnL (oldest first) says, JSON-ready (6 decimals):

    - ``trades``: how many; ``expectancy_usd``: their mean PnL; ``pnl_usd``: their sum;
    - ``drawdown_usd``: the largest fall of their cumulative PnL (from 0) below its running
      peak; ``drawdown_share``: that over the sum of |PnL| (0..1, scale-free);
    - ``stability``: the share of trips that made money (PnL > 0);
    - ``edge``: the sum over the sum of |PnL| (-1..1): the expectancy in units of the mean
      absolute trip, so an account's size does not change it.
    """
    n = len(trips)
    total = gross = peak = cum = drawdown = 0.0
    wins = 0
    for pnl in trips:
        total += pnl
        gross += abs(pnl)
        wins += pnl > 0
        cum += pnl
        peak = max(peak, cum)
        drawdown = max(drawdown, peak - cum)
    return {
        "trades": n,
        "expectancy_usd": round(total / n, 6) if n else None,
        "pnl_usd": round(total, 6),
        "drawdown_usd": round(drawdown, 6),
        "drawdown_share": round(drawdown / gross, 6) if gross else 0.0,
        "stability": round(wins / n, 6) if n else None,
        "edge": round(total / gross, 6) if gross else 0.0,
    }


def _losing(trips: Iterable[float]) -> int:
    """How many of ``trips`` lost (a loop, not a generator resumed per trip)."""
    n = 0
    for pnl in trips:
        if pnl < 0:
            n += 1
    return n
