"""When Binance's conditional orders trigger, for the loopback books (spot and USD-M futures).

One rule per kind, applied to a price range (a closed candle's low..high, or the last price
at placement, where an order that would trigger at once is refused):

- stop kinds (spot STOP_LOSS / STOP_LOSS_LIMIT, futures STOP / STOP_MARKET) trigger when the
  market trades at or through the stop against the order's side: a SELL when the price
  falls to the stop, a BUY when it rises to it;
- take-profit kinds (TAKE_PROFIT / TAKE_PROFIT_LIMIT / TAKE_PROFIT_MARKET) the other way;
- TRAILING_STOP_MARKET follows the best price since it became active (placement, or its
  activation price once traded) by ``callbackRate`` percent and triggers when the market
  comes back that far. On a candle the stop as it stood before the candle is checked
  against the candle's range first; then the stop follows the candle's best price and the
  close is checked against it (the price came back after making that best).

Kinds that turn into a LIMIT once triggered (``LIMIT_ON_TRIGGER``) then match as a resting
limit at their price; the others fill at the stop, or at the candle's open when the market
opened beyond it (a gap).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

STOP_KINDS = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "STOP", "STOP_MARKET"})
TAKE_PROFIT_KINDS = frozenset({"TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "TAKE_PROFIT_MARKET"})
TRAILING = "TRAILING_STOP_MARKET"
CONDITIONAL = STOP_KINDS | TAKE_PROFIT_KINDS | {TRAILING}
LIMIT_ON_TRIGGER = frozenset({"STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP", "TAKE_PROFIT"})
_HUNDRED = Decimal(100)


def falls_to(kind: str, side: str) -> bool:
    """True when ``kind`` on ``side`` triggers as the price falls (a SELL stop, a BUY
    take-profit); False when it triggers as the price rises."""
    return (kind in TAKE_PROFIT_KINDS) == (side == "BUY")


def crossed(kind: str, side: str, stop: Decimal, low: Decimal, high: Decimal) -> bool:
    """Whether trading over ``low..high`` reaches ``stop`` for this kind and side."""
    return low <= stop if falls_to(kind, side) else high >= stop


def fill_price(kind: str, side: str, stop: Decimal, open_: Decimal) -> Decimal:
    """Where a market order made by triggering at ``stop`` fills: at the stop, or at the
    candle's open if the market opened beyond it already."""
    return min(stop, open_) if falls_to(kind, side) else max(stop, open_)


def trailing_stop(side: str, best: Decimal, rate_pct: Decimal, tick: Decimal) -> Decimal:
    """The stop a trailing order on ``side`` holds ``rate_pct`` percent behind ``best``."""
    offset = best * rate_pct / _HUNDRED
    raw = best - offset if side == "SELL" else best + offset
    return (raw / tick).quantize(Decimal(1), ROUND_HALF_EVEN) * tick


def better(side: str, best: Decimal, low: Decimal, high: Decimal) -> Decimal:
    """The best price for a trailing order on ``side`` after a candle over ``low..high``."""
    return max(best, high) if side == "SELL" else min(best, low)
