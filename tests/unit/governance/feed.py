"""Feeding a quarantine (or its outcomes) the events a run produces, through the real ledger
arithmetic (``Position.apply_fill``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantbot.domain.values import ExitRole, Fill, Position, Side
from quantbot.governance.quarantine import Quarantine


class Book:
    """Positions by symbol, and the fills that move them, told to ``quarantine``."""

    def __init__(self, quarantine: Quarantine) -> None:
        self.q = quarantine
        self.positions: dict[str, Position] = {}
        self.roles: dict[str, ExitRole] = {}
        quarantine.exit_roles = self.roles
        self._n = 0

    def order(self, sleeve: str, symbol: str, outcome: str = "ACCEPTED", code: Any = None,
              breaker_opened: bool = False) -> str:  # fmt: skip
        self._n += 1
        cid = f"c{self._n}"
        self.q.on_order(cid, sleeve)
        self.q.on_submit(
            sleeve=sleeve, symbol=symbol, outcome=outcome, code=code,
            breaker_opened=breaker_opened,
        )  # fmt: skip
        return cid

    def fill(self, cid: str, symbol: str, side: Side, qty: str, price: str, *, fee: str = "1"
             ) -> None:  # fmt: skip
        before = self.positions.get(symbol, Position(symbol))
        fill = Fill(f"f-{cid}-{self._n}", cid, symbol, side, Decimal(qty), Decimal(price),
                    Decimal(fee), 0)  # fmt: skip
        after = before.apply_fill(fill)
        self.positions[symbol] = after
        self.q.on_fill(fill, before, after)

    def trip(self, sleeve: str, symbol: str, entry: str, exit_: str, *, stop: bool = False
             ) -> None:  # fmt: skip
        """A long round trip of 10 units opened by ``sleeve``; closed by a stop-loss leg when
        ``stop``, else by a signal order."""
        self.fill(self.order(sleeve, symbol), symbol, Side.BUY, "10", entry)
        cid = self.order(sleeve, symbol)
        if stop:
            self.roles[cid] = ExitRole.STOP_LOSS
        self.fill(cid, symbol, Side.SELL, "10", exit_)
