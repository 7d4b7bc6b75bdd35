"""The order's liquidity caps: the THIN regime's maximum order value and the participation
cap, applied by the decision step to the quantity it is about to order.

In this order, on an order of ``qty`` (whole lots) at ``price``:

1. THIN regime (``quantbot.risk.liquidity``), entries only: an order worth more than
   ``thin_max_order_usd`` is cut to it, ``LIQ_REGIME_THIN_SCALE`` (a clamp); cut to less than
   a lot, it is blocked with that code.
2. Participation cap = ``max_participation`` x the mean bar volume of the last
   ``liq_lookback_bars`` bars, in whole lots. Above it:
   - an entry with ``participation_mode = "block"``: blocked, ``LIQ_PARTICIPATION_BLOCK``;
   - an entry with ``"scale"``: cut to the cap, ``LIQUIDITY_PARTICIPATION_CLAMP``, unless the
     cap is less than ``min_scale`` of the order (or less than a lot): then blocked,
     ``LIQ_PARTICIPATION_BLOCK``;
   - an order that only reduces a position is never blocked: it is cut to the cap (the rest
     follows on the next bars, as every cut order's does).

"Entry" is every order that adds exposure (new, scale-in, the rest of a cut entry).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Instrument
from quantbot.risk.liquidity import LiquidityRegimes


@attrs.define(slots=True)  # built on every bar past the deadband: not frozen (issue 23)
class Capped:
    """The quantity that may go (``blocked`` None), or why nothing goes; ``clamps`` are the
    record's clamp entries for the cuts applied."""

    qty: Decimal
    clamps: tuple[dict[str, Any], ...] = ()
    blocked: Reason | None = None


def cap_order(
    regimes: LiquidityRegimes,
    *,
    symbol: str,
    qty: Decimal,
    price: float,
    reducing: bool,
    instrument: Instrument,
) -> Capped:
    """The caps of the module docstring on ``qty`` of ``symbol`` at ``price``."""
    if not qty:
        return Capped(qty)
    p = regimes.params
    clamps: list[dict[str, Any]] = []
    if not reducing and regimes.thin(symbol):
        most = instrument.round_qty(p.thin_max_order_usd / price)
        if qty > most:
            score = regimes.reading(symbol)["score"]
            why = reason(
                ReasonCode.LIQ_REGIME_THIN_SCALE,
                wanted=str(qty),
                cap=str(most),
                max_order_usd=p.thin_max_order_usd,
                score=score,
            )
            if most < instrument.lot_size:
                return Capped(qty, tuple(clamps), why)
            clamps.append(why.to_record())
            qty = most
    volume = regimes.rolling_volume(symbol) or 0.0
    cap = instrument.round_qty(volume * p.max_participation)
    if qty <= cap:
        return Capped(qty, tuple(clamps))
    if reducing:
        clamps.append(_clamp(qty, cap))
        return Capped(cap, tuple(clamps))
    block = p.participation_mode == "block"
    if block or cap < instrument.lot_size or cap < qty * Decimal(str(p.min_scale)):
        why = reason(
            ReasonCode.LIQ_PARTICIPATION_BLOCK,
            wanted=str(qty),
            cap=str(cap),
            volume=round(volume, 4),
            max_participation=p.max_participation,
            mode=p.participation_mode,
            **({} if block else {"min_scale": p.min_scale}),
        )
        return Capped(qty, tuple(clamps), why)
    clamps.append(_clamp(qty, cap))
    return Capped(cap, tuple(clamps))


def _clamp(qty: Decimal, cap: Decimal) -> dict[str, Any]:
    return reason(
        ReasonCode.LIQUIDITY_PARTICIPATION_CLAMP, wanted=str(qty), cap=str(cap)
    ).to_record()
