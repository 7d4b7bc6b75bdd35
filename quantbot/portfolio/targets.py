"""What the netting deadband measures from: per symbol, the last net target that was ordered,
and the rest of an order the participation clamp cut short ("catching up").

While a symbol catches up, the deadband does not apply until the rest is ordered, or it would
freeze the position at the clamped size (and stop a thin-market reduction after its first
slice). ``approved`` is the target quantity the entry rules approved for it, so the rest is
not judged again as a scale-in.
"""

from __future__ import annotations

from decimal import Decimal


class OrderedTargets:
    __slots__ = ("_approved", "_catching_up", "_last")

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._catching_up: set[str] = set()
        self._approved: dict[str, Decimal] = {}

    def reference(self, symbol: str) -> float:
        """The target the deadband measures from: the last one ordered, else flat."""
        return self._last.get(symbol, 0.0)

    def catching_up(self, symbol: str) -> bool:
        return symbol in self._catching_up

    def approved(self, symbol: str) -> Decimal | None:
        """While catching up on an approved entry: the target quantity the rules approved."""
        return self._approved.get(symbol)

    def ordered(
        self, symbol: str, target: float, *, cut: bool, approved_qty: Decimal | None
    ) -> None:
        """An order for ``target`` went (told on its outcome, never before); ``cut`` says the
        participation clamp left a rest."""
        self._last[symbol] = target
        if cut:
            self._catching_up.add(symbol)
            if approved_qty is not None:
                self._approved[symbol] = approved_qty
        else:
            self.caught_up(symbol)

    def caught_up(self, symbol: str) -> None:
        """Nothing is left to catch up on."""
        # Asked on most bars that order nothing, when there is seldom anything to drop: a
        # membership test is cheaper than the discard and pop calls.
        if symbol in self._catching_up:
            self._catching_up.discard(symbol)
        if symbol in self._approved:
            del self._approved[symbol]

    def forget(self, symbol: str) -> None:
        """The symbol starts over (its data was reset)."""
        self._last.pop(symbol, None)
        self.caught_up(symbol)
