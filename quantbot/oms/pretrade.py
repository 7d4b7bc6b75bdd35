"""Pre-trade gates: the last check immediately before every submit.

``PretradeGates.check(intent)`` runs the gates below in this order and returns the FIRST
failing gate's ``Reason`` (code plus key=value context), or ``None`` when the order may go.
It is synchronous, does no I/O and reads time only from the injected clock, so the same
events at the same clock times give the same verdicts. A block never changes the order:
``check`` returns a reason, never a smaller or different intent.

=====  ================  ==============================  =========================
order  gate              code                            ``reducing=True`` orders
=====  ================  ==============================  =========================
1      canary            CANARY_MODE_ACTIVE              exempt
2      allow-list        SYMBOL_NOT_ALLOWED_BLOCK        checked
3      disabled symbol   SYMBOL_DISABLED_BLOCK           exempt
4      market closed     MARKET_CLOSED_BLOCK             checked
5      stale data        STALE_DATA_BLOCK                checked
6      order size        ORDER_SIZE_BLOCK                checked
7      price collar      PRICE_COLLAR_BLOCK              checked
                         (PRICE_COLLAR_DISABLE)
8      duplicate         DUPLICATE_ORDER_BLOCK           checked
9      rate throttle     RATE_THROTTLE_BLOCK             checked
10     cancel loop       CANCEL_LOOP_BLOCK               exempt
11     executions        EXECUTION_THROTTLE_DISABLE      exempt
=====  ================  ==============================  =========================

Risk-reducing orders skip the gates that exist to stop *new* trading in a symbol (canary,
disabled symbol, cancel loop, execution throttle), so a disabled or non-canary symbol can
still be flattened. They stay subject to everything that protects the order itself (size,
collar, duplicate, rate, stale data, market closed) and to the allow-list: a symbol outside
it may be someone's own holding on the same account, which quantbot must never touch.

Definitions (every limit comes from ``PretradeConfig``; windows follow the convention in
``pretrade_state``: an event at ``t`` counts while ``now - t < window``):

- stale data: no bar seen for the symbol, or ``now - close_time > max_data_age_s`` where
  ``close_time = bar.ts_ns + bar.interval_s`` of the newest bar. Exactly at the limit passes.
- reference price ``ref`` = ``intent.limit_price``, else ``intent.arrival_price``, else the
  last close. A non-positive ``ref`` is an ``InvariantViolation`` (the order path halts).
- order size: ``qty > max_order_qty`` (check="qty") or ``qty * ref > max_order_usd``
  (check="usd"), in exact ``Decimal`` arithmetic. Exactly at a limit passes.
- order collar: ``|ref / last - 1| * 1e4 > collar_bps`` (check="order").
- repeated collar blocks: every PRICE_COLLAR_BLOCK of a symbol (risk-reducing orders
  included) counts in a window of ``collar_block_window_s``; the block that makes
  ``count > max_collar_blocks`` disables the symbol instead, with PRICE_COLLAR_DISABLE, the
  same way as the execution throttle below (``on_disable``, then SYMBOL_DISABLED_BLOCK until a
  person re-enables it). A symbol whose price keeps leaving the collar has a feed or a market
  a person should look at before it trades again.
- a THIN liquidity regime (``quantbot.risk.liquidity``) multiplies both collars of an order
  that adds exposure by ``thin_collar_mult`` (``collar_mult`` in the reason); risk-reducing
  orders keep the configured collars. ``collar_mult`` is the regime's, set by the wiring.
- window collar: ``W`` = the closes whose close time is inside the last ``collar_window_s``
  seconds, plus the last close. With ``lo = min(W)``, ``hi = max(W)``, ``b = collar_window_bps``
  the deviation is ``max(last / lo - 1, 1 - last / hi) * 1e4`` and it blocks when ``> b``
  (check="window"). Equivalently: the last close must be within ``b`` bps of *every* close in
  the window, i.e. inside ``[hi * (1 - b/1e4), lo * (1 + b/1e4)]``: a run-up or sell-off of
  more than ``b`` inside the window blocks until the old closes leave it.
- duplicate: the same ``(symbol, side, qty, bar_ts_ns)`` was submitted within
  ``duplicate_window_s`` (by="content"). A client order id used before is refused by the
  order manager, before any gate, from its ledger (by="client_order_id", where="ledger").
- rate: ``count`` is the number of orders in the last 60 s *including this one*; it blocks
  when ``count > max_orders_per_min`` (scope="global") or ``> max_orders_per_symbol_per_min``
  (scope="symbol"). ``cancel_allowed()`` does the same for cancels (scope="cancels").
- cancel loop: ``cancel_loop_max_cancels`` cancels for a symbol with no fill in between block
  it until ``cancel_loop_block_bars`` more of its bars have arrived (``bars_left``).
- executions: orders submitted for the symbol within ``executions_window_s``, protective exit
  legs not counted (an entry and its stop-loss and take-profit are one trade). When this order
  would make ``count > max_executions``, the symbol is disabled: ``on_disable(symbol, reason)``
  is called once (the daemon persists it in ``state/``), this order is blocked with
  EXECUTION_THROTTLE_DISABLE, and later orders get SYMBOL_DISABLED_BLOCK until a person calls
  ``enable_symbol``.

Cancels: the OMS consults ``cancel_allowed()`` only for cancel/replace. Cancels that reduce
risk, kill and cancel-all are never gated; they are still reported through ``on_cancel`` so
the cancels/min rate and the cancel-loop streak see everything the venue sees.

Layout: this module holds the order of the gates and the flow gates; the gates that read
prices (stale data, size, collars) live in ``pretrade_prices`` and the rolling windows,
duplicate index and cancel-loop streaks in ``pretrade_state``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from loguru import logger

from quantbot.clock import NS_PER_S, Clock
from quantbot.config.ops import PretradeConfig
from quantbot.domain.errors import ConfigError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Fill, OrderIntent
from quantbot.oms.pretrade_prices import PriceGates
from quantbot.oms.pretrade_state import (
    CancelLoop,
    ContentKey,
    DuplicateIndex,
    KeyedRollingCount,
    RollingCount,
)

RATE_WINDOW_S = 60.0
Gate = Callable[[OrderIntent, int, bool | None], Reason | None]


class PretradeGates:
    """The pre-trade gates and the bookkeeping they need; see the module docstring."""

    def __init__(
        self,
        config: PretradeConfig,
        clock: Clock,
        *,
        configured_symbols: list[str],
        disabled_symbols: set[str] | None = None,
        on_disable: Callable[[str, Reason], None] | None = None,
    ) -> None:
        _validate(config, configured_symbols)
        self._config = config
        self._clock = clock
        self._configured = list(configured_symbols)
        self._canary = frozenset(config.canary_symbols)
        self._allowed = frozenset(config.allowed_symbols)
        self._disabled: set[str] = set(disabled_symbols or ())
        self._on_disable = on_disable
        self._prices = PriceGates(config)
        # symbol -> what an entry's collars are multiplied by (the liquidity regime's).
        self.collar_mult: Callable[[str], float] | None = None
        self._reducing = False  # the order being checked only reduces (check() sets it)
        self._dupes = DuplicateIndex(config.duplicate_window_s)
        self._orders = RollingCount(RATE_WINDOW_S)
        self._symbol_orders = KeyedRollingCount(RATE_WINDOW_S)
        self._executions = KeyedRollingCount(config.executions_window_s)
        self._collar_blocks = KeyedRollingCount(config.collar_block_window_s)
        self._cancels = RollingCount(RATE_WINDOW_S)
        self._cancel_loop = CancelLoop(
            config.cancel_loop_max_cancels, config.cancel_loop_block_bars
        )
        # (gate, applies to risk-reducing orders), in the documented order.
        # A symbol list left empty in config never refuses (and never changes): not asked.
        self._gates: tuple[tuple[Gate, bool], ...] = (
            *(((self._gate_canary, False),) if self._canary else ()),
            *(((self._gate_allowed, True),) if self._allowed else ()),
            (self._gate_disabled, False),
            (self._gate_market_open, True),
            (self._gate_stale, True),
            (self._gate_size, True),
            (self._gate_collar, True),
            (self._gate_duplicate, True),
            (self._gate_rate, True),
            (self._gate_cancel_loop, False),
            (self._gate_executions, False),
        )

    # -- the check -------------------------------------------------------------------------

    def check(
        self, intent: OrderIntent, *, reducing: bool = False, market_open: bool | None = None
    ) -> Reason | None:
        """None when ``intent`` may be sent now; otherwise the first failing gate's reason.

        ``market_open`` is None for venues without sessions. ``reducing`` marks an order that
        only reduces an existing position (see the module docstring for what it skips).
        """
        now_ns = self._clock.now_ns()
        self._reducing = reducing
        for gate, applies_to_reducing in self._gates:
            if reducing and not applies_to_reducing:
                continue
            why = gate(intent, now_ns, market_open)
            if why is not None:
                return why
        return None

    def _gate_canary(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        if self._canary and intent.symbol not in self._canary:
            return reason(
                ReasonCode.CANARY_MODE_ACTIVE,
                symbol=intent.symbol,
                canary_symbols=list(self._config.canary_symbols),
            )
        return None

    def _gate_allowed(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        if self._allowed and intent.symbol not in self._allowed:
            return reason(
                ReasonCode.SYMBOL_NOT_ALLOWED_BLOCK,
                symbol=intent.symbol,
                allowed_symbols=list(self._config.allowed_symbols),
            )
        return None

    def _gate_disabled(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        if intent.symbol in self._disabled:
            return reason(ReasonCode.SYMBOL_DISABLED_BLOCK, symbol=intent.symbol)
        return None

    def _gate_market_open(
        self, intent: OrderIntent, now_ns: int, market_open: bool | None
    ) -> Reason | None:
        if market_open is False:
            return reason(ReasonCode.MARKET_CLOSED_BLOCK, symbol=intent.symbol)
        return None

    def _gate_stale(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        return self._prices.stale(intent, now_ns)

    def _gate_size(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        return self._prices.size(intent)

    def _gate_collar(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        scale = self.collar_scale(intent.symbol, reducing=self._reducing)
        why = self._prices.collar(intent, now_ns, scale)
        if why is None:
            return None
        symbol = intent.symbol
        self._collar_blocks.add(symbol, now_ns)
        count = self._collar_blocks.count(symbol, now_ns)
        limit = self._config.max_collar_blocks
        if count <= limit or symbol in self._disabled:
            return why
        disable = reason(
            ReasonCode.PRICE_COLLAR_DISABLE,
            symbol=symbol,
            count=count,
            limit=limit,
            window_s=self._config.collar_block_window_s,
            check=why.context.get("check"),
            value_bps=why.context.get("value_bps"),
            limit_bps=why.context.get("limit_bps"),
        )
        self._disable(symbol, disable)
        return disable

    def _gate_duplicate(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        """The same content again within the window. A client order id used before is the
        order manager's one check (its ledger holds every id ever journaled)."""
        cid = intent.client_order_id
        earlier = self._dupes.content(_content_key(intent), now_ns)
        if earlier is not None:
            submitted_ns, first_cid = earlier
            return reason(
                ReasonCode.DUPLICATE_ORDER_BLOCK,
                symbol=intent.symbol,
                by="content",
                client_order_id=cid,
                first_client_order_id=first_cid,
                side=intent.side.value,
                qty=str(intent.qty),
                bar_ts_ns=intent.bar_ts_ns,
                age_s=(now_ns - submitted_ns) / NS_PER_S,
                window_s=self._config.duplicate_window_s,
            )
        return None

    def _gate_rate(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        count = self._orders.count(now_ns) + 1
        if count > self._config.max_orders_per_min:
            return _rate_block("global", count, self._config.max_orders_per_min, intent.symbol)
        count = self._symbol_orders.count(intent.symbol, now_ns) + 1
        if count > self._config.max_orders_per_symbol_per_min:
            limit = self._config.max_orders_per_symbol_per_min
            return _rate_block("symbol", count, limit, intent.symbol)
        return None

    def _gate_cancel_loop(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        bars_left = self._cancel_loop.bars_left(intent.symbol, self._prices.bars(intent.symbol))
        if bars_left > 0:
            return reason(
                ReasonCode.CANCEL_LOOP_BLOCK,
                symbol=intent.symbol,
                bars_left=bars_left,
                max_cancels=self._config.cancel_loop_max_cancels,
                block_bars=self._config.cancel_loop_block_bars,
            )
        return None

    def _gate_executions(self, intent: OrderIntent, now_ns: int, _: bool | None) -> Reason | None:
        symbol = intent.symbol
        count = self._executions.count(symbol, now_ns) + 1
        if count <= self._config.max_executions:
            return None
        why = reason(
            ReasonCode.EXECUTION_THROTTLE_DISABLE,
            symbol=symbol,
            count=count,
            limit=self._config.max_executions,
            window_s=self._config.executions_window_s,
        )
        self._disable(symbol, why)
        return why

    def collar_scale(self, symbol: str, *, reducing: bool) -> float:
        """What the collars of an order in ``symbol`` are multiplied by: the liquidity
        regime's ``collar_mult`` for an order adding exposure, 1 for one that reduces."""
        mult = self.collar_mult
        return 1.0 if mult is None or reducing else mult(symbol)

    def disable_symbol(self, symbol: str, why: Reason) -> None:
        """Disable ``symbol`` for new risk from outside the gates (the data contract's
        halt_symbol jump policy), as a gate of its own would: persisted, until resumed."""
        self._disable(symbol, why)

    def _disable(self, symbol: str, why: Reason) -> None:
        self._disabled.add(symbol)
        logger.warning("pretrade: symbol {} disabled until a person re-enables it: {}", symbol, why)
        if self._on_disable is not None:
            self._on_disable(symbol, why)

    # -- bookkeeping the OMS reports -------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """A bar that passed the data contract: last close, close time, window, bar count."""
        self._prices.on_bar(bar)

    def on_submitted(self, intent: OrderIntent) -> None:
        """After the INTENT is journaled: counts toward duplicates, rates and executions
        (whatever the venue answers, as UNKNOWN orders count against limits too)."""
        now_ns = self._clock.now_ns()
        self._dupes.add(intent.client_order_id, _content_key(intent), now_ns)
        self._orders.add(now_ns)
        self._symbol_orders.add(intent.symbol, now_ns)
        if intent.exit_role is None:  # a protective leg follows its entry: not a new trade
            self._executions.add(intent.symbol, now_ns)

    def cancel_allowed(self) -> Reason | None:
        """For cancel/replace only: a RATE_THROTTLE_BLOCK (scope="cancels") when one more
        cancel would exceed ``max_cancels_per_min``. Never consulted for kill, cancel-all or
        risk-reducing cancels, which must always go out."""
        count = self._cancels.count(self._clock.now_ns()) + 1
        if count > self._config.max_cancels_per_min:
            return _rate_block("cancels", count, self._config.max_cancels_per_min, None)
        return None

    def on_cancel(self, symbol: str) -> None:
        """A cancel was sent: counts toward cancels/min and the symbol's cancel-loop streak."""
        self._cancels.add(self._clock.now_ns())
        if self._cancel_loop.on_cancel(symbol, self._prices.bars(symbol)):
            logger.warning(
                "pretrade: {} blocked for {} bars after {} cancels without a fill",
                symbol,
                self._config.cancel_loop_block_bars,
                self._config.cancel_loop_max_cancels,
            )

    def on_fill(self, fill: Fill) -> None:
        """A fill ends the symbol's cancel-without-fill streak."""
        self._cancel_loop.on_fill(fill.symbol)

    def enable_symbol(self, symbol: str) -> None:
        """A person re-enabled ``symbol``: its execution and collar-block counts start again
        from zero (or the very next order would disable it again)."""
        self._disabled.discard(symbol)
        self._executions.clear(symbol)
        self._collar_blocks.clear(symbol)

    def reference_price(self, intent: OrderIntent) -> Decimal:
        """The price the size and collar gates judge ``intent`` at (``limit_price``, else
        ``arrival_price``, else the last close); the quote gate's protection price is
        measured from it."""
        return self._prices.reference_price(intent)

    # -- status ----------------------------------------------------------------------------

    def disabled(self) -> set[str]:
        return set(self._disabled)

    @property
    def canary_active(self) -> bool:
        return bool(self._canary)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state for ``quantbot status`` and the records."""
        now_ns = self._clock.now_ns()
        symbols = dict.fromkeys([*self._configured, *self._prices.symbols(), *self._disabled])
        return {
            "canary_active": self.canary_active,
            "canary_symbols": list(self._config.canary_symbols),
            "allowed_symbols": list(self._config.allowed_symbols),
            "disabled_symbols": sorted(self._disabled),
            "orders_last_min": self._orders.count(now_ns),
            "cancels_last_min": self._cancels.count(now_ns),
            "symbols": {symbol: self._symbol_snapshot(symbol, now_ns) for symbol in symbols},
        }

    def _symbol_snapshot(self, symbol: str, now_ns: int) -> dict[str, Any]:
        return {
            **self._prices.symbol_snapshot(symbol, now_ns),
            "orders_last_min": self._symbol_orders.count(symbol, now_ns),
            "executions_in_window": self._executions.count(symbol, now_ns),
            "cancels_since_fill": self._cancel_loop.streak(symbol),
            "cancel_loop_bars_left": self._cancel_loop.bars_left(symbol, self._prices.bars(symbol)),
            "disabled": symbol in self._disabled,
        }


def _content_key(intent: OrderIntent) -> ContentKey:
    # Decimal("1") == Decimal("1.0") and they hash alike: 1 and 1.0 shares are one content.
    # A position's exit legs (a stop and a take-profit of the same size) are not each other's
    # duplicates: the role is part of the content (None for every other order).
    return (intent.symbol, intent.side._value_, intent.qty, intent.bar_ts_ns, intent.exit_role)


def _rate_block(scope: str, count: int, limit: int, symbol: str | None) -> Reason:
    context: dict[str, Any] = {"scope": scope, "count": count, "limit": limit}
    if symbol is not None:
        context["symbol"] = symbol
    return reason(ReasonCode.RATE_THROTTLE_BLOCK, **context, window_s=RATE_WINDOW_S)


def _validate(config: PretradeConfig, configured_symbols: list[str]) -> None:
    """A canary that can trade nothing is a configuration mistake, not a quiet no-op."""
    configured = set(configured_symbols)
    for symbol in config.canary_symbols:
        if symbol not in configured:
            raise ConfigError(
                f"pretrade.canary_symbols: {symbol!r} is not in market.symbols {sorted(configured)}"
            )
        if config.allowed_symbols and symbol not in config.allowed_symbols:
            raise ConfigError(
                f"pretrade.canary_symbols: {symbol!r} is not in pretrade.allowed_symbols "
                f"{list(config.allowed_symbols)}"
            )
