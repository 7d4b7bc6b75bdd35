"""The plain path's record parts, kept per symbol and reused while their inputs stay the same.

Most bars end at the deadband (issue 23): the sleeves say what they said on the previous bar,
the netted target is the same, and so is the reference the deadband measures from. Their
parts of the decision record (``sleeves``, ``net`` and the deadband's ``reason``) are then the
same values, rounded the same way: this module builds them once and hands the same dicts
back until an input moves. The bytes a record serialises to do not change; only the work does.

What "the same" means, exactly:

- a sleeve's signal is the same when its ``target``, ``confidence`` and ``ready`` compare
  equal to the previous bar's and a zero has the same sign (``-0.0`` rounds and prints as
  ``-0.0``): equal finite floats of the same sign are the same bits, so ``round`` gives the
  same value;
- the net is the same when the signals netted are those same signals (the quarantine zeroed
  none: it hands back the very dict it was given), the weights are the same dict (the
  profile's, or the allocation's current one, which is replaced, never changed in place, when
  it moves), and the previous target and the catching-up flag are the same.

The shared dicts are never changed after they are built: the step copies ``net`` before it
adds a learned override or the allocation's weights to it, and a higher-timeframe sleeve
(which adds its bar to its ``sleeves`` entry) turns the sleeves' reuse off. Everything is a
pure function of the inputs compared, so the step stays deterministic, in ``run`` and
``replay`` alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from quantbot.domain.reasons import ReasonCode
from quantbot.portfolio.netting import NetTarget, net_signals, within_deadband
from quantbot.signals.base import SleeveSignal

DIGITS = 6  # decimals a float keeps in the record
_DEADBAND = ReasonCode.NETTING_DEADBAND.value


def _same(a: float, b: float) -> bool:
    """``a`` and ``b`` round and print the same: equal, and a zero of the same sign."""
    return a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))


def _same_zeros(a: SleeveSignal, b: SleeveSignal) -> bool:
    """Two signals with equal values whose zeros (if any) have the same sign."""
    return _same(a.target, b.target) and _same(a.confidence, b.confidence)


class Seen:
    """One symbol's last inputs and the record parts built from them."""

    __slots__ = (
        "catching_up",
        "deadband",
        "inside",
        "net",
        "netted",
        "previous",
        "ready",
        "reason",
        "shown_net",
        "shown_sleeves",
        "signals",
        "weights",
    )

    def __init__(self) -> None:
        self.signals: tuple[SleeveSignal, ...] = ()  # the sleeves' last signals, in order
        self.shown_sleeves: dict[str, Any] = {}  # the record's ``sleeves`` for them
        self.ready = False  # some sleeve is ready
        self.netted = False  # ``net`` was netted from the signals in ``signals``, unzeroed
        self.weights: Mapping[str, float] | None = None
        self.previous = math.nan  # the deadband's reference last netted against
        self.catching_up = False
        self.net: NetTarget | None = None
        self.shown_net: dict[str, Any] = {}  # the record's ``net`` (never changed)
        self.deadband = math.nan  # the deadband ``inside`` was judged with
        self.inside = False  # the target is within the deadband of ``previous``
        self.reason: dict[str, Any] | None = None  # the deadband's reason record


class PlainParts:
    """The ``sleeves``, ``net`` and deadband parts of each symbol's record (see module)."""

    def __init__(self, deadband: float, *, reuse_sleeves: bool) -> None:
        self._deadband = deadband
        self._reuse_sleeves = reuse_sleeves  # off when a sleeve adds to its entry
        self._seen: dict[str, Seen] = {}

    def forget(self, symbol: str) -> None:
        self._seen.pop(symbol, None)

    def sleeves(self, symbol: str, signals: dict[str, SleeveSignal]) -> Seen:
        """``symbol``'s state with ``shown_sleeves`` (the record's ``sleeves``) and ``ready``
        for ``signals``; the previous bar's dict when every signal is the same."""
        seen = self._seen.get(symbol)
        if seen is None:
            seen = self._seen[symbol] = Seen()
        elif self._reuse_sleeves:  # the same sleeves on every bar: one signal each
            for sig, was in zip(signals.values(), seen.signals, strict=True):
                # _same inlined (a call per value on most bars): a zero's sign asked apart
                if (
                    sig.ready is not was.ready
                    or sig.target != was.target
                    or sig.confidence != was.confidence
                    or ((not sig.target or not sig.confidence) and not _same_zeros(sig, was))
                ):
                    break
            else:
                return seen
        seen.signals = tuple(signals.values())
        seen.shown_sleeves = {
            name: {
                "target": round(sig.target, DIGITS),
                "confidence": round(sig.confidence, DIGITS),
                "ready": sig.ready,
            }
            for name, sig in signals.items()
        }
        seen.ready = any(sig.ready for sig in seen.signals)
        seen.netted = False  # the signals moved: the net is judged again
        return seen

    def net(
        self,
        seen: Seen,
        signals: dict[str, SleeveSignal],
        zeroed: bool,
        weights: Mapping[str, float],
        *,
        previous: float,
        catching_up: bool,
        deadband: float,
    ) -> bool:
        """Net ``signals`` into ``seen.net`` and its record ``seen.shown_net``, unless they,
        the weights, the previous target and catching-up are what they were last time;
        True when the bar ends at the deadband (``seen.reason`` says so). ``zeroed``: the
        quarantine changed some of the sleeves' signals (``signals`` are not those
        ``sleeves`` saw); ``deadband``: the symbol's, as the record shows it."""
        if not (
            seen.netted
            and not zeroed
            and seen.weights is weights
            and seen.catching_up is catching_up
            and seen.previous == previous
            and (previous or _same(seen.previous, previous))  # a zero: its sign too
        ):
            net = net_signals(signals, weights)  # type: ignore[arg-type]
            seen.netted, seen.weights = not zeroed, weights
            seen.previous, seen.catching_up = previous, catching_up
            seen.net = net
            seen.shown_net = {
                "target": round(net.target, DIGITS),
                "confidence": round(net.confidence, DIGITS),
                "contributions": {k: round(v, DIGITS) for k, v in net.contributions.items()},
                "previous_target": round(previous, DIGITS),
                "deadband": self._deadband,
                "catching_up": catching_up,
            }
            seen.deadband = math.nan  # judged again
        if catching_up:  # the rest of a cut order is ordered whatever the deadband says
            return False
        if seen.deadband != deadband:
            net = seen.net
            assert net is not None
            seen.inside = within_deadband(net.target, previous, deadband)
            seen.deadband = deadband
            shown = seen.shown_net
            # The bytes of reason(NETTING_DEADBAND, ...).to_record(), with the values the
            # net record already rounded.
            seen.reason = {
                "code": _DEADBAND,
                "target": shown["target"],
                "previous": shown["previous_target"],
                "deadband": deadband,
            }
        return seen.inside
