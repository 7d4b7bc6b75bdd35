"""What the rest of the daemon takes from each TCA record (``analytics.tca``).

- ``fill_line``: the decision record's fill summary and TCA, as a later line of the decision
  records file: ``{"event": "ORDER_FILLED", "for_decision": <decision_id>,
  "client_order_id": ..., "fill": {...}, "tca": {...}}``, one each time an order's fills
  change (``partial``, ``filled``) and when an order with fills is canceled. The last line
  for an order is its final picture. It names its decision in ``for_decision``, not
  ``decision_id``: a line with ``decision_id`` is a decision, for every reader of the file.
- ``is_sample``: a TCA sample is a filled order's final record (``filled``, or ``canceled``
  with fills) that measured implementation shortfall, the evidence post-trade learning and
  the allocation count.
- ``TcaFreshness``: ``tca.block_trading_if_tca_stale``. Entries are refused with
  TCA_STALE_BLOCK while the newest sample is older than ``tca.stale_after_s`` on the run's
  clock (counted from the run's start while there is none); an order that only reduces is
  never blocked, and its fills are samples that make TCA fresh again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.domain.reasons import Reason, ReasonCode, reason

FILLED_EVENT = "ORDER_FILLED"
_FILL_FIELDS = ("status", "qty", "filled_qty", "fills", "fill_vwap", "notional", "fees",
                "first_fill_ts", "partial", "was_partial")  # fmt: skip
_TCA_FIELDS = (
    "arrival_benchmark", "arrival_price", "quote", "quote_source", "quote_ts", "quote_missing",
    "spread_source", "proxy_source", "proxy_price", "quoted_spread_bps", "spread_paid_bps",
    "is_bps", "is_cost", "fees_bps", "total_cost_bps", "fill_latency_ms",
)  # fmt: skip
_FILL_STATUSES = frozenset({"partial", "filled", "canceled"})
_SAMPLE_STATUSES = frozenset({"filled", "canceled"})


def fill_line(record: dict[str, Any]) -> dict[str, Any] | None:
    """The ORDER_FILLED fields for ``record``, or None when its fills did not change."""
    if record["status"] not in _FILL_STATUSES or not record["fills"]:
        return None
    return {
        "for_decision": record["decision_id"],
        "client_order_id": record["client_order_id"],
        "symbol": record["symbol"],
        "side": record["side"],
        "sleeve": record["sleeve"],
        "fill": _plains(record, _FILL_FIELDS),
        "tca": _plains(record, _TCA_FIELDS),
    }


def _plains(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``{k: _plain(record[k])}`` with the common plain values (None, str, numbers) passed
    through without a call: a fill's line reads 26 of them."""
    out = {}
    for k in keys:
        value = record[k]
        kind = value.__class__
        if kind is Decimal:
            value = str(value)
        elif not (value is None or kind is str or kind is int or kind is float or kind is bool):
            value = _plain(value)
        out[k] = value
    return out


def _plain(value: Any) -> Any:
    """JSON as the TCA file writes it (a Decimal as its string): the records' views (status,
    dashboard) take each line as plain JSON."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def is_sample(record: dict[str, Any]) -> bool:
    return record["status"] in _SAMPLE_STATUSES and record["is_bps"] is not None


class TcaFreshness:
    """See the module docstring. ``on_record`` is a TCA listener; ``block`` is asked by the
    order desk for each intent (``entry``: the decision's entry, None when it only reduces)."""

    def __init__(self, clock: Clock, stale_after_s: float) -> None:
        self._clock = clock
        self._max_ns = int(stale_after_s * NS_PER_S)
        self._stale_after_s = stale_after_s
        self._since_ns = clock.now_ns()  # no sample yet: counted from the start
        self._sampled = False

    def on_record(self, record: dict[str, Any]) -> None:
        if is_sample(record):
            self._since_ns, self._sampled = self._clock.now_ns(), True

    def block(self, entry: Any) -> Reason | None:
        if entry is None:
            return None
        age_ns = self._clock.now_ns() - self._since_ns
        if age_ns <= self._max_ns:
            return None
        return reason(
            ReasonCode.TCA_STALE_BLOCK,
            age_s=age_ns / NS_PER_S,
            stale_after_s=self._stale_after_s,
            last_sample=iso_utc(self._since_ns) if self._sampled else None,
            counted_from="last_sample" if self._sampled else "start",
        )
