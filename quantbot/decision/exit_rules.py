"""The decision side of exits and order types: pure, like the rest of the step.

- the exits an entry will carry (``ExitParams``: the AI sizer's harvest preset, ATR-scaled
  where the profile says so), decided with the entry so that the governor's risk budget is
  computed from the stop that will really be placed (none configured: the whole notional);
- the stop lock: a symbol stopped out on a side is not re-entered on that side for
  ``stop_lock_bars`` bars (EXIT_STOP_LOCK); a reversal's closing part still goes;
- one bracket per position: an entry that would add to a position already carrying its exits
  is refused (EXIT_BRACKET_ACTIVE);
- the entry's order type: per sleeve, else the profile's choice for the volatility regime
  (a LIMIT priced ``limit_offset_bps`` inside the decision bar's close).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from quantbot.config.orders import OrderParams, OrdersConfig
from quantbot.config.risk import HarvestPresets
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Instrument, OrderType, Side
from quantbot.oms.exit_plan import AtrTracker, ExitParams, away_from_market, exit_params

_BPS = Decimal(10_000)


class ExitRules:
    def __init__(self, orders: OrdersConfig, params: OrderParams, presets: HarvestPresets) -> None:
        self._orders = orders
        self._params = params
        self._presets = presets
        self._legs = frozenset(orders.exit_legs)
        self._mults = (
            params.stop_loss_atr_mult,
            params.take_profit_atr_mult,
            params.trailing_stop_atr_mult,
        )
        self.enabled = orders.exits
        self._atr = AtrTracker(orders.atr_bars) if any(self._mults) else None
        self._entry_types = {k: OrderType(v) for k, v in params.entry_type.items()}
        self._sleeve_types = {k: OrderType(v) for k, v in orders.sleeve_entry_type.items()}
        self._all_market = set(self._entry_types.values()) | set(self._sleeve_types.values()) == {
            OrderType.MARKET
        }

    def update(self, bar: Bar) -> None:
        if self._atr is not None:
            self._atr.update(bar)

    def params(self, symbol: str, proposal: Any, price: float) -> ExitParams | None:
        """The exits of an entry decided now (None: exits are off)."""
        if not self.enabled:
            return None
        if proposal is not None:
            policy, preset = proposal.harvest_policy, proposal.harvest
        else:
            policy = self._orders.default_harvest
            preset = getattr(self._presets, policy.lower())
        atr = self._atr.atr(symbol) if self._atr is not None else None
        return exit_params(policy, preset, self._legs, atr=atr, price=price, mults=self._mults)

    def blocked(
        self,
        *,
        symbol: str,
        position: Decimal,
        target_qty: Decimal,
        bar_ts_ns: int,
        locks: Mapping[str, Any],
        protected: Mapping[str, int],
    ) -> tuple[Reason | None, bool]:
        """Why an order adding exposure toward ``target_qty`` may not go, and whether its
        closing part still may (a reversal into a locked side: the close goes)."""
        direction = 1 if target_qty > 0 else -1
        side = Side.BUY if direction > 0 else Side.SELL
        until = (locks.get(symbol) or {}).get(side.value)
        if until is not None and bar_ts_ns < until:
            bars = self._params.stop_lock_bars
            why = reason(ReasonCode.EXIT_STOP_LOCK, symbol=symbol, side=side.value,
                         until_ns=until, stop_lock_bars=bars)  # fmt: skip
            return why, position != 0 and (position > 0) != (direction > 0)
        if position != 0 and protected.get(symbol) == direction:
            why = reason(ReasonCode.EXIT_BRACKET_ACTIVE, symbol=symbol, position=str(position),
                         wanted=str(target_qty))  # fmt: skip
            return why, False
        return None, False

    def entry_order(
        self, *, sleeve: str, regime: str, side: Side, close: float, instrument: Instrument
    ) -> tuple[OrderType, Decimal | None]:
        """The entry's order type and, for a LIMIT, its price."""
        if self._all_market:
            return OrderType.MARKET, None
        kind = self._sleeve_types.get(sleeve) or self._entry_types.get(regime, OrderType.MARKET)
        if kind is not OrderType.LIMIT:
            return kind, None
        offset = Decimal(str(self._params.limit_offset_bps)) / _BPS
        raw = Decimal(repr(close)) * (1 - side.sign * offset)
        # A buy's limit rounds down and a sell's up: never pay more than the offset says.
        return kind, away_from_market(instrument, raw, up=side is Side.SELL)
